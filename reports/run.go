// Package reports turns a stored run into pages a person can read: the run
// report (index.html with plots, the nemesis timeline and each checker's
// result), porcupine visualizations of the keys that failed, an index of every
// run in the store, and a small HTTP server for the store.
//
// Everything a page needs lives in the run directory: no scripts, fonts or
// styles are fetched from the network, and every string that came from a
// history, a key, a value, a log or a test option is HTML-escaped by
// html/template.
package reports

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/rundir"
)

// Run is one run directory loaded into memory.
type Run struct {
	// Dir is the run directory.
	Dir string
	// Test is test.json.
	Test rundir.TestRecord
	// History is the recorded history, in record order.
	History history.History
	// Results is results.json, or nil when the run was never checked (a
	// harness that crashed before the checkers ran leaves none).
	Results *checker.Results
	// NodeLogs are the node log files, relative to Dir with forward slashes
	// (nodes/n1.log), sorted.
	NodeLogs []string
}

// Load reads a run directory. test.json and history.jsonl are required;
// results.json is optional (Results is nil without it) but must be valid when
// present.
func Load(dir string) (*Run, error) {
	test, err := rundir.ReadTest(dir)
	if err != nil {
		return nil, err
	}
	run := &Run{Dir: dir, Test: test}
	h, err := history.ReadFile(filepath.Join(dir, rundir.HistoryFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("run %s has no %s: is this a run directory (store/<test>/<time>)?", dir, rundir.HistoryFile)
		}
		return nil, fmt.Errorf("load run %s: %w", dir, err)
	}
	run.History = h
	var results checker.Results
	switch err := rundir.ReadJSON(filepath.Join(dir, rundir.ResultsFile), &results); {
	case err == nil:
		run.Results = &results
	case errors.Is(err, fs.ErrNotExist):
		// Not checked yet; the report says so.
	default:
		return nil, err
	}
	logs, err := filepath.Glob(filepath.Join(dir, rundir.NodesDir, "*.log"))
	if err != nil {
		return nil, fmt.Errorf("list node logs of %s: %w", dir, err)
	}
	for _, l := range logs {
		run.NodeLogs = append(run.NodeLogs, rundir.NodesDir+"/"+filepath.Base(l))
	}
	sort.Strings(run.NodeLogs)
	return run, nil
}

// Verdict is the run's overall verdict; unknown when it was never checked.
func (r *Run) Verdict() checker.Verdict {
	if r.Results == nil || r.Results.Verdict == "" {
		return checker.Verdict("unknown")
	}
	return r.Results.Verdict
}
