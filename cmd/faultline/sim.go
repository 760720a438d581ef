package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/node/server"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/rundir"
	"github.com/faultline/faultline/sut/kvnode/sim"
	"github.com/faultline/faultline/workloads"
)

// simFlags are the flags of faultline sim.
type simFlags struct {
	seed        int64
	seeds       string
	budget      time.Duration
	workload    string
	nemesis     string
	nodes       int
	clients     int
	timeLimit   time.Duration
	rate        float64
	unsafe      string
	readMode    string
	store       string
	name        string
	workers     int
	keep        string
	keepMax     int
	stopAtFirst bool
	runTimeout  time.Duration
	explore     bool
	digests     bool
}

// Keep policies of a sweep (--keep): which runs get a run directory.
const (
	keepAll     = "all"
	keepFailing = "failing"
	keepNone    = "none"
)

// printedFailures bounds the failing seeds a sweep prints as they happen
// (the summary and the sweep file list them all).
const printedFailures = 5

// defaultSimTimeLimit is the simulated length of a run's main phase.
const defaultSimTimeLimit = 30 * time.Second

func newSimCommand() *cobra.Command {
	var f simFlags
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run kvnode's own code in a deterministic simulation: one seed, or a sweep of thousands",
		Long: `Run a whole kvnode cluster in one process under a simulated network, clock
and disk. A run is a pure function of its seed: --seed N replays it exactly,
byte for byte. Faults can land between any two steps of a node, and a crash
loses what the simulated disk had not fsynced.

One seed (--seed N, or a random one) writes a run directory with the same
history, checkers and report page as a container run, with simulated time on
the axes. A sweep (--seeds A-B, or --budget alone for random seeds until the
budget is spent) runs seeds on every core, shows progress, keeps the run
directories of failing seeds (--keep) and prints how to replay each.

Exit codes: 0 every run valid, 1 a run invalid, 2 unknown (a run undecided, or
the sweep interrupted before it checked every seed), 254 bad arguments, 255
a run crashed or stopped advancing.`,
		Example: `  faultline sim --seed 42
  faultline sim --seeds 1-10000 --nemesis all
  faultline sim --budget 60s --unsafe skip-fsync --stop-at-first`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, err := f.plan(cmd)
			if err != nil {
				return err
			}
			return runSim(cmd.Context(), plan, os.Stdout, os.Stderr)
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&f.seed, "seed", 0, "run (or replay) this one seed (default: a random seed, printed)")
	fl.StringVar(&f.seeds, "seeds", "", "sweep the seeds A-B (inclusive), e.g. 1-10000")
	fl.DurationVar(&f.budget, "budget", 0, "stop a sweep after this much wall time; alone, sweep random seeds until it is spent")
	fl.StringVar(&f.workload, "workload", "register", "workload: "+strings.Join(workloads.Names(), " or "))
	fl.StringVar(&f.nemesis, "nemesis", "all", "faults: comma list of "+strings.Join(sim.FaultKinds(), ",")+", or all, or none")
	fl.IntVar(&f.nodes, "nodes", 0, "cluster size (default 5)")
	fl.IntVar(&f.clients, "clients", 0, "concurrent clients (default 10)")
	fl.DurationVar(&f.timeLimit, "time-limit", defaultSimTimeLimit, "simulated length of the main phase")
	fl.Float64Var(&f.rate, "rate", 0, "clients' total ops per simulated second (default 100)")
	fl.StringVar(&f.unsafe, "unsafe", "", "unsafe switches every node runs with: comma list of "+strings.Join(server.UnsafeNames(), ","))
	fl.StringVar(&f.readMode, "read-mode", "", "the nodes' read mode: index or lease (default index)")
	fl.StringVar(&f.store, "store", "store", "directory for run results")
	fl.StringVar(&f.name, "name", "", "test name, the store directory of the runs (default sim-<workload>-<nemesis>)")
	fl.IntVar(&f.workers, "workers", runtime.GOMAXPROCS(0), "simulated runs side by side in a sweep")
	fl.StringVar(&f.keep, "keep", "", "run directories a sweep keeps: failing (the default), all or none; one seed always keeps its own")
	fl.IntVar(&f.keepMax, "keep-max", 20, "most failing run directories a sweep writes (the sweep file lists every failing seed)")
	fl.BoolVar(&f.stopAtFirst, "stop-at-first", false, "end a sweep at its first run that is not valid")
	fl.BoolVar(&f.explore, "explore", true, "draw the store's configuration from each seed (cluster size, read mode, timeouts, append and snapshot sizes, network speed, fault pace, the clients' id length) where no flag sets it, and for half of the seeds a focus on one to three of the fault kinds when more than three are asked for; --explore=false runs one fixed configuration with every kind asked for")
	fl.BoolVar(&f.digests, "digests", false, "record each seed's history digest (SHA-256 of its history.jsonl) in the sweep file, to compare two builds seed by seed")
	fl.DurationVar(&f.runTimeout, "run-timeout", 5*time.Minute, "wall time one simulated run may take before the node counts as stuck (exit 255)")
	return cmd
}

