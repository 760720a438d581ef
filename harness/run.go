package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/rundir"
	"github.com/faultline/faultline/workloads"
)

// Env is what a run is given besides its Spec.
type Env struct {
	DB DB
	// NewClient makes the store's client for one logical process: the store
	// adapter's client factory (sut/kvnode, ...).
	NewClient ClientFactory
	// Cluster injects faults; nil when the backend cannot (then the spec
	// must have no nemesis).
	Cluster nemesis.Cluster
	RunID   string
	Logger  *slog.Logger
	// Progress receives the live progress line (usually os.Stderr).
	Progress io.Writer
}

// Outcome summarizes a finished run.
type Outcome struct {
	Name     string
	Dir      string
	Results  checker.Results
	Ops      int
	OK       int
	Fail     int
	Info     int
	ExitCode int
	// Interrupted is set when the run was cancelled before it finished.
	Interrupted bool
}

// Run executes one test: set up → main phase (workers + nemesis) → heal →
// recovery wait → final reads → convergence → logs → tear down → check →
// report. Faults are healed and the cluster torn down on every path out of
// Run, including cancellation of ctx (Ctrl-C) and a panic.
func Run(ctx context.Context, spec Spec, env Env) (out Outcome, err error) {
	if err := spec.Validate(); err != nil {
		return Outcome{ExitCode: ExitBadArgs}, err
	}
	wl, _ := workloads.ByName(spec.Workload)
	if len(spec.Nemesis) > 0 && env.Cluster == nil {
		return Outcome{ExitCode: ExitBadArgs}, Usagef("this backend cannot inject faults: use --nemesis none")
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	progressOut := env.Progress
	if progressOut == nil {
		progressOut = io.Discard
	}

	start := time.Now()
	dir, err := rundir.Create(spec.Store, spec.Name, start)
	if err != nil {
		return Outcome{ExitCode: ExitInternal}, err
	}
	out = Outcome{Name: spec.Name, Dir: dir, ExitCode: ExitInternal}
	rec, err := history.NewRecorder(filepath.Join(dir, rundir.HistoryFile))
	if err != nil {
		return out, err
	}
	defer rec.Close()

	record, err := testRecord(spec, start, env.DB.Nodes(), env.RunID)
	if err != nil {
		return out, err
	}
	if err := rundir.WriteTest(dir, record); err != nil {
		return out, err
	}
	fmt.Fprintf(progressOut, "run %s: seed %d, store %s\n", spec.Name, spec.Seed, dir)

	var nem *nemesis.Nemesis
	var healOnce sync.Once
	heal := func() {
		healOnce.Do(func() {
			if nem == nil {
				return
			}
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			t0 := time.Now()
			if herr := nem.HealAll(hctx); herr != nil {
				log.Error("heal faults", "err", herr)
			}
			record.TimingsMillis["heal"] = time.Since(t0).Milliseconds()
		})
	}
	var teardownOnce sync.Once
	teardown := func() {
		teardownOnce.Do(func() {
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			heal()
			if cerr := env.DB.CollectLogs(tctx, filepath.Join(dir, rundir.NodesDir)); cerr != nil {
				log.Warn("collect node logs", "err", cerr)
			}
			if spec.KeepCluster {
				fmt.Fprintf(progressOut, "keeping the cluster (--keep-cluster): remove it with `faultline cleanup --run %s`\n", env.RunID)
				return
			}
			t0 := time.Now()
			if terr := env.DB.Teardown(tctx); terr != nil {
				log.Error("tear down", "err", terr)
			}
			record.TimingsMillis["teardown"] = time.Since(t0).Milliseconds()
		})
	}
	defer func() {
		if p := recover(); p != nil {
			teardown()
			err = fmt.Errorf("harness panic: %v\n%s", p, debug.Stack())
			out.ExitCode = ExitInternal
		}
	}()
	defer teardown()

	// Phase: set up and wait until healthy.
	t0 := time.Now()
	if err := env.DB.Setup(ctx); err != nil {
		return out, fmt.Errorf("set up cluster: %w", err)
	}
	record.TimingsMillis["setup"] = time.Since(t0).Milliseconds()

	if len(spec.Nemesis) > 0 {
		nem, err = nemesis.New(env.Cluster, rec, nemesis.Options{
			Faults: spec.Nemesis, Interval: spec.NemesisInterval, Seed: spec.Seed, Logger: log,
		})
		if err != nil {
			return out, err
		}
	}

	// Phase: main. Workers and nemesis share one deadline.
	counts := &counters{}
	t0 = time.Now()
	stopWatch := watchLeaders(ctx, env.DB, rec.Now)
	interrupted := runMain(ctx, spec, env, log, wl, rec, nem, counts, progressOut)
	record.TimingsMillis["main"] = time.Since(t0).Milliseconds()
	out.Interrupted = interrupted

	// Phase: heal, then wait for the cluster to serve again.
	heal()
	var replicas []checker.ReplicaState
	if !interrupted {
		rctx, cancel := context.WithTimeout(ctx, spec.RecoveryTimeout)
		recovery, rerr := waitServing(rctx, env, env.RunID)
		cancel()
		if rerr != nil {
			log.Warn("cluster did not serve again after healing", "err", rerr)
		}
		record.TimingsMillis["recovery"] = recovery.Milliseconds()

		fctx, cancel := context.WithTimeout(ctx, spec.RecoveryTimeout)
		finalReads(fctx, spec, env, wl, rec)
		cancel()

		cctx, cancel := context.WithTimeout(ctx, spec.RecoveryTimeout)
		replicas = convergence(cctx, env.DB)
		cancel()
		if err := rundir.WriteJSON(filepath.Join(dir, rundir.ReplicasFile), replicas); err != nil {
			log.Warn("write replica states", "err", err)
		}
	}
	leaders := stopWatch()
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.LeadersFile), leaders); err != nil {
		log.Warn("write leader sightings", "err", err)
	}
	if ctx.Err() != nil {
		out.Interrupted = true
	}
	teardown()
	if err := rundir.WriteTest(dir, record); err != nil {
		log.Warn("rewrite test.json", "err", err)
	}
	if err := rec.Close(); err != nil {
		return out, fmt.Errorf("write history: %w", err)
	}

	// Phase: check and report. These do not depend on the cluster.
	h := rec.History()
	in := checker.Input{History: h, Replicas: replicas, Leaders: leaders, CheckTimeout: spec.CheckTimeout}
	if dropped := rec.Dropped(); dropped > 0 {
		in.Truncated = fmt.Sprintf("history limit of %d ops reached; %d ops not recorded", history.DefaultMaxOps, dropped)
	}
	out.Results = checker.Run(context.WithoutCancel(ctx), in, runCheckers(wl, leaders)...)
	if out.Interrupted && out.Results.Verdict == checker.Valid {
		out.Results.Verdict = checker.Unknown
		out.Results.Reason = "the run was interrupted before it finished; what was recorded is consistent"
	}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.ResultsFile), out.Results); err != nil {
		return out, err
	}
	if err := reports.WriteRun(dir, reports.WriteOptions{Model: wl.Model()}); err != nil {
		log.Warn("write report", "err", err)
	}
	if err := reports.WriteIndex(spec.Store); err != nil {
		log.Warn("write store index", "err", err)
	}
	for _, p := range h.ClientPairs() {
		out.Ops++
		switch p.Outcome() {
		case history.OK:
			out.OK++
		case history.Fail:
			out.Fail++
		default:
			out.Info++
		}
	}
	out.ExitCode = ExitCode(out.Results.Verdict)
	if out.Interrupted {
		return out, ErrInterrupted
	}
	return out, nil
}

