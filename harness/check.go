package harness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/rundir"
	"github.com/faultline/faultline/workloads"
)

// ErrNoRun is returned (wrapped in a UsageError) for a path that holds no
// stored run.
var ErrNoRun = errors.New("no run")

// RequireRunDir returns a UsageError unless dir is a stored run: a directory
// holding test.json and history.jsonl.
func RequireRunDir(dir string) error {
	why := ""
	switch fi, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		why = "it does not exist"
	case err != nil:
		why = oneLine(err)
	case !fi.IsDir():
		why = "it is a file, not a directory"
	default:
		for _, name := range []string{rundir.TestFile, rundir.HistoryFile} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				why = "it has no " + name
				break
			}
		}
	}
	if why == "" {
		return nil
	}
	return &UsageError{Err: fmt.Errorf("%w at %s (%s): pass a run directory such as store/latest, which holds %s and %s",
		ErrNoRun, dir, why, rundir.HistoryFile, rundir.TestFile)}
}

// CheckOptions say what Check reads and where it writes.
type CheckOptions struct {
	// Workload is the workload whose checkers judge the history. A history
	// file has no test.json, so it needs one; for a run directory it may be
	// left empty and must otherwise match test.json.
	Workload string
	// Out is the directory for results.json and the report. Empty means the
	// run directory itself, or for a history file DefaultOutDir(path).
	Out string
	// CheckTimeout bounds the linearizability search. Zero means the run's
	// own (test.json), else DefaultImportCheckTimeout.
	CheckTimeout time.Duration
}

// DefaultImportCheckTimeout bounds the linearizability search of a history
// that brings no check timeout of its own (a history file). A register key of
// a few thousand ops is decided in well under a second; past five minutes a
// person is better served by an unknown verdict that says what to raise.
const DefaultImportCheckTimeout = 5 * time.Minute

// CheckReport is what Check read, decided and wrote.
type CheckReport struct {
	Results checker.Results
	// Source says what the input was (see the Source* constants).
	Source   string
	Workload string
	// Ops is the number of records in the history that was checked.
	Ops int
	// Notes say what reading the input changed or left out.
	Notes []string
	// OutDir holds results.json and the report.
	OutDir string
	// CheckDuration is the time the checkers took, without reading the
	// input or writing the report.
	CheckDuration time.Duration
}

// What Check read.
const (
	SourceRunDir        = "run directory"
	SourceJepsenHistory = "Jepsen history"
	SourceJSONLHistory  = "faultline history"
)

// Check runs every checker of the workload on a stored history and writes
// results.json and the report. path is a run directory (test.json,
// history.jsonl and optionally replicas.json and leaders.json), a Jepsen
// history (history.edn, or a Jepsen store directory holding one) or a
// faultline history file (.jsonl) without test.json; see CheckOptions.
//
// The input is never changed unless it is a run directory checked in place.
// Checkers that need what the input lacks (replica states for convergence,
// leader sightings for leaders) are skipped and listed in Results.Skipped
// rather than judged unknown.
//
// Anything wrong with the input or the options is a UsageError naming the
// file (and line) at fault and what to do, and gives no verdict. Failing to
// write the results or the report is a plain error.
func Check(ctx context.Context, path string, opts CheckOptions) (CheckReport, error) {
	in, err := readCheckInput(path, opts)
	if err != nil {
		return CheckReport{}, err
	}
	wl, err := workloads.ByName(in.workload)
	if err != nil {
		return CheckReport{}, err
	}
	timeout := opts.CheckTimeout
	if timeout <= 0 {
		timeout = in.checkTimeout
	}
	if timeout <= 0 {
		timeout = DefaultImportCheckTimeout
	}
	checkers, skipped := selectCheckers(wl, in)
	rep := CheckReport{Source: in.source, Workload: in.workload, Ops: len(in.history), Notes: in.notes, OutDir: in.outDir}
	start := time.Now()
	rep.Results = checker.Run(ctx, checker.Input{History: in.history, Replicas: in.replicas, Leaders: in.leaders, CheckTimeout: timeout}, checkers...)
	rep.CheckDuration = time.Since(start)
	rep.Results.Skipped = skipped
	if err := in.writeInputs(); err != nil {
		return rep, err
	}
	if err := rundir.WriteJSON(filepath.Join(in.outDir, rundir.ResultsFile), rep.Results); err != nil {
		return rep, err
	}
	if err := reports.WriteRun(in.outDir, reports.WriteOptions{Model: wl.Model()}); err != nil {
		return rep, fmt.Errorf("write report: %w", err)
	}
	return rep, nil
}

// Why a checker is skipped.
const (
	skipConvergence = "no replica states in this history"
	skipLeaders     = "no leader sightings in this history"
	skipJepsenSet   = "a Jepsen set read is unordered, so the list model (which needs the order of appends) does not apply; the set checker judges it"
)

// selectCheckers is the workload's checkers less those the input cannot
// feed, plus the leaders checker when leader sightings were collected.
func selectCheckers(wl workloads.Workload, in *checkInput) ([]checker.Checker, []checker.Skip) {
	var out []checker.Checker
	var skipped []checker.Skip
	for _, c := range wl.Checkers() {
		switch c := c.(type) {
		case checker.Convergence:
			if !in.hasReplicas {
				skipped = append(skipped, checker.Skip{Checker: c.Name(), Reason: skipConvergence})
				continue
			}
		case checker.Linearizability:
			if c.Model == checker.ModelList && in.format == rundir.FormatJepsen {
				skipped = append(skipped, checker.Skip{Checker: c.Name(), Reason: skipJepsenSet})
				continue
			}
		}
		out = append(out, c)
	}
	if in.leaders == nil {
		skipped = append(skipped, checker.Skip{Checker: checker.Leaders{}.Name(), Reason: skipLeaders})
	} else {
		out = append(out, checker.Leaders{})
	}
	return out, skipped
}

// What to do about a malformed run file.
const (
	fixTestRecord = "fix test.json or run the test again"
	fixHistory    = "fix or delete that line (a torn last line is ignored), or run the test again"
	fixHistoryOps = "fix those ops or run the test again"
	fixOptional   = "fix or delete that file (it is optional), or run the test again"
)

// damagedRun makes an unreadable or malformed run file a UsageError that says
// what to do about it.
func damagedRun(err error, fix string) error {
	return &UsageError{Err: fmt.Errorf("%w: %s", err, fix)}
}

// oneLine is err's message on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// runCheckers is the workload's checkers, plus the leaders checker when
// leader sightings were collected (runs stored before they were have none).
func runCheckers(wl workloads.Workload, leaders []checker.LeaderSighting) []checker.Checker {
	checkers := wl.Checkers()
	if leaders != nil {
		checkers = append(slices.Clone(checkers), checker.Leaders{})
	}
	return checkers
}

// readOptionalJSON decodes dir/name into v and reports whether the file was
// there; a run stored by an older faultline may lack it.
func readOptionalJSON(dir, name string, v any) (bool, error) {
	err := rundir.ReadJSON(filepath.Join(dir, name), v)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return true, err
}
