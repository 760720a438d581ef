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
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
)

// Files of a run directory, as written by the harness.
const (
	TestFile    = "test.json"
	HistoryFile = "history.jsonl"
	ResultsFile = "results.json"
	NodesDir    = "nodes"
)

// Files and directories the report adds to a run directory.
const (
	ReportFile  = "index.html"
	PlotsDir    = "plots"
	LinearDir   = "linear"
	SummaryFile = "summary.json"
)

// TestSpec is test.json: what was run and how to run it again.
type TestSpec struct {
	Name string `json:"name"`
	// Seed is kept as written (a JSON number of any width) so that the
	// reproduce command shows it exactly.
	Seed json.Number `json:"seed"`
	// Command is the exact command line that reproduces the run.
	Command string    `json:"command"`
	Start   time.Time `json:"start"`
	// SUT is the store under test; "" (records before it) means kvnode.
	SUT      string   `json:"sut,omitempty"`
	Workload string   `json:"workload"`
	Nemesis  []string `json:"nemesis"`
	Nodes    []string `json:"nodes"`
	// RunID labels the run's containers and network.
	RunID string `json:"run_id"`
	// Options holds every flag of the run, as the harness wrote them.
	Options map[string]any `json:"options"`
	// Versions maps a component (faultline, go) to its version.
	Versions map[string]string `json:"versions"`
	// TimingsMillis are phase durations in milliseconds.
	TimingsMillis map[string]int64 `json:"timings_ms"`
}

// StoreUnderTest names the store the run tested, with its version when
// test.json records one: "etcd v3.6.16", "kvnode faultline 1a2b3c".
func (t TestSpec) StoreUnderTest() string {
	name := t.SUT
	if name == "" {
		name = "kvnode"
	}
	if v := t.Versions[name]; v != "" {
		return name + " " + v
	}
	return name
}

// Run is one run directory loaded into memory.
type Run struct {
	// Dir is the run directory.
	Dir  string
	Test TestSpec
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
	run := &Run{Dir: dir}
	if err := readJSON(filepath.Join(dir, TestFile), &run.Test); err != nil {
		return nil, err
	}
	h, err := history.ReadFile(filepath.Join(dir, HistoryFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("run %s has no %s: is this a run directory (store/<test>/<time>)?", dir, HistoryFile)
		}
		return nil, fmt.Errorf("load run %s: %w", dir, err)
	}
	run.History = h
	var results checker.Results
	switch err := readJSON(filepath.Join(dir, ResultsFile), &results); {
	case err == nil:
		run.Results = &results
	case errors.Is(err, fs.ErrNotExist):
		// Not checked yet; the report says so.
	default:
		return nil, err
	}
	logs, err := filepath.Glob(filepath.Join(dir, NodesDir, "*.log"))
	if err != nil {
		return nil, fmt.Errorf("list node logs of %s: %w", dir, err)
	}
	for _, l := range logs {
		run.NodeLogs = append(run.NodeLogs, NodesDir+"/"+filepath.Base(l))
	}
	sort.Strings(run.NodeLogs)
	return run, nil
}

// readJSON decodes one JSON file. A missing file is reported wrapping
// fs.ErrNotExist; a malformed one names the file and what is wrong.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s is missing (is this a run directory, store/<test>/<time>?): %w", path, err)
		}
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s is not valid JSON: %w", path, describeJSONError(b, err))
	}
	return nil
}

// describeJSONError adds the line number to a syntax or type error.
func describeJSONError(b []byte, err error) error {
	var offset int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	if offset < 0 || offset > int64(len(b)) {
		return err
	}
	line := 1 + strings.Count(string(b[:offset]), "\n")
	return fmt.Errorf("line %d: %w", line, err)
}

// Verdict is the run's overall verdict; unknown when it was never checked.
func (r *Run) Verdict() checker.Verdict {
	if r.Results == nil || r.Results.Verdict == "" {
		return checker.Verdict("unknown")
	}
	return r.Results.Verdict
}
