// Package rundir owns the layout of a store and its run directories: the
// names of the files a run leaves (store/<test>/<time>/test.json,
// history.jsonl, results.json, ...), the schema of test.json, creating a run
// directory and the store/latest link, listing the runs of a store, and
// reading and writing the JSON files in them.
//
// The harness writes run directories and the reports read them; both go
// through this package, so the two cannot disagree about a name or a field.
// It imports only the standard library.
package rundir

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Files and directories of a run directory, written by the harness (or by
// faultline check for a history recorded elsewhere).
const (
	// TestFile is test.json: what was run and how to run it again
	// (TestRecord).
	TestFile = "test.json"
	// HistoryFile is every op and fault, one JSON object per line.
	HistoryFile = "history.jsonl"
	// ResultsFile is the checkers' verdicts and details.
	ResultsFile = "results.json"
	// ReplicasFile holds each node's applied index and state digest after
	// healing, so an offline check can re-run the convergence checker.
	ReplicasFile = "replicas.json"
	// LeadersFile holds the leaders the harness saw per generation, so an
	// offline check can re-run the leaders checker.
	LeadersFile = "leaders.json"
	// NodesDir holds the node logs, nodes/<node>.log.
	NodesDir = "nodes"
)

// Files and directories the report adds to a run directory. ReportFile is
// also the store index, store/index.html.
const (
	ReportFile  = "index.html"
	PlotsDir    = "plots"
	LinearDir   = "linear"
	SummaryFile = "summary.json"
)

// LatestLink is the symbolic link store/latest, pointing at the run
// directory created last.
const LatestLink = "latest"

// TimeFormat names a run directory after its start time in UTC, e.g.
// 20260102T030405; Create adds -1, -2, ... when two runs of a test start in
// the same second.
const TimeFormat = "20060102T150405"

// StartFromName is the start time a run directory's name records (in
// TimeFormat, maybe with Create's -N suffix), for a run whose test.json
// cannot be read.
func StartFromName(name string) (time.Time, bool) {
	stamp, _, _ := strings.Cut(name, "-")
	t, err := time.Parse(TimeFormat, stamp)
	return t, err == nil
}

// Create makes store/<name>/<start in TimeFormat>/ and its NodesDir, and
// points store/latest at it. Runs started together (in one process or
// several) each get a directory of their own.
func Create(store, name string, start time.Time) (string, error) {
	base := filepath.Join(store, name, start.UTC().Format(TimeFormat))
	dir := base
	for i := 1; ; i++ {
		err := os.MkdirAll(filepath.Dir(dir), 0o755)
		if err == nil {
			err = os.Mkdir(dir, 0o755)
		}
		if err == nil {
			break
		}
		if !os.IsExist(err) || i > 100 {
			return "", fmt.Errorf("create run directory under %s: %w (check that --store is writable)", store, err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.MkdirAll(filepath.Join(dir, NodesDir), 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", NodesDir, err)
	}
	if err := linkLatest(store, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// latestLinks numbers this process's temporary latest links.
var latestLinks atomic.Int64

func linkLatest(store, dir string) error {
	rel, err := filepath.Rel(store, dir)
	if err != nil {
		return fmt.Errorf("link %s: %w", LatestLink, err)
	}
	latest := filepath.Join(store, LatestLink)
	// A name of this call's own: runs started together on one store
	// would otherwise take each other's temporary link (EEXIST).
	tmp := fmt.Sprintf("%s.tmp-%d-%d", latest, os.Getpid(), latestLinks.Add(1))
	_ = os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		return fmt.Errorf("link %s: %w", LatestLink, err)
	}
	if err := os.Rename(tmp, latest); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("link %s: %w", LatestLink, err)
	}
	return nil
}

// List returns every run directory of store: store/<test>/<run>/ holding a
// test.json, sorted by path. Symbolic links (store/latest), loose files and
// directories without test.json are not runs.
func List(store string) ([]string, error) {
	tests, err := os.ReadDir(store)
	if err != nil {
		return nil, fmt.Errorf("read store %s: %w", store, err)
	}
	var dirs []string
	for _, t := range tests {
		if !t.IsDir() {
			continue
		}
		runs, err := os.ReadDir(filepath.Join(store, t.Name()))
		if err != nil {
			return nil, fmt.Errorf("read store %s: %w", store, err)
		}
		for _, r := range runs {
			dir := filepath.Join(store, t.Name(), r.Name())
			if !r.IsDir() {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, TestFile)); err != nil {
				continue
			}
			dirs = append(dirs, dir)
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}