// simPlan is a checked faultline sim command line: the runs it asks for.
type simPlan struct {
	// base is the Config of every run but its seed: only what the command
	// line set, so that a run's draws are those its reproduce line repeats.
	base sim.Config
	// first..last are the seeds; sweep is false for a single run.
	first, last int64
	sweep       bool
	// open: --budget alone, seeds from first upward until it is spent.
	open        bool
	budget      time.Duration
	workers     int
	keep        string
	keepMax     int
	stopAtFirst bool
	runTimeout  time.Duration
	digests     bool
	store, name string
	// args are the flags that define a run, as the reproduce line gives
	// them after --seed.
	args []string
}

// plan checks the flags and turns them into a simPlan.
func (f *simFlags) plan(cmd *cobra.Command) (*simPlan, error) {
	changed := cmd.Flags().Changed
	p := &simPlan{budget: f.budget, workers: f.workers, keep: f.keep, keepMax: f.keepMax, stopAtFirst: f.stopAtFirst, digests: f.digests,
		runTimeout: f.runTimeout, store: f.store}
	switch {
	case changed("seed") && (changed("seeds") || changed("budget")):
		return nil, harness.Usagef("--seed runs one seed; drop it to sweep with --seeds or --budget")
	case changed("seeds"):
		a, b, err := parseSeedRange(f.seeds)
		if err != nil {
			return nil, harness.Usagef("--seeds %q: %v: give a range such as 1-10000", f.seeds, err)
		}
		p.first, p.last, p.sweep = a, b, true
	case changed("budget"):
		p.first, p.sweep, p.open = randomSeed()>>20, true, true
		p.last = p.first + 1<<40
	case changed("seed"):
		p.first, p.last = f.seed, f.seed
	default:
		p.first = randomSeed() >> 20
		p.last = p.first
	}
	switch {
	case changed("budget") && f.budget <= 0:
		return nil, harness.Usagef("--budget %v: give a positive duration such as 60s", f.budget)
	case f.workers < 1 || f.workers > 256:
		return nil, harness.Usagef("--workers %d: choose between 1 and 256", f.workers)
	case f.timeLimit < time.Second || f.timeLimit > time.Hour:
		return nil, harness.Usagef("--time-limit %v: choose between 1s and 1h of simulated time", f.timeLimit)
	case changed("nodes") && (f.nodes < 1 || f.nodes > 9):
		return nil, harness.Usagef("--nodes %d: choose between 1 and 9 nodes", f.nodes)
	case changed("clients") && (f.clients < 1 || f.clients > 1000):
		return nil, harness.Usagef("--clients %d: choose between 1 and 1000 clients", f.clients)
	case changed("rate") && f.rate <= 0:
		return nil, harness.Usagef("--rate %v: give a positive number of ops per simulated second", f.rate)
	case f.keepMax < 0:
		return nil, harness.Usagef("--keep-max %d: must be >= 0", f.keepMax)
	case f.runTimeout <= 0:
		return nil, harness.Usagef("--run-timeout %v: give a positive duration such as 5m", f.runTimeout)
	case f.store == "":
		return nil, harness.Usagef("--store must name a directory")
	}
	switch f.keep {
	case "":
		p.keep = keepFailing
	case keepAll, keepFailing, keepNone:
	default:
		return nil, harness.Usagef("--keep %q: choose failing, all or none", f.keep)
	}
	if !p.sweep && (changed("keep") || changed("keep-max") || changed("stop-at-first") || changed("workers")) {
		return nil, harness.Usagef("--keep, --keep-max, --stop-at-first and --workers shape a sweep: add --seeds A-B or --budget")
	}
	if _, err := workloads.ByName(f.workload); err != nil {
		return nil, harness.Usagef("--workload %q: %v (choose one of %s)", f.workload, err, strings.Join(workloads.Names(), ", "))
	}
	faults, err := parseSimFaults(f.nemesis)
	if err != nil {
		return nil, harness.Usagef("--nemesis %q: %v", f.nemesis, err)
	}
	unsafe, err := server.ParseUnsafeList(f.unsafe)
	if err != nil {
		return nil, harness.Usagef("--unsafe %q: %v", f.unsafe, err)
	}
	var readMode server.ReadMode
	if f.readMode != "" {
		if readMode, err = server.ParseReadMode(f.readMode); err != nil {
			return nil, harness.Usagef("--read-mode: %v", err)
		}
	}
	p.base = sim.Config{Workload: f.workload, Faults: faults, Duration: f.timeLimit,
		Nodes: f.nodes, Clients: f.clients, Rate: f.rate, Unsafe: unsafe, ReadMode: readMode, Explore: f.explore}

	nemesisName := "none"
	if len(faults) > 0 {
		nemesisName = strings.Join(faults, ",")
		all := sim.FaultKinds()
		slices.Sort(all)
		if slices.Equal(faults, all) {
			nemesisName = "all"
		}
	}
	p.name = f.name
	if p.name == "" {
		p.name = "sim-" + f.workload + "-" + strings.ReplaceAll(nemesisName, ",", "+")
	}
	if err := harness.ValidateName(p.name); err != nil {
		return nil, err
	}
	if err := requireWritableDir("--store", f.store); err != nil {
		return nil, err
	}

	p.args = []string{"--workload", f.workload, "--nemesis", nemesisName, "--time-limit", f.timeLimit.String()}
	for _, o := range []struct {
		flag, value string
	}{
		{"nodes", strconv.Itoa(f.nodes)}, {"clients", strconv.Itoa(f.clients)},
		{"rate", strconv.FormatFloat(f.rate, 'g', -1, 64)}, {"unsafe", strings.Join(unsafe, ",")},
		{"read-mode", string(readMode)}, {"name", f.name}, {"explore", strconv.FormatBool(f.explore)},
	} {
		if changed(o.flag) && o.value != "" {
			p.args = append(p.args, "--"+o.flag+"="+o.value)
		}
	}
	return p, nil
}

