package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/reports"
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
		for _, name := range []string{TestFile, HistoryFile} {
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
		ErrNoRun, dir, why, HistoryFile, TestFile)}
}

// CheckDir re-runs every checker of the run's workload on a stored history and
// rewrites results.json and the report. The run directory is the user's input:
// a path that holds no run, or a malformed test.json, history.jsonl,
// replicas.json or leaders.json, is a UsageError naming the file (and, for the
// history, the line) and gives no verdict. Failing to write the results or the
// report is a plain error.
func CheckDir(ctx context.Context, dir string, checkTimeout time.Duration) (checker.Results, error) {
	if err := RequireRunDir(dir); err != nil {
		return checker.Results{}, err
	}
	rec, err := ReadTestRecord(dir)
	if err != nil {
		return checker.Results{}, damagedRun(err, fixTestRecord)
	}
	wl, err := workloads.ByName(rec.Workload)
	if err != nil {
		return checker.Results{}, damagedRun(fmt.Errorf("%s: workload %q: %w", filepath.Join(dir, TestFile), rec.Workload, err), fixTestRecord)
	}
	historyPath := filepath.Join(dir, HistoryFile)
	h, err := history.ReadFile(historyPath)
	if err != nil {
		return checker.Results{}, damagedRun(err, fixHistory)
	}
	if err := h.Validate(); err != nil {
		return checker.Results{}, damagedRun(fmt.Errorf("%s: %w: %v", historyPath, history.ErrMalformed, err), fixHistoryOps)
	}
	var replicas []checker.ReplicaState
	if _, err := readOptionalJSON(dir, ReplicasFile, &replicas); err != nil {
		return checker.Results{}, damagedRun(err, fixOptional)
	}
	var leaders []checker.LeaderSighting
	if found, err := readOptionalJSON(dir, LeadersFile, &leaders); err != nil {
		return checker.Results{}, damagedRun(err, fixOptional)
	} else if found && leaders == nil {
		leaders = []checker.LeaderSighting{} // collected, none seen
	}
	if checkTimeout <= 0 {
		checkTimeout = rec.Options.CheckTimeout
	}
	in := checker.Input{History: h, Replicas: replicas, Leaders: leaders, CheckTimeout: checkTimeout}
	res := checker.Run(ctx, in, runCheckers(wl, leaders)...)
	if err := writeJSON(filepath.Join(dir, ResultsFile), res); err != nil {
		return res, err
	}
	if err := reports.WriteRun(dir, reports.WriteOptions{Model: wl.Model()}); err != nil {
		return res, fmt.Errorf("write report: %w", err)
	}
	return res, nil
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
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", filepath.Join(dir, name), err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
	}
	return true, nil
}
