package campaign

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/rundir"
	"github.com/faultline/faultline/sut"
)

// Defaults of BugsOptions.
const (
	DefaultBugRuns      = 3
	DefaultBugTimeLimit = 60 * time.Second
)

// BugsOptions configures RunBugs.
type BugsOptions struct {
	// Catalogue is the store's bug zoo.
	Catalogue Catalogue
	// Bugs names the catalogue entries to run; empty means all.
	Bugs []string
	// Runs is how often each bug (and the correct node under its
	// configuration) runs; 0 means DefaultBugRuns.
	Runs int
	// TimeLimit is each run's main phase; 0 means DefaultBugTimeLimit.
	TimeLimit time.Duration
	// Base supplies what the catalogue leaves open (concurrency, client,
	// recovery and check timeouts, store); the zero value means
	// harness.DefaultSpec(). Its workload, nemesis, nodes and name are replaced.
	Base harness.Spec
	// Seed is the master seed every run's seed is drawn from.
	Seed int64
	// SkipCorrect leaves out the correct node's runs (then the exit code
	// says nothing about false alarms).
	SkipCorrect bool
	// Out receives one line per finished run; nil discards.
	Out    io.Writer
	Logger *slog.Logger

	// run replaces harness.Run with a real environment in tests of the loop.
	run func(ctx context.Context, spec harness.Spec) (harness.Outcome, error)
}

// BugRun is one run of the bug zoo.
type BugRun struct {
	Bug    string `json:"bug"`
	Unsafe bool   `json:"unsafe"`
	Seed   int64  `json:"seed"`
	Dir    string `json:"dir,omitempty"`
	// Verdict is valid, invalid, unknown, or error when the harness failed.
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	// FirstFlagged is the time from the start of the main phase (the first
	// client invoke) to the first op the checkers flagged; nil when the run
	// was not invalid or no checker pointed at an op.
	FirstFlagged *time.Duration `json:"first_flagged,omitempty"`
	// FirstFlaggedSinceStart is the same op's time since the run started
	// (cluster set-up included).
	FirstFlaggedSinceStart *time.Duration `json:"first_flagged_since_start,omitempty"`
	Duration               time.Duration  `json:"duration"`
}

// Detected reports whether an unsafe run caught its bug.
func (r BugRun) Detected() bool { return r.Verdict == string(checker.Invalid) }

// BugResult is every run of one bug with the unsafe node.
type BugResult struct {
	Bug  sut.Bug  `json:"bug"`
	Runs []BugRun `json:"runs"`
}

// CorrectResult is every run of the correct node under one configuration,
// shared by the bugs listed.
type CorrectResult struct {
	Bugs []string `json:"bugs"`
	Bug  sut.Bug  `json:"config"`
	Runs []BugRun `json:"runs"`
}

// BugsReport is the outcome of RunBugs.
type BugsReport struct {
	Start     time.Time       `json:"start"`
	Runs      int             `json:"runs_per_bug"`
	TimeLimit time.Duration   `json:"time_limit"`
	Seed      int64           `json:"seed"`
	Bugs      []BugResult     `json:"bugs"`
	Correct   []CorrectResult `json:"correct"`
	// SkipCorrect is set when the correct node was not run.
	SkipCorrect bool `json:"skip_correct,omitempty"`
	// Interrupted is set when ctx ended before every run was made.
	Interrupted bool `json:"interrupted,omitempty"`
	// Err is a problem with the options; no run was made.
	Err error `json:"-"`
	// Path is where the report was written (store/bugs-<time>.json).
	Path string `json:"-"`
}

