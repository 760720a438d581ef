package campaign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/rundir"
)

// Defaults of ExploreOptions.
const (
	// DefaultExploreRunOverhead is the first estimate of the time a run takes
	// beyond its time limit: cluster start, recovery wait, final reads, log
	// collection, teardown, check and report. Later estimates use the largest
	// overhead actually observed, if that is more.
	DefaultExploreRunOverhead = 60 * time.Second
	// DefaultExploreMaxConsecutiveErrors stops an exploration whose runs keep
	// failing in the harness (Docker gone, disk full) instead of drawing
	// configurations in a tight loop until the budget is spent.
	DefaultExploreMaxConsecutiveErrors = 3
)

// ExploreOptions configures Explore.
type ExploreOptions struct {
	// Base supplies everything that is not drawn (concurrency, rate, ops per
	// key, client/recovery/check timeouts, store, extra node flags).
	Base       harness.Spec
	Space      ExploreSpace
	MasterSeed int64
	// Budget is the wall-clock time for all runs. No run starts unless its
	// time limit plus the estimated overhead fits in what is left.
	Budget   time.Duration
	FailFast bool
	// KeepLast, when positive, applies ApplyRetention to the store after
	// every run.
	KeepLast             int
	RunOverhead          time.Duration
	MaxConsecutiveErrors int
	// Out receives the human log: each drawn configuration, its reproducing
	// command, its verdict and disk use.
	Out    io.Writer
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	// runOne replaces RunSuite in tests of the loop.
	runOne func(ctx context.Context, spec harness.Spec) []SuiteResult
}

// ExploreRun is one entry of the explore log.
type ExploreRun struct {
	Config  ExploreConfig `json:"config"`
	Name    string        `json:"name"`
	Command string        `json:"command"`
	Dir     string        `json:"dir"`
	// Verdict is valid, invalid, unknown, error or none (see RunVerdict).
	Verdict string `json:"verdict"`
	// Reason says why: the checkers' reason, including a history cut short by
	// the harness's own limits, or the harness error.
	Reason         string   `json:"reason"`
	Checkers       []string `json:"checkers,omitempty"` // checkers that decided a non-valid verdict
	ExitCode       int      `json:"exit_code"`
	DurationMillis int64    `json:"duration_ms"`
	DiskBytes      int64    `json:"disk_bytes"`
	// Deleted is set when a later run's retention (--keep-last) removed Dir.
	Deleted bool `json:"deleted,omitempty"`
}

// ExploreLog is store/explore-<time>.json, rewritten after every run.
type ExploreLog struct {
	MasterSeed   int64         `json:"master_seed"`
	Budget       time.Duration `json:"budget"`
	Start        time.Time     `json:"start"`
	End          time.Time     `json:"end"`
	Stopped      string        `json:"stopped"`
	FailFast     bool          `json:"fail_fast"`
	KeepLast     int           `json:"keep_last"`
	Space        ExploreSpace  `json:"space"`
	Runs         []ExploreRun  `json:"runs"`
	DeletedRuns  int           `json:"deleted_runs"`
	FreedBytes   int64         `json:"freed_bytes"`
	Path         string        `json:"-"`
	suiteResults []SuiteRun
}

// SuiteRuns are the runs with their specs, for WriteJUnit and SuiteExitCode.
func (l *ExploreLog) SuiteRuns() []SuiteRun { return l.suiteResults }

// Results are the runs' results, for SuiteExitCode and PrintSummary.
func (l *ExploreLog) Results() []SuiteResult {
	out := make([]SuiteResult, len(l.suiteResults))
	for i, r := range l.suiteResults {
		out[i] = r.Result
	}
	return out
}

