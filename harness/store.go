package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// Run directory file names.
const (
	TestFile    = "test.json"
	HistoryFile = "history.jsonl"
	ResultsFile = "results.json"
	// ReplicasFile holds each node's applied index and state digest after
	// healing, so an offline check can re-run the convergence checker.
	ReplicasFile = "replicas.json"
	// LeadersFile holds the leaders the harness saw per generation, so an
	// offline check can re-run the leaders checker.
	LeadersFile = "leaders.json"
	NodesDir    = "nodes"
)

// TestRecord is test.json: everything needed to understand and reproduce a run.
type TestRecord struct {
	Name    string    `json:"name"`
	Seed    int64     `json:"seed"`
	Command string    `json:"command"`
	Start   time.Time `json:"start"`
	// SUT is the store under test (kvnode, etcd); its version is in
	// Versions under the same name.
	SUT      string            `json:"sut,omitempty"`
	Workload string            `json:"workload"`
	Nemesis  []string          `json:"nemesis"`
	Nodes    []string          `json:"nodes"`
	RunID    string            `json:"run_id"`
	Options  Spec              `json:"options"`
	Versions map[string]string `json:"versions"`
	// Timings are phase durations in milliseconds, filled as the run goes.
	Timings map[string]int64 `json:"timings_ms,omitempty"`
}

// Versions reports the faultline build and the Go toolchain.
func Versions() map[string]string {
	v := map[string]string{"go": runtime.Version(), "faultline": "devel"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v["faultline"] = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v["faultline"] = s.Value
			}
		}
	}
	return v
}

// newRunDir creates store/<name>/<YYYYMMDDTHHMMSS>/ (with a suffix if two runs
// start in the same second) and points store/latest at it.
func newRunDir(store, name string, start time.Time) (string, error) {
	base := filepath.Join(store, name, start.UTC().Format("20060102T150405"))
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
		return fmt.Errorf("link latest: %w", err)
	}
	latest := filepath.Join(store, "latest")
	// A name of this call's own: runs started together on one store
	// would otherwise take each other's temporary link (EEXIST).
	tmp := fmt.Sprintf("%s.tmp-%d-%d", latest, os.Getpid(), latestLinks.Add(1))
	_ = os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		return fmt.Errorf("link latest: %w", err)
	}
	if err := os.Rename(tmp, latest); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("link latest: %w", err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return os.Rename(tmp, path)
}

// ReadTestRecord loads test.json from a run directory.
func ReadTestRecord(dir string) (TestRecord, error) {
	var t TestRecord
	b, err := os.ReadFile(filepath.Join(dir, TestFile))
	if err != nil {
		return t, fmt.Errorf("read %s: %w (is %s a run directory?)", TestFile, err, dir)
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("%s: %w", filepath.Join(dir, TestFile), err)
	}
	return t, nil
}
