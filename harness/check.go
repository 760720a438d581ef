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
	if b, err := os.ReadFile(filepath.Join(dir, ReplicasFile)); err == nil {
		if err := json.Unmarshal(b, &replicas); err != nil {
			return checker.Results{}, fmt.Errorf("%s: %w", ReplicasFile, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return checker.Results{}, fmt.Errorf("read %s: %w", ReplicasFile, err)
	}
	var leaders []checker.LeaderSighting
	if b, err := os.ReadFile(filepath.Join(dir, LeadersFile)); err == nil {
		if err := json.Unmarshal(b, &leaders); err != nil {
			return checker.Results{}, fmt.Errorf("%s: %w", LeadersFile, err)
		}
		if leaders == nil {
			leaders = []checker.LeaderSighting{}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return checker.Results{}, fmt.Errorf("read %s: %w", LeadersFile, err)
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