// Explore draws configurations from the master seed and runs them, one fresh
// cluster from newEnv each, until the budget is spent, ctx is cancelled, or
// (with FailFast) a run is invalid. It stops early, too, after
// MaxConsecutiveErrors harness errors in a row or a bad argument. Every
// drawn configuration and its reproducing command go to Out before the run
// starts; the log file is rewritten after every run so a killed exploration
// still leaves it. The error is for a log that cannot be written or a drawn
// configuration that is invalid (a bug); run failures are in the log.
func Explore(ctx context.Context, opts ExploreOptions, newEnv func(harness.Spec) (harness.Env, func(), error)) (*ExploreLog, error) {
	opts.defaults(newEnv)
	space := opts.Space.withDefaults()
	if err := space.Validate(); err != nil {
		return nil, err
	}
	if opts.Budget <= 0 {
		return nil, harness.Usagef("--budget %v: give a positive duration, e.g. --budget 20m", opts.Budget)
	}
	start := opts.Now()
	lg := &ExploreLog{
		MasterSeed: opts.MasterSeed, Budget: opts.Budget, Start: start.UTC(), FailFast: opts.FailFast,
		KeepLast: opts.KeepLast, Space: space,
		Path: filepath.Join(opts.Base.Store, "explore-"+start.UTC().Format(rundir.TimeFormat)+".json"),
	}
	if err := os.MkdirAll(opts.Base.Store, 0o755); err != nil {
		return nil, fmt.Errorf("create store %s: %w (check that --store is writable)", opts.Base.Store, err)
	}
	deadline := start.Add(opts.Budget)
	overhead := opts.RunOverhead
	var overheads []time.Duration
	master := rand.New(rand.NewSource(opts.MasterSeed))
	fmt.Fprintf(opts.Out, "explore: master seed %d, budget %v, log %s\n", opts.MasterSeed, opts.Budget, lg.Path)

	consecutiveErrors := 0
	for i := 0; ; i++ {
		if ctx.Err() != nil {
			lg.Stopped = "interrupted"
			break
		}
		remaining := deadline.Sub(opts.Now())
		timeLimitCap := remaining - overhead
		if timeLimitCap < space.MinTimeLimit {
			lg.Stopped = fmt.Sprintf("budget spent: %v left, a run needs at least %v plus about %v overhead",
				max(remaining, 0).Truncate(time.Second), space.MinTimeLimit, overhead.Truncate(time.Second))
			break
		}
		cfg := DrawConfig(master, space, i, timeLimitCap)
		if err := cfg.Validate(); err != nil {
			return lg, fmt.Errorf("drew an invalid configuration: %w", err)
		}
		spec := cfg.Spec(opts.Base)
		if err := spec.Validate(); err != nil {
			return lg, fmt.Errorf("explore run %d: %w", i, err)
		}
		command := spec.Command()
		fmt.Fprintf(opts.Out, "\nexplore run %d: %s\n  reproduce: %s\n", i, cfg, command)

		t0 := opts.Now()
		results := opts.runOne(ctx, spec)
		if len(results) == 0 {
			lg.Stopped = "interrupted"
			break
		}
		r := results[0]
		elapsed := opts.Now().Sub(t0)
		r.Duration = max(r.Duration, elapsed)
		// The estimate is the median overhead seen so far (at least the
		// configured one), so one pathological run (a stalled cluster
		// waiting out every recovery timeout) does not end the exploration.
		overheads = append(overheads, elapsed-cfg.TimeLimit)
		overhead = max(opts.RunOverhead, medianDuration(overheads))
		run := exploreRunFor(cfg, spec, command, r)
		lg.Runs = append(lg.Runs, run)
		lg.suiteResults = append(lg.suiteResults, SuiteRun{Spec: spec, Result: r})
		printExploreRun(opts.Out, run)

		if opts.KeepLast > 0 {
			opts.retain(lg)
		}
		if err := rundir.WriteJSON(lg.Path, lg); err != nil {
			return lg, fmt.Errorf("write explore log: %w", err)
		}

		switch {
		case errors.Is(r.Err, harness.ErrInterrupted) || ctx.Err() != nil:
			lg.Stopped = "interrupted"
		case r.Outcome.ExitCode == harness.ExitBadArgs:
			lg.Stopped = fmt.Sprintf("run %d was rejected: %v", i, r.Err)
		case run.Verdict == string(checker.Invalid) && opts.FailFast:
			lg.Stopped = fmt.Sprintf("fail-fast: run %d is invalid", i)
		}
		if run.Verdict == VerdictError {
			consecutiveErrors++
			if consecutiveErrors >= opts.MaxConsecutiveErrors && lg.Stopped == "" {
				lg.Stopped = fmt.Sprintf("%d harness errors in a row, the last: %s", consecutiveErrors, run.Reason)
			}
		} else {
			consecutiveErrors = 0
		}
		if lg.Stopped != "" {
			break
		}
	}
	lg.End = opts.Now().UTC()
	fmt.Fprintf(opts.Out, "\nexplore stopped: %s\n", lg.Stopped)
	if err := rundir.WriteJSON(lg.Path, lg); err != nil {
		return lg, fmt.Errorf("write explore log: %w", err)
	}
	return lg, nil
}