// parseSeedRange parses A-B (A <= B, both >= 0) or a single seed N.
func parseSeedRange(s string) (int64, int64, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	a, err := strconv.ParseInt(lo, 10, 64)
	if err != nil || a < 0 {
		return 0, 0, fmt.Errorf("%q is not a seed (a number >= 0)", lo)
	}
	if !isRange {
		return a, a, nil
	}
	b, err := strconv.ParseInt(hi, 10, 64)
	if err != nil || b < 0 {
		return 0, 0, fmt.Errorf("%q is not a seed (a number >= 0)", hi)
	}
	if b < a {
		return 0, 0, fmt.Errorf("the range ends (%d) before it starts (%d)", b, a)
	}
	return a, b, nil
}

// parseSimFaults parses --nemesis: all, none, or kinds of sim.FaultKinds.
func parseSimFaults(value string) ([]string, error) {
	var faults []string
	for _, tok := range strings.Split(value, ",") {
		switch tok = strings.ToLower(strings.TrimSpace(tok)); tok {
		case "none", "":
		case "all":
			faults = append(faults, sim.FaultKinds()...)
		default:
			if !slices.Contains(sim.FaultKinds(), tok) {
				return nil, fmt.Errorf("unknown fault kind %q: choose from %s, all or none", tok, strings.Join(sim.FaultKinds(), ", "))
			}
			faults = append(faults, tok)
		}
	}
	slices.Sort(faults)
	return slices.Compact(faults), nil
}

// command is the reproduce line of seed.
func (p *simPlan) command(seed int64) string {
	args := append([]string{"faultline", "sim", "--seed", strconv.FormatInt(seed, 10)}, p.args...)
	for i, a := range args {
		args[i] = shellQuoteArg(a)
	}
	return strings.Join(args, " ")
}

