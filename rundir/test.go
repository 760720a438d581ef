package rundir

import (
	"encoding/json"
	"path/filepath"
	"time"
)

// DefaultSUT is the store under test of a test.json that names none: it was
// written before faultline tested any store but kvnode.
const DefaultSUT = "kvnode"

// TestRecord is test.json: what was run and how to run it again. The
// harness writes it when a run starts and again, with the phase timings,
// when it ends; faultline check writes one (with ImportedFrom) next to a
// history recorded elsewhere. The field names are those of every test.json
// written so far, so old run directories still load.
type TestRecord struct {
	Name string `json:"name"`
	// Seed is kept as written (a JSON number of any width) so that the page
	// shows it exactly; a history checked from elsewhere has none.
	Seed json.Number `json:"seed,omitempty"`
	// Command is the faultline command line that reproduces the run,
	// rendered once by the harness (harness.Spec.Command); readers show it
	// as stored and never render their own.
	Command string    `json:"command"`
	Start   time.Time `json:"start"`
	// SUT is the store under test (kvnode, etcd); its version is in
	// Versions under the same name. "" means DefaultSUT.
	SUT      string   `json:"sut,omitempty"`
	Workload string   `json:"workload"`
	Nemesis  []string `json:"nemesis"`
	// Nodes are the node names (n1, n2, ...).
	Nodes []string `json:"nodes,omitempty"`
	// RunID labels the run's containers and network.
	RunID string `json:"run_id,omitempty"`
	// Options is every option of the run: the harness.Spec it ran, as JSON
	// (its field names are the Spec's json tags). Readers that only show
	// the options decode it as a JSON object.
	Options json.RawMessage `json:"options,omitempty"`
	// Versions maps a component (faultline, go, the store under test) to
	// its version.
	Versions map[string]string `json:"versions"`
	// TimingsMillis are phase durations in milliseconds, filled as the run
	// goes.
	TimingsMillis map[string]int64 `json:"timings_ms,omitempty"`
	// Backend is how the store ran: "" (BackendDocker) in containers,
	// BackendSim in the deterministic simulation, where every time in the
	// history is simulated.
	Backend string `json:"backend,omitempty"`
	// ImportedFrom is set when faultline did not record the history itself
	// (faultline check of a history file).
	ImportedFrom *ImportSource `json:"imported_from,omitempty"`
}

// Backends of a run (TestRecord.Backend).
const (
	BackendDocker = ""
	BackendSim    = "sim"
)

// Simulated reports whether the run was simulated: its times are simulated
// time, not wall-clock time.
func (t TestRecord) Simulated() bool { return t.Backend == BackendSim }

// ImportSource is where a history faultline did not record came from, and
// what reading it changed.
type ImportSource struct {
	Path string `json:"path"`
	// Format is the history's format (see the Format constants).
	Format string   `json:"format"`
	Notes  []string `json:"notes,omitempty"`
}

// Formats of a checked history, as recorded in ImportSource.Format.
const (
	FormatFaultline = "faultline"
	FormatJepsen    = "jepsen-edn"
	FormatJSONL     = "faultline-jsonl"
)

// StoreUnderTest names the store the run tested, with its version when the
// record has one: "etcd v3.6.16", "kvnode faultline 1a2b3c".
func (t TestRecord) StoreUnderTest() string {
	name := t.SUTName()
	if v := t.Versions[name]; v != "" {
		return name + " " + v
	}
	return name
}

// SUTName is the store under test, DefaultSUT when the record names none.
func (t TestRecord) SUTName() string {
	if t.SUT == "" {
		return DefaultSUT
	}
	return t.SUT
}

// ReadTest reads dir's test.json. A missing file is reported wrapping
// fs.ErrNotExist; a malformed one names the file and the line.
func ReadTest(dir string) (TestRecord, error) {
	var t TestRecord
	err := ReadJSON(filepath.Join(dir, TestFile), &t)
	return t, err
}

// WriteTest writes dir's test.json, replacing it atomically.
func WriteTest(dir string, t TestRecord) error {
	return WriteJSON(filepath.Join(dir, TestFile), t)
}
