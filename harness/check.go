package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/workloads"
)

// CheckDir re-runs every checker of the run's workload on a stored history and
// rewrites results.json and the report. A malformed history is an error and
// gives no verdict.
func CheckDir(ctx context.Context, dir string, checkTimeout time.Duration) (checker.Results, error) {
	rec, err := ReadTestRecord(dir)
	if err != nil {
		return checker.Results{}, err
	}
	wl, err := workloads.ByName(rec.Workload)
	if err != nil {
		return checker.Results{}, fmt.Errorf("%s: workload %q: %w", TestFile, rec.Workload, err)
	}
	h, err := history.ReadFile(filepath.Join(dir, HistoryFile))
	if err != nil {
		return checker.Results{}, err
	}
	if err := h.Validate(); err != nil {
		return checker.Results{}, fmt.Errorf("%s: %w: %v", filepath.Join(dir, HistoryFile), history.ErrMalformed, err)
	}
	var replicas []checker.ReplicaState
	if _, err := readOptionalJSON(dir, ReplicasFile, &replicas); err != nil {
		return checker.Results{}, err
	}
	var leaders []checker.LeaderSighting
	if found, err := readOptionalJSON(dir, LeadersFile, &leaders); err != nil {
		return checker.Results{}, err
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
		return false, fmt.Errorf("read %s: %w", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("%s: %w", name, err)
	}
	return true, nil
}