func (o *ExploreOptions) defaults(newEnv func(harness.Spec) (harness.Env, func(), error)) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RunOverhead <= 0 {
		o.RunOverhead = DefaultExploreRunOverhead
	}
	if o.MaxConsecutiveErrors <= 0 {
		o.MaxConsecutiveErrors = DefaultExploreMaxConsecutiveErrors
	}
	if o.runOne == nil {
		o.runOne = func(ctx context.Context, spec harness.Spec) []SuiteResult {
			return RunSuite(ctx, []harness.Spec{spec}, newEnv)
		}
	}
}

// retain applies the store's retention after a run.
func (o *ExploreOptions) retain(lg *ExploreLog) {
	res := RetainRuns(o.Base.Store, o.KeepLast, o.Now(), o.Out, o.Logger)
	lg.DeletedRuns += len(res.Deleted)
	lg.FreedBytes += res.FreedBytes
	for i := range lg.Runs {
		if slices.Contains(res.Deleted, lg.Runs[i].Dir) {
			lg.Runs[i].Deleted = true
		}
	}
}

// RetainRuns applies ApplyRetention to store, says on out what it deleted,
// and rewrites the store index when runs were deleted. Failures are logged:
// store hygiene must not stop a suite.
func RetainRuns(store string, keepLast int, now time.Time, out io.Writer, log *slog.Logger) RetentionResult {
	res, err := ApplyRetention(store, keepLast, now)
	if err != nil {
		log.Warn("store retention", "store", store, "err", err)
	}
	if len(res.Deleted) == 0 {
		return res
	}
	fmt.Fprintf(out, "  retention (--keep-last %d): deleted %d old runs, freed %s; kept %d invalid\n",
		keepLast, len(res.Deleted), FormatBytes(res.FreedBytes), res.KeptInvalid)
	if err := reports.WriteIndex(store); err != nil {
		log.Warn("rewrite store index after retention", "store", store, "err", err)
	}
	return res
}

func exploreRunFor(cfg ExploreConfig, spec harness.Spec, command string, r SuiteResult) ExploreRun {
	o := r.Outcome
	run := ExploreRun{
		Config: cfg, Name: spec.Name, Command: command, Dir: o.Dir, Verdict: RunVerdict(r),
		Reason: o.Results.Reason, ExitCode: o.ExitCode, DurationMillis: r.Duration.Milliseconds(),
	}
	switch run.Verdict {
	case VerdictError:
		run.Reason = fmt.Sprint(r.Err)
		if r.Err == nil {
			run.Reason = "the run ended without a verdict"
		}
	case string(checker.Invalid):
		run.Checkers = CheckersWith(o.Results, checker.Invalid)
	case string(checker.Unknown):
		run.Checkers = CheckersWith(o.Results, checker.Unknown)
	}
	if o.Dir != "" {
		run.DiskBytes, _ = DiskUsage(o.Dir)
	}
	return run
}

func printExploreRun(w io.Writer, run ExploreRun) {
	report := "-"
	if run.Dir != "" {
		report = filepath.Join(run.Dir, rundir.ReportFile)
	}
	fmt.Fprintf(w, "  verdict %s in %v, disk %s, report %s\n", run.Verdict,
		(time.Duration(run.DurationMillis) * time.Millisecond).Truncate(time.Second), FormatBytes(run.DiskBytes), report)
	if run.Verdict != string(checker.Valid) && run.Reason != "" {
		fmt.Fprintf(w, "  reason: %s\n", run.Reason)
	}
}

// medianDuration is the median of ds (the upper middle for an even count).
func medianDuration(ds []time.Duration) time.Duration {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}
