package harness

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/faultline/faultline/rundir"
)

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

// testRecord is the test.json of a run of spec, as it starts.
func testRecord(spec Spec, start time.Time, nodes []string, runID string) (rundir.TestRecord, error) {
	versions := Versions()
	if spec.SUTVersion != "" {
		versions[spec.SUTName()] = spec.SUTVersion
	}
	options, err := json.Marshal(spec)
	if err != nil {
		return rundir.TestRecord{}, fmt.Errorf("encode the options of %s: %w", spec.Name, err)
	}
	return rundir.TestRecord{
		Name: spec.Name, Seed: json.Number(strconv.FormatInt(spec.Seed, 10)), Command: spec.Command(), Start: start.UTC(),
		SUT: spec.SUTName(), Workload: spec.Workload, Nemesis: spec.Nemesis, Nodes: nodes, RunID: runID,
		Options: options, Versions: versions, TimingsMillis: map[string]int64{},
	}, nil
}

// recordedSpec is the Spec a test.json's options hold; the zero Spec when it
// has none (a history checked from elsewhere).
func recordedSpec(dir string, rec rundir.TestRecord) (Spec, error) {
	var s Spec
	if len(rec.Options) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(rec.Options, &s); err != nil {
		return s, fmt.Errorf("%s: options: %w", filepath.Join(dir, rundir.TestFile), err)
	}
	return s, nil
}