// shellQuoteArg quotes a for a POSIX shell when it needs it.
func shellQuoteArg(a string) string {
	if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/+=") == "" {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// Outcomes of one simulated run, beyond the checkers' verdicts.
const (
	// outcomeError: the run did not finish (the node panicked, or the
	// simulated world stopped advancing).
	outcomeError = "error"
	// outcomeStuck: the run took more than --run-timeout of wall time.
	outcomeStuck = "stuck"
)

// seedResult is the outcome of one seed.
type seedResult struct {
	Seed    int64  `json:"seed"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// Dir is the run directory kept for the seed, if any.
	Dir     string        `json:"dir,omitempty"`
	Command string        `json:"command"`
	Wall    time.Duration `json:"wall_ns"`
	// Simulated is the simulated length of the run, Ops its client ops.
	Simulated time.Duration `json:"simulated_ns"`
	Ops       int           `json:"ops"`
	Faults    int           `json:"faults"`
	// Digest is the SHA-256 of the run's history.jsonl (--digests).
	Digest string `json:"-"`
	// config is the configuration the run had, drawn values filled in.
	config *sim.Config
}

func (r seedResult) failed() bool { return r.Outcome != string(checker.Valid) }

// runSeed runs one seed. A panic of the node's code (or the simulation's)
// becomes an error outcome with its stack, so one bad seed does not take a
// sweep down.
func runSeed(cfg sim.Config) (res sim.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return sim.Run(cfg)
}

// judge runs seed and, if keep says so for its outcome, writes its run
// directory.
func (p *simPlan) judge(seed int64, keep string) seedResult {
	cfg := p.base
	cfg.Seed = seed
	start := time.Now()
	res, err := runSeed(cfg)
	r := seedResult{Seed: seed, Command: p.command(seed), Wall: time.Since(start)}
	if err != nil {
		r.Outcome, r.Reason = outcomeError, err.Error()
		return r
	}
	r.Outcome, r.Reason = string(res.Results.Verdict), res.Results.Reason
	// A copy: a pointer into res would keep the whole run (its history,
	// megabytes) alive for as long as the sweep keeps this result.
	drawn := res.Config
	r.Ops, r.Faults, r.config = clientOps(res.History), len(reports.FaultIntervals(res.History)), &drawn
	if n := len(res.History); n > 0 {
		r.Simulated = time.Duration(res.History[n-1].Time)
	}
	if p.digests {
		b, err := historyBytes(res.History)
		if err != nil {
			r.Outcome, r.Reason = outcomeError, err.Error()
			return r
		}
		r.Digest = fmt.Sprintf("%x", sha256.Sum256(b))
	}
	if keep == keepAll || (keep == keepFailing && r.failed()) {
		dir, err := p.writeRun(cfg, res, start, r)
		if err != nil {
			r.Outcome, r.Reason = outcomeError, err.Error()
			return r
		}
		r.Dir = dir
	}
	return r
}

func clientOps(h history.History) int {
	n := 0
	for _, op := range h {
		if !op.IsNemesis() && op.Type == history.Invoke {
			n++
		}
	}
	return n
}

// writeRun writes the run directory of a finished run: the same files as a
// container run, so check, report and the store index read it as one. The
// nodes' logs come from running the seed again with logging on, which also
// proves the seed replays: the second history must equal the first.
func (p *simPlan) writeRun(cfg sim.Config, res sim.Result, start time.Time, r seedResult) (string, error) {
	var logs bytes.Buffer
	again := cfg
	again.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	replay, err := runSeed(again)
	if err != nil {
		return "", fmt.Errorf("seed %d: replay for the node logs: %w", cfg.Seed, err)
	}
	first, err := historyBytes(res.History)
	if err != nil {
		return "", err
	}
	second, err := historyBytes(replay.History)
	if err != nil {
		return "", err
	}
	if !bytes.Equal(first, second) {
		return "", fmt.Errorf("seed %d did not replay: two runs of it gave different histories (the simulation is not deterministic; please report it)", cfg.Seed)
	}

	dir, err := rundir.Create(p.store, p.name, start)
	if err != nil {
		return "", err
	}
	eff := res.Config
	eff.Logger = nil
	options, err := json.Marshal(eff)
	if err != nil {
		return "", fmt.Errorf("encode the options of seed %d: %w", cfg.Seed, err)
	}
	versions := harness.Versions()
	versions["kvnode"] = versions["faultline"]
	nodes := make([]string, len(res.Replicas))
	for i, rs := range res.Replicas {
		nodes[i] = rs.Node
	}
	// The kinds this run drew (with --explore, a focus on some of those
	// asked for); its replay line asks for the same and draws them again.
	faults := slices.Clone(eff.Faults)
	if faults == nil {
		faults = []string{}
	}
	rec := rundir.TestRecord{
		Name: p.name, Seed: json.Number(strconv.FormatInt(cfg.Seed, 10)), Command: r.Command,
		Start: start.UTC(), SUT: "kvnode", Workload: eff.Workload, Nemesis: faults, Nodes: nodes,
		Options: options, Versions: versions, Backend: rundir.BackendSim,
		TimingsMillis: map[string]int64{"wall": r.Wall.Milliseconds(), "simulated": r.Simulated.Milliseconds()},
	}
	files := []struct {
		name string
		v    any
	}{
		{rundir.ReplicasFile, res.Replicas}, {rundir.LeadersFile, res.Leaders}, {rundir.ResultsFile, res.Results},
	}
	if err := rundir.WriteFile(filepath.Join(dir, rundir.HistoryFile), first); err != nil {
		return "", err
	}
	for _, f := range files {
		if err := rundir.WriteJSON(filepath.Join(dir, f.name), f.v); err != nil {
			return "", err
		}
	}
	if err := rundir.WriteFile(filepath.Join(dir, rundir.NodesDir, "cluster.log"), logs.Bytes()); err != nil {
		return "", err
	}
	if err := rundir.WriteTest(dir, rec); err != nil {
		return "", err
	}
	if err := reports.WriteRun(dir, reports.WriteOptions{}); err != nil {
		return "", err
	}
	return dir, nil
}

func historyBytes(h history.History) ([]byte, error) {
	var buf bytes.Buffer
	if err := history.Write(&buf, h); err != nil {
		return nil, fmt.Errorf("encode the history: %w", err)
	}
	return buf.Bytes(), nil
}

// runSim runs the plan: one seed, or a sweep.
func runSim(ctx context.Context, p *simPlan, stdout, stderr io.Writer) error {
	if !p.sweep {
		return runOneSeed(p, stdout)
	}
	return runSweep(ctx, p, stdout, stderr)
}

func runOneSeed(p *simPlan, stdout io.Writer) error {
	r := p.judge(p.first, keepAll)
	fmt.Fprintf(stdout, "seed %d: %s", r.Seed, r.Outcome)
	if r.Reason != "" && r.Outcome != string(checker.Valid) {
		fmt.Fprintf(stdout, ": %s", firstLine(r.Reason))
	}
	fmt.Fprintf(stdout, "\n  %d client ops and %d faults over %v simulated, in %v of wall time\n",
		r.Ops, r.Faults, r.Simulated.Round(time.Millisecond), r.Wall.Round(time.Millisecond))
	if c := r.config; c != nil {
		fmt.Fprintf(stdout, "  %d nodes, read mode %s, election timeout %v, heartbeat %v, %d clients at %.0f ops/s\n",
			c.Nodes, c.ReadMode, c.ElectionTimeout, c.HeartbeatInterval, c.Clients, c.Rate)
		if !slices.Equal(c.Faults, p.base.Faults) {
			fmt.Fprintf(stdout, "  faults focused on %s (of %s)\n", strings.Join(c.Faults, ","), strings.Join(p.base.Faults, ","))
		}
		if c.ClientIDBytes > 0 {
			fmt.Fprintf(stdout, "  client ids of %d bytes\n", c.ClientIDBytes)
		}
	}
	if r.Dir != "" {
		if err := reports.WriteIndex(p.store); err != nil {
			return &exitError{code: harness.ExitInternal, err: err}
		}
		fmt.Fprintf(stdout, "report: %s/index.html (seed %d)\n", r.Dir, r.Seed)
	}
	fmt.Fprintf(stdout, "replay: %s\n", r.Command)
	return simExit([]seedResult{r}, false)
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// simExit is the exit of a set of runs: 1 if one was invalid, else 255 if
// one crashed or stuck, else 2 if one was unknown or the sweep was cut
// short, else 0.
func simExit(results []seedResult, interrupted bool) error {
	counts := map[string]int{}
	for _, r := range results {
		counts[r.Outcome]++
	}
	switch {
	case counts[string(checker.Invalid)] > 0:
		return &exitError{code: harness.ExitInvalid}
	case counts[outcomeError]+counts[outcomeStuck] > 0:
		return &exitError{code: harness.ExitInternal}
	case counts[string(checker.Unknown)] > 0 || interrupted:
		return &exitError{code: harness.ExitUnknown}
	}
	return nil
}

// sweepSummary is sweep-<time>.json, next to the kept run directories.
type sweepSummary struct {
	Name    string         `json:"name"`
	Start   time.Time      `json:"start"`
	Command string         `json:"command"`
	Seeds   string         `json:"seeds"`
	Budget  string         `json:"budget,omitempty"`
	Workers int            `json:"workers"`
	Runs    int            `json:"runs"`
	Counts  map[string]int `json:"counts"`
	// Wall is the sweep's wall time; Simulated the simulated time of all its runs.
	Wall        time.Duration `json:"wall_ns"`
	Simulated   time.Duration `json:"simulated_ns"`
	RunsPerMin  float64       `json:"runs_per_minute"`
	Interrupted bool          `json:"interrupted,omitempty"`
	// StoppedBy says why the sweep ended before its last seed: budget,
	// first failure, interrupt.
	StoppedBy string `json:"stopped_by,omitempty"`
	// Failing lists every run that was not valid, in seed order.
	Failing []seedResult `json:"failing"`
	// Digests maps each seed that ran to its history's SHA-256 (--digests):
	// two builds whose runs of a seed differ in any event differ here.
	Digests map[int64]string `json:"history_digests,omitempty"`
}

// runSweep runs the plan's seeds on p.workers goroutines, in seed order,
// until the range, the budget, the first failure (--stop-at-first) or an
// interrupt ends it.
func runSweep(ctx context.Context, p *simPlan, stdout, stderr io.Writer) error {
	start := time.Now()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if p.budget > 0 {
		var cancelBudget context.CancelFunc
		sctx, cancelBudget = context.WithTimeout(sctx, p.budget)
		defer cancelBudget()
	}
	seedsLabel := fmt.Sprintf("%d-%d", p.first, p.last)
	if p.open {
		seedsLabel = fmt.Sprintf("from %d", p.first)
	}
	fmt.Fprintf(stderr, "sim: sweeping seeds %s on %d workers (%s)\n", seedsLabel, p.workers, strings.Join(p.args, " "))

	var (
		next    atomic.Int64
		mu      sync.Mutex
		results []seedResult
		counts  = map[string]int{}
		stopped string
		running = map[int64]time.Time{}
		// kept counts the run directories written or being written;
		// failures the runs that were not valid.
		kept, failures int
	)
	next.Store(p.first)
	var wg sync.WaitGroup
	for range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sctx.Err() == nil {
				seed := next.Add(1) - 1
				if seed > p.last {
					return
				}
				mu.Lock()
				running[seed] = time.Now()
				mu.Unlock()
				mu.Lock()
				keep := p.keep
				if keep == keepFailing && kept >= p.keepMax {
					keep = keepNone
				}
				if keep != keepNone {
					kept++ // a slot, whether or not the run fails
				}
				mu.Unlock()
				r := p.judge(seed, keep)
				mu.Lock()
				if keep != keepNone && r.Dir == "" && p.keep == keepFailing {
					kept-- // it passed: free the slot
				}
				delete(running, seed)
				results = append(results, r)
				counts[r.Outcome]++
				if r.failed() {
					if failures++; failures <= printedFailures {
						fmt.Fprintf(stderr, "\nsim: seed %d %s: %s\n  replay: %s\n", r.Seed, r.Outcome, firstLine(r.Reason), r.Command)
					}
					if p.stopAtFirst && stopped == "" {
						stopped = "first failure"
						cancel()
					}
				}
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	tty := harness.IsTerminal(stderr)
	every := time.Second
	if !tty {
		every = 5 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	progress := func() {
		mu.Lock()
		n := len(results)
		line := fmt.Sprintf("[%v] %d runs  %.0f runs/min  valid=%d invalid=%d unknown=%d error=%d",
			time.Since(start).Truncate(time.Second), n, float64(n)/time.Since(start).Minutes(),
			counts[string(checker.Valid)], counts[string(checker.Invalid)], counts[string(checker.Unknown)],
			counts[outcomeError]+counts[outcomeStuck])
		mu.Unlock()
		if tty {
			fmt.Fprintf(stderr, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(stderr, line)
		}
	}
	// stuck is a run past --run-timeout, if any: its worker cannot be
	// stopped, so the sweep ends there.
	stuck := func() (seedResult, bool) {
		mu.Lock()
		defer mu.Unlock()
		for seed, t := range running {
			if time.Since(t) > p.runTimeout {
				return seedResult{Seed: seed, Outcome: outcomeStuck, Command: p.command(seed), Wall: time.Since(t),
					Reason: fmt.Sprintf("ran for more than %v of wall time", p.runTimeout)}, true
			}
		}
		return seedResult{}, false
	}
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			progress()
			if r, ok := stuck(); ok {
				fmt.Fprintf(stderr, "\nsim: seed %d ran for more than %v of wall time: a node is stuck in a loop\n  replay: %s\n", r.Seed, p.runTimeout, r.Command)
				mu.Lock()
				final := append(slices.Clone(results), r)
				mu.Unlock()
				return writeSweepAndExit(p, start, final, false, "a stuck run", stdout, stderr)
			}
		}
	}
	progress()
	if tty {
		fmt.Fprintln(stderr)
	}
	interrupted := ctx.Err() != nil
	switch {
	case stopped != "":
	case interrupted:
		stopped = "interrupt"
	case sctx.Err() != nil:
		stopped = "budget"
	}
	return writeSweepAndExit(p, start, results, interrupted, stopped, stdout, stderr)
}

// writeSweepAndExit prints the sweep's summary, writes sweep-<time>.json
// and the store index, and returns the sweep's exit.
func writeSweepAndExit(p *simPlan, start time.Time, results []seedResult, interrupted bool, stopped string, stdout, stderr io.Writer) error {
	slices.SortFunc(results, func(a, b seedResult) int { return int(a.Seed - b.Seed) })
	s := sweepSummary{Name: p.name, Start: start.UTC(), Seeds: fmt.Sprintf("%d-%d", p.first, p.last),
		Workers: p.workers, Runs: len(results), Counts: map[string]int{}, Wall: time.Since(start),
		Interrupted: interrupted, StoppedBy: stopped, Failing: []seedResult{}}
	s.Command = "faultline sim --seeds " + s.Seeds + " " + strings.Join(p.args, " ")
	if p.budget > 0 {
		s.Budget = p.budget.String()
	}
	if p.digests {
		s.Digests = make(map[int64]string, len(results))
	}
	for _, r := range results {
		if r.Digest != "" {
			s.Digests[r.Seed] = r.Digest
		}
		s.Counts[r.Outcome]++
		s.Simulated += r.Simulated
		if r.failed() {
			s.Failing = append(s.Failing, r)
		}
	}
	if m := s.Wall.Minutes(); m > 0 {
		s.RunsPerMin = float64(s.Runs) / m
	}
	last := p.last
	if len(results) > 0 {
		last = results[len(results)-1].Seed
	}
	fmt.Fprintf(stdout, "%d runs (seeds %d-%d) in %v: %d valid, %d invalid, %d unknown, %d crashed or stuck; %.0f runs/min, %v simulated\n",
		s.Runs, p.first, last, s.Wall.Round(time.Millisecond), s.Counts[string(checker.Valid)], s.Counts[string(checker.Invalid)],
		s.Counts[string(checker.Unknown)], s.Counts[outcomeError]+s.Counts[outcomeStuck], s.RunsPerMin, s.Simulated.Round(time.Second))
	if stopped != "" {
		fmt.Fprintf(stdout, "stopped by %s after %d runs\n", stopped, s.Runs)
	}
	for i, r := range s.Failing {
		if i == 10 {
			fmt.Fprintf(stdout, "... and %d more (see the sweep file)\n", len(s.Failing)-i)
			break
		}
		fmt.Fprintf(stdout, "seed %d %s: %s\n  replay: %s\n", r.Seed, r.Outcome, firstLine(r.Reason), r.Command)
		if r.Dir != "" {
			fmt.Fprintf(stdout, "  report: %s/index.html\n", r.Dir)
		}
	}
	path := filepath.Join(p.store, p.name, "sweep-"+start.UTC().Format(rundir.TimeFormat)+".json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return &exitError{code: harness.ExitInternal, err: err}
	}
	if err := rundir.WriteJSON(path, s); err != nil {
		return &exitError{code: harness.ExitInternal, err: err}
	}
	fmt.Fprintf(stdout, "sweep: %s\n", path)
	if len(s.Failing) > 0 && p.keep != keepNone {
		if err := reports.WriteIndex(p.store); err != nil {
			return &exitError{code: harness.ExitInternal, err: err}
		}
	}
	return simExit(results, interrupted)
}
