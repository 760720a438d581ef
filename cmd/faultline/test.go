package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/campaign"
	"github.com/faultline/faultline/docker"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/rundir"
)

// specFlags binds the flags shared by test and suite to a Spec.
type specFlags struct {
	spec      harness.Spec
	nemesis   string
	nodeFlags string
	// runID names the run's containers; tests set it to find them.
	runID string
}

func bindSpecFlags(cmd *cobra.Command, f *specFlags) {
	f.spec = harness.DefaultSpec()
	fl := cmd.Flags()
	fl.StringVar(&f.spec.SUT, "sut", f.spec.SUT, "store under test: "+strings.Join(sutNames(), " or "))
	fl.StringVar(&f.spec.Workload, "workload", f.spec.Workload, "workload: register or set")
	fl.DurationVar(&f.spec.NemesisInterval, "nemesis-interval", f.spec.NemesisInterval, "mean time between fault starts")
	fl.IntVar(&f.spec.Nodes, "nodes", f.spec.Nodes, "number of node containers")
	fl.IntVar(&f.spec.Concurrency, "concurrency", f.spec.Concurrency, "number of concurrent logical clients")
	fl.Float64Var(&f.spec.Rate, "rate", f.spec.Rate, "overall ops/s limit (0 = as fast as possible)")
	fl.DurationVar(&f.spec.TimeLimit, "time-limit", f.spec.TimeLimit, "length of the main phase")
	fl.IntVar(&f.spec.OpsPerKey, "ops-per-key", f.spec.OpsPerKey, "ops per key before the generator moves to a fresh key")
	fl.Int64Var(&f.spec.Seed, "seed", 0, "seed for ops and faults (default: random, printed and stored)")
	fl.StringVar(&f.nodeFlags, "node-flags", "", "extra flags passed to every node, e.g. '--read-mode=local --election-timeout=2s' (quote a flag that holds a space)")
	fl.BoolVar(&f.spec.KeepCluster, "keep-cluster", false, "leave the containers running after the run (remove with 'faultline cleanup')")
	fl.StringVar(&f.spec.Store, "store", f.spec.Store, "directory for run results")
	fl.DurationVar(&f.spec.RequestTimeout, "request-timeout", f.spec.RequestTimeout, "client request timeout; past it an op is indeterminate")
	fl.DurationVar(&f.spec.RecoveryTimeout, "recovery-timeout", f.spec.RecoveryTimeout, "bound on waiting for the healed cluster to serve and converge")
	fl.DurationVar(&f.spec.CheckTimeout, "check-timeout", f.spec.CheckTimeout, "linearizability check timeout (past it the verdict is unknown)")
	fl.StringVar(&f.runID, "run-id", "", "label for the run's containers (default: generated)")
	_ = fl.MarkHidden("run-id")
}

// resolve fills what the flags leave open: seed, nemesis list, node flags.
func (f *specFlags) resolve(cmd *cobra.Command) error {
	store, err := lookupSUT(f.spec.SUT)
	if err != nil {
		return err
	}
	f.spec.SUTVersion = store.version()
	if !cmd.Flags().Changed("seed") {
		f.spec.Seed = randomSeed()
	}
	if f.spec.NodeFlags, err = harness.ParseNodeFlags(f.nodeFlags); err != nil {
		return harness.Usagef("--node-flags %q: %v: close it, or quote a flag that holds a space as \"--flag=a b\"", f.nodeFlags, err)
	}
	if err := store.validateFlags(f.spec.NodeFlags); err != nil {
		return err
	}
	if f.nemesis != "" {
		faults, err := parseFaultsFor(f.spec.SUTName(), f.nemesis)
		if err != nil {
			return &harness.UsageError{Err: fmt.Errorf("--nemesis: %w", err)}
		}
		f.spec.Nemesis = faults
	}
	if err := store.checkFaults(f.spec.Nemesis); err != nil {
		return err
	}
	if f.spec.Store != "" { // empty: Validate says so
		return requireWritableDir("--store", f.spec.Store)
	}
	return nil
}

// requireWritableDir creates dir if needed and checks that a file can be
// made in it, so a bad --store or --junit is refused as a usage error before
// the image is built and the runs start, rather than failing at the end.
func requireWritableDir(flag, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return harness.Usagef("%s %s: %v: choose a writable directory", flag, dir, err)
	}
	probe, err := os.CreateTemp(dir, ".faultline-probe-")
	if err != nil {
		return harness.Usagef("%s %s: %v: choose a writable directory", flag, dir, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

func randomSeed() int64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return time.Now().UnixNano()
	}
	return int64(binary.LittleEndian.Uint64(b[:]) >> 1)
}

func newRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "fl-" + time.Now().UTC().Format("20060102t150405") + "-" + hex.EncodeToString(b[:])
}

func newTestCommand() *cobra.Command {
	return testCommand(runTest)
}

// testCommand is `faultline test`: it parses the flags, resolves them into a
// valid Spec and hands them to run. Tests give it a run that keeps the Spec,
// to parse a command line exactly as faultline does without running a test.
func testCommand(run func(cmd *cobra.Command, f *specFlags) error) *cobra.Command {
	var f specFlags
	var name string
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Run one test against a kvnode cluster in Docker",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.resolve(cmd); err != nil {
				return err
			}
			f.spec.Name = name
			if err := f.spec.Validate(); err != nil {
				return err
			}
			return run(cmd, &f)
		},
	}
	bindSpecFlags(cmd, &f)
	cmd.Flags().StringVar(&f.nemesis, "nemesis", "none", "faults: comma list of "+strings.Join(nemesis.Kinds, ",")+", or all (the first five), or none")
	cmd.Flags().StringVar(&name, "name", "", "test name (default workload-nemesis)")
	return cmd
}

// runTest builds the store's image and runs the test f describes.
func runTest(cmd *cobra.Command, f *specFlags) error {
	ctx := cmd.Context()
	store, _ := lookupSUT(f.spec.SUT) // checked by resolve
	image, err := buildImage(ctx, store)
	if err != nil {
		return &exitError{code: harness.ExitInternal, err: err}
	}
	defer releaseImage(ctx)
	results := campaign.RunSuite(ctx, []harness.Spec{f.spec}, dockerEnv(image, f.runID, store))
	fmt.Fprintln(os.Stdout)
	campaign.PrintSummary(os.Stdout, results)
	printReportHint(results)
	return &exitError{code: campaign.SuiteExitCode(results)}
}

func printReportHint(results []campaign.SuiteResult) {
	for _, r := range results {
		if r.Outcome.Dir != "" {
			fmt.Fprintf(os.Stdout, "report: %s/index.html (seed %d)\n", r.Outcome.Dir, seedOf(r))
		}
	}
}

func seedOf(r campaign.SuiteResult) int64 {
	rec, err := rundir.ReadTest(r.Outcome.Dir)
	if err != nil {
		return 0
	}
	seed, _ := rec.Seed.Int64()
	return seed
}

// buildImage builds (or reuses) the store's node image. The process holds
// the image from here on; call releaseImage once it creates no more
// clusters.
func buildImage(ctx context.Context, store storeUnderTest) (string, error) {
	t0 := time.Now()
	fmt.Fprintf(os.Stderr, "building node image (static %s + faultline-agent, FROM scratch)...\n", store.name)
	tag, err := store.image(ctx)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "node image %s ready in %v\n", tag, time.Since(t0).Truncate(time.Millisecond))
	return tag, nil
}

// releaseImage ends this process's hold on the node image and, if it is the
// last faultline process on this host to finish, removes old node images no
// container uses, so repeated builds do not fill the disk. A process that is
// not the last leaves them: another run may be about to create containers
// from one, which the engine cannot see yet.
func releaseImage(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pruneTimeout)
	defer cancel()
	n, err := docker.PruneImages(ctx)
	switch {
	case errors.Is(err, docker.ErrImagesInUse):
		slog.Info("left old node images: another faultline process is using one")
	case err != nil:
		slog.Warn("remove old node images", "err", err)
	case n > 0:
		slog.Info("removed old node images", "count", n)
	}
}

// pruneTimeout bounds releaseImage; it runs after the verdict is known.
const pruneTimeout = 30 * time.Second

// dockerEnv returns a factory of per-run Docker clusters.
func dockerEnv(image, fixedRunID string, store storeUnderTest) func(harness.Spec) (harness.Env, func(), error) {
	return func(spec harness.Spec) (harness.Env, func(), error) {
		runID := fixedRunID
		if runID == "" {
			runID = newRunID()
		}
		// Held until the run is checked, so 'faultline cleanup' started
		// meanwhile leaves its containers alone.
		release, err := docker.HoldRun(runID)
		if err != nil {
			return harness.Env{}, nil, err
		}
		node, err := store.node(spec)
		if err != nil {
			release()
			return harness.Env{}, nil, err
		}
		c, err := docker.NewCluster(docker.ClusterOptions{
			RunID: runID, Nodes: spec.Nodes, Image: image, Node: node, Logger: slog.Default(),
		})
		if err != nil {
			release()
			return harness.Env{}, nil, err
		}
		env := harness.Env{DB: c, Cluster: c, NewClient: store.client, RunID: runID, Logger: slog.Default(), Progress: os.Stderr}
		return env, release, nil
	}
}