// ErrInterrupted is returned when the run was cancelled (Ctrl-C). Everything
// was still healed, torn down and recorded.
var ErrInterrupted = errors.New("run interrupted: faults healed, cluster removed, partial history checked")

// runMain drives workers and the nemesis until the time limit or ctx ends. It
// reports whether ctx was cancelled (as opposed to the time limit passing).
func runMain(ctx context.Context, spec Spec, env Env, log *slog.Logger, wl workloads.Workload, rec *history.Recorder,
	nem *nemesis.Nemesis, counts *counters, progressOut io.Writer) bool {
	mainCtx, cancel := context.WithTimeout(ctx, spec.TimeLimit)
	defer cancel()

	gen := &sharedGenerator{gen: wl.NewGenerator(rand.New(rand.NewSource(spec.Seed)), spec.OpsPerKey)}
	rate := newRateLimiter(spec.Rate)
	nodes := env.DB.Nodes()
	var wg sync.WaitGroup
	for i := 0; i < spec.Concurrency; i++ {
		node := nodes[i%len(nodes)]
		w := &worker{
			id: i, concurrency: spec.Concurrency, node: node, db: env.DB, newClient: env.NewClient,
			runID: env.RunID, timeout: spec.RequestTimeout, workload: wl, gen: gen,
			rate: rate, rec: rec, counts: counts,
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(mainCtx)
		}()
	}
	if nem != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := nem.Run(mainCtx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				log.Error("nemesis", "err", err)
			}
		}()
	}
	p := &progress{out: progressOut, tty: IsTerminal(progressOut), total: spec.TimeLimit, counts: counts}
	if nem != nil {
		p.fault = nem.Active
	}
	pctx, pcancel := context.WithCancel(context.Background())
	pdone := make(chan struct{})
	go func() { p.run(pctx); close(pdone) }()
	wg.Wait()
	pcancel()
	<-pdone
	return ctx.Err() != nil
}

// IsTerminal reports whether w is a terminal, where progress lines are
// rewritten in place rather than printed one after another.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}