// RunBugs runs every selected bug Runs times with the unsafe node and, once
// per distinct configuration, Runs times with the correct node, one run at
// a time. A bug's unsafe runs come right before its configuration's correct
// runs, so an interrupted zoo still reports complete rows.
func RunBugs(ctx context.Context, opts BugsOptions, newEnv func(harness.Spec) (harness.Env, func(), error)) BugsReport {
	rep := BugsReport{Start: time.Now(), Runs: opts.Runs, TimeLimit: opts.TimeLimit, Seed: opts.Seed, SkipCorrect: opts.SkipCorrect}
	if rep.Runs <= 0 {
		rep.Runs = DefaultBugRuns
	}
	if rep.TimeLimit <= 0 {
		rep.TimeLimit = DefaultBugTimeLimit
	}
	bugs, err := opts.Catalogue.Select(opts.Bugs)
	if err != nil {
		rep.Err = err
		return rep
	}
	base := opts.Base
	if base.Workload == "" {
		base = harness.DefaultSpec()
	}
	base.TimeLimit = rep.TimeLimit
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	run := opts.run
	if run == nil {
		run = func(ctx context.Context, spec harness.Spec) (harness.Outcome, error) {
			return runWithEnv(ctx, spec, newEnv)
		}
	}
	seeds := rand.New(rand.NewSource(opts.Seed))
	one := func(b sut.Bug, unsafe bool) (BugRun, bool) {
		if ctx.Err() != nil {
			rep.Interrupted = true
			return BugRun{}, false
		}
		spec, err := BugSpec(b, base, unsafe, seeds.Int63())
		br := BugRun{Bug: b.Name, Unsafe: unsafe, Seed: spec.Seed}
		if err != nil {
			br.Verdict, br.Reason = "error", err.Error()
			return br, true
		}
		t0 := time.Now()
		o, err := run(ctx, spec)
		br.Duration = time.Since(t0)
		br = describeBugRun(br, o, err)
		fmt.Fprintln(out, formatBugRun(br))
		if errors.Is(err, harness.ErrInterrupted) || ctx.Err() != nil {
			// A cut-short run proves nothing either way, unless it
			// already shows a violation.
			rep.Interrupted = true
			return br, br.Verdict == string(checker.Invalid)
		}
		return br, true
	}
	done := map[string]int{} // config key -> index in rep.Correct
	for _, b := range bugs {
		if ctx.Err() != nil {
			rep.Interrupted = true
			break
		}
		res := BugResult{Bug: b}
		for range rep.Runs {
			br, ok := one(b, true)
			if !ok {
				break
			}
			res.Runs = append(res.Runs, br)
		}
		rep.Bugs = append(rep.Bugs, res)
		if opts.SkipCorrect {
			continue
		}
		if i, ok := done[bugConfigKey(b)]; ok {
			rep.Correct[i].Bugs = append(rep.Correct[i].Bugs, b.Name)
			continue
		}
		cr := CorrectResult{Bugs: []string{b.Name}, Bug: b}
		for range rep.Runs {
			br, ok := one(b, false)
			if !ok {
				break
			}
			cr.Runs = append(cr.Runs, br)
		}
		done[bugConfigKey(b)] = len(rep.Correct)
		rep.Correct = append(rep.Correct, cr)
	}
	if base.Store != "" {
		rep.Path = filepath.Join(base.Store, "bugs-"+rep.Start.UTC().Format(rundir.TimeFormat)+".json")
		if err := rundir.WriteJSON(rep.Path, rep); err != nil {
			if opts.Logger != nil {
				opts.Logger.Warn("write bugs report", "err", err)
			}
			rep.Path = ""
		}
	}
	return rep
}

// runWithEnv is one RunSuite step: build the environment, run, release.
func runWithEnv(ctx context.Context, spec harness.Spec, newEnv func(harness.Spec) (harness.Env, func(), error)) (harness.Outcome, error) {
	env, release, err := newEnv(spec)
	if err != nil {
		return harness.Outcome{Name: spec.Name, ExitCode: harness.ExitInternal}, err
	}
	if release != nil {
		defer release()
	}
	return harness.Run(ctx, spec, env)
}

// describeBugRun fills a BugRun from the run's outcome.
func describeBugRun(br BugRun, o harness.Outcome, err error) BugRun {
	br.Dir = o.Dir
	br.Verdict, br.Reason = string(o.Results.Verdict), o.Results.Reason
	if err != nil && !errors.Is(err, harness.ErrInterrupted) {
		br.Verdict, br.Reason = "error", err.Error()
		return br
	}
	if br.Verdict == "" {
		br.Verdict = string(checker.Unknown)
	}
	if br.Verdict != string(checker.Invalid) || o.Results.FirstFlagged == nil {
		return br
	}
	sinceStart := time.Duration(*o.Results.FirstFlagged)
	br.FirstFlaggedSinceStart = &sinceStart
	sinceMain := sinceStart
	if o.Dir != "" {
		if t0, err := mainPhaseStart(filepath.Join(o.Dir, rundir.HistoryFile)); err == nil {
			sinceMain = max(sinceStart-time.Duration(t0), 0)
		}
	}
	br.FirstFlagged = &sinceMain
	return br
}

// mainPhaseStart returns the time of the first client invoke in a history
// file: when the workers started, after the cluster was set up. It reads
// only as far as that op.
func mainPhaseStart(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 0; sc.Scan(); line++ {
		if line == 0 {
			continue // the header
		}
		var op history.Op
		if err := json.Unmarshal(sc.Bytes(), &op); err != nil {
			return 0, fmt.Errorf("%s: line %d: %w", path, line+1, err)
		}
		if op.Type == history.Invoke && !op.IsNemesis() {
			return op.Time, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return 0, fmt.Errorf("%s: no client operation", path)
}
