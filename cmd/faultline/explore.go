package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/campaign"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
)

// nightlyFlags are the suite's flags for unattended (nightly) use.
type nightlyFlags struct {
	explore  bool
	budget   time.Duration
	failFast bool
	junit    string
	keepLast int
}

func bindNightlyFlags(cmd *cobra.Command, n *nightlyFlags) {
	fl := cmd.Flags()
	fl.BoolVar(&n.explore, "explore", false, "draw random configurations from the master seed (--seed) until --budget is spent")
	fl.DurationVar(&n.budget, "budget", 20*time.Minute, "with --explore: wall-clock time for all runs (no run starts that cannot finish in it)")
	fl.BoolVar(&n.failFast, "fail-fast", false, "stop after the first invalid run")
	fl.StringVar(&n.junit, "junit", "", "write a JUnit XML report to this file (one test case per run)")
	fl.IntVar(&n.keepLast, "keep-last", 0, "after each run delete the oldest run directories beyond this many, keeping invalid ones (0 = keep all)")
}

// exploreDrawnFlags are spec flags --explore draws itself; giving one is a
// usage error rather than silently ignored.
var exploreDrawnFlags = []string{"nodes", "time-limit", "nemesis-interval", "workload"}

func (n nightlyFlags) validate(cmd *cobra.Command) error {
	if n.keepLast < 0 {
		return harness.Usagef("--keep-last %d: give 0 (keep all) or a positive number of runs", n.keepLast)
	}
	if n.junit != "" {
		if fi, err := os.Stat(n.junit); err == nil && fi.IsDir() {
			return harness.Usagef("--junit %s is a directory: give a file name, e.g. --junit %s", n.junit, filepath.Join(n.junit, "junit.xml"))
		}
		if err := requireWritableDir("--junit", filepath.Dir(n.junit)); err != nil {
			return err
		}
	}
	if !n.explore {
		if cmd.Flags().Changed("budget") {
			return harness.Usagef("--budget only applies with --explore")
		}
		return nil
	}
	if n.budget <= 0 {
		return harness.Usagef("--budget %v: give a positive duration, e.g. --budget 20m", n.budget)
	}
	if cmd.Flags().Changed("keep-cluster") {
		return harness.Usagef("--keep-cluster cannot be used with --explore: every run would leave its cluster running")
	}
	for _, name := range exploreDrawnFlags {
		if cmd.Flags().Changed(name) {
			return harness.Usagef("--%s is drawn by --explore: remove it (use --workloads and --nemeses to narrow the pools)", name)
		}
	}
	return nil
}

// exploreSpace turns --workloads and --nemeses into the pools --explore draws
// from. Unchanged flags mean every workload and every fault of "all".
func exploreSpace(cmd *cobra.Command, workloadList, nemesisList string) (campaign.ExploreSpace, error) {
	space := campaign.DefaultExploreSpace()
	if cmd.Flags().Changed("workloads") {
		space.Workloads = nil
		for _, w := range strings.Split(workloadList, ",") {
			if w = strings.TrimSpace(w); w != "" {
				space.Workloads = append(space.Workloads, w)
			}
		}
	}
	if cmd.Flags().Changed("nemeses") {
		want := map[string]bool{}
		for _, entry := range campaign.ParseNemesisMatrix(nemesisList) {
			faults, err := nemesis.ParseFaults(entry)
			if err != nil {
				return space, &harness.UsageError{Err: fmt.Errorf("--nemeses entry %q: %w", entry, err)}
			}
			for _, f := range faults {
				want[f] = true
			}
		}
		space.Faults = nil
		for _, k := range nemesis.Kinds {
			if want[k] {
				space.Faults = append(space.Faults, k)
			}
		}
		space.NoFaults = len(space.Faults) == 0
	}
	return space, space.Validate()
}

func runExplore(cmd *cobra.Command, base harness.Spec, workloadList, nemesisList string, n nightlyFlags) error {
	space, err := exploreSpace(cmd, workloadList, nemesisList)
	if err != nil {
		return err
	}
	if err := base.Validate(); err != nil {
		return err
	}
	store, err := lookupSUT(base.SUT)
	if err != nil {
		return err
	}
	if !cmd.Flags().Changed("nemeses") {
		// The default pool, less what the store cannot do.
		space.Faults = slices.DeleteFunc(space.Faults, func(k string) bool { return slices.Contains(store.notInAll, k) })
	}
	if err := store.checkFaults(space.Faults); err != nil {
		return err
	}
	space.SampleNode = store.sampleNode
	ctx := cmd.Context()
	image, err := buildImage(ctx, store)
	if err != nil {
		writeEmptyJUnit(n.junit, err)
		return &exitError{code: harness.ExitInternal, err: err}
	}
	defer releaseImage(ctx)
	lg, err := campaign.Explore(ctx, campaign.ExploreOptions{
		Base: base, Space: space, MasterSeed: base.Seed, Budget: n.budget, FailFast: n.failFast,
		KeepLast: n.keepLast, Out: os.Stdout, Logger: slog.Default(),
	}, dockerEnv(image, "", store))
	if lg != nil {
		fmt.Fprintln(os.Stdout)
		campaign.PrintExploreSummary(os.Stdout, lg)
		if n.junit != "" {
			jerr := campaign.WriteJUnit(n.junit, lg.SuiteRuns(), campaign.JUnitOptions{
				SuiteName:   "faultline explore",
				Start:       lg.Start,
				NoRunReason: lg.Stopped,
				Properties: map[string]string{
					"master_seed": fmt.Sprint(lg.MasterSeed), "budget": lg.Budget.String(), "log": lg.Path,
				},
			})
			if jerr != nil && err == nil {
				err = jerr
			} else if jerr == nil {
				fmt.Fprintf(os.Stdout, "junit: %s\n", n.junit)
			}
		}
	}
	if err != nil {
		if harness.IsUsage(err) {
			return err
		}
		return &exitError{code: harness.ExitInternal, err: err}
	}
	return &exitError{code: campaign.SuiteExitCode(lg.Results())}
}

// writeEmptyJUnit records a suite that could not start as a JUnit error, so
// a dashboard shows a broken nightly instead of a missing (or passing) one.
func writeEmptyJUnit(path string, cause error) {
	if path == "" {
		return
	}
	if err := campaign.WriteJUnit(path, nil, campaign.JUnitOptions{SuiteName: "faultline", NoRunReason: cause.Error()}); err != nil {
		slog.Error("write junit", "err", err)
	}
}
