package harness

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/rundir"
)

// jepsenTestdata holds histories recorded by Jepsen, each named for the
// verdict published with it (-valid.edn, -invalid.edn); its README says
// where each came from and which checker judged it.
const jepsenTestdata = "../history/testdata/jepsen"

// TestCheckJepsenHistories replays every recorded Jepsen history through
// Check, as `faultline check FILE --workload register --out DIR` does, and
// asserts faultline's verdict equals the published one. It also keeps the
// README honest: every history is listed there with its verdict.
func TestCheckJepsenHistories(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(jepsenTestdata, "*.edn"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	readme, err := os.ReadFile(filepath.Join(jepsenTestdata, "README.md"))
	require.NoError(t, err)
	for _, path := range paths {
		name := filepath.Base(path)
		var want checker.Verdict
		switch {
		case strings.HasSuffix(name, "-invalid.edn"):
			want = checker.Invalid
		case strings.HasSuffix(name, "-valid.edn"):
			want = checker.Valid
		default:
			t.Errorf("%s: name it -valid.edn or -invalid.edn after its published verdict", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			assert.Regexp(t, "(?m)^\\| `"+name+"` \\|.*\\| "+string(want)+" \\|", string(readme), "README.md lists %s with its published verdict", name)
			before, err := os.ReadFile(path)
			require.NoError(t, err)
			out := filepath.Join(t.TempDir(), "out")
			rep, err := Check(context.Background(), path, CheckOptions{Workload: "register", Out: out, CheckTimeout: time.Minute})
			require.NoError(t, err)
			assert.Equal(t, want, rep.Results.Verdict, rep.Results.Reason)
			assert.Equal(t, SourceJepsenHistory, rep.Source)
			for _, c := range rep.Results.Checkers {
				if c.Checker == "linearizability" {
					assert.Equal(t, want, c.Verdict, "the linearizability checker decides, as knossos did: %s", c.Reason)
				}
			}
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, before, after, "the input is left untouched")
			for _, f := range []string{rundir.TestFile, rundir.HistoryFile, rundir.ResultsFile, rundir.ReportFile} {
				assert.FileExists(t, filepath.Join(out, f))
			}
		})
	}
}

// writeRunDir writes a run directory holding a register history in which a
// read sees the write before it.
func writeRunDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	base := map[string]string{
		rundir.TestFile: `{"name":"x","workload":"register"}`,
		rundir.HistoryFile: `{"format":"faultline-history","version":1}
{"index":0,"time":1,"type":"invoke","process":0,"f":"write","key":"k","value":1}
{"index":1,"time":2,"type":"ok","process":0,"f":"write","key":"k","value":1}
{"index":2,"time":3,"type":"invoke","process":0,"f":"read","key":"k"}
{"index":3,"time":4,"type":"ok","process":0,"f":"read","key":"k","value":1}
`,
	}
	for name, content := range files {
		base[name] = content
	}
	for name, content := range base {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	return dir
}

func skippedNames(res checker.Results) []string {
	var names []string
	for _, s := range res.Skipped {
		names = append(names, s.Checker+": "+s.Reason)
	}
	return names
}

func TestCheckSkipsWhatTheHistoryLacks(t *testing.T) {
	replicas := `[{"node":"n1","applied_index":2,"digest":"a"},{"node":"n2","applied_index":2,"digest":"a"}]`
	tests := []struct {
		name        string
		files       map[string]string
		wantSkipped []string
		wantRan     []string
	}{
		{"no replica states, no leaders", nil,
			[]string{"convergence: no replica states in this history", "leaders: no leader sightings in this history"},
			[]string{"linearizability", "stats", "availability"}},
		{"replica states and leaders", map[string]string{rundir.ReplicasFile: replicas, rundir.LeadersFile: "[]"},
			nil, []string{"linearizability", "stats", "availability", "convergence", "leaders"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeRunDir(t, tt.files)
			rep, err := Check(context.Background(), dir, CheckOptions{})
			require.NoError(t, err)
			assert.Equal(t, checker.Valid, rep.Results.Verdict, "a skipped checker does not make the verdict unknown: %s", rep.Results.Reason)
			assert.Equal(t, tt.wantSkipped, skippedNames(rep.Results))
			var ran []string
			for _, c := range rep.Results.Checkers {
				ran = append(ran, c.Checker)
			}
			assert.Equal(t, tt.wantRan, ran)
			assert.Equal(t, dir, rep.OutDir, "a run directory is checked in place")
			b, err := os.ReadFile(filepath.Join(dir, rundir.ResultsFile))
			require.NoError(t, err)
			var stored checker.Results
			require.NoError(t, json.Unmarshal(b, &stored))
			assert.Equal(t, rep.Results.Skipped, stored.Skipped, "results.json lists the skipped checkers")
		})
	}
}

func TestCheckRunDirOutLeavesTheRunUntouched(t *testing.T) {
	dir := writeRunDir(t, nil)
	before, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "elsewhere")
	rep, err := Check(context.Background(), dir, CheckOptions{Out: out})
	require.NoError(t, err)
	assert.Equal(t, checker.Valid, rep.Results.Verdict)
	after, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Equal(t, len(before), len(after), "nothing is written into the run directory")
	for _, f := range []string{rundir.TestFile, rundir.HistoryFile, rundir.ResultsFile, rundir.ReportFile} {
		assert.FileExists(t, filepath.Join(out, f))
	}
	// The output is a run directory in its own right.
	again, err := Check(context.Background(), out, CheckOptions{})
	require.NoError(t, err)
	assert.Equal(t, checker.Valid, again.Results.Verdict)
}

func TestCheckHistoryFiles(t *testing.T) {
	const jsonl = `{"format":"faultline-history","version":1}
{"index":0,"time":1,"type":"invoke","process":0,"f":"write","key":"k","value":1}
{"index":1,"time":2,"type":"ok","process":0,"f":"write","key":"k","value":1}
{"index":2,"time":3,"type":"invoke","process":0,"f":"read","key":"k"}
{"index":3,"time":4,"type":"ok","process":0,"f":"read","key":"k","value":2}
`
	const set = `[{:process 0, :type :invoke, :f :add, :value 1}
 {:process 0, :type :ok, :f :add, :value 1}
 {:process 0, :type :invoke, :f :add, :value 2}
 {:process 0, :type :ok, :f :add, :value 2}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process 1, :type :ok, :f :read, :value #{1}}]
`
	tests := []struct {
		name, file, content, workload string
		want                          checker.Verdict
		wantSource                    string
		wantSkipped                   []string
	}{
		{"bare jsonl", "h.jsonl", jsonl, "register", checker.Invalid, SourceJSONLHistory, nil},
		{"jsonl without the extension", "history.txt", jsonl, "register", checker.Invalid, SourceJSONLHistory, nil},
		{"jepsen set that lost an add", "history.edn", set, "set", checker.Invalid, SourceJepsenHistory,
			[]string{"linearizability: " + skipJepsenSet}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tt.file)
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o644))
			rep, err := Check(context.Background(), path, CheckOptions{Workload: tt.workload})
			require.NoError(t, err)
			assert.Equal(t, tt.want, rep.Results.Verdict, rep.Results.Reason)
			assert.Equal(t, tt.wantSource, rep.Source)
			assert.Equal(t, DefaultOutDir(path), rep.OutDir, "without --out, a directory next to the file")
			assert.Equal(t, append(tt.wantSkipped, "convergence: "+skipConvergence, "leaders: "+skipLeaders), skippedNames(rep.Results))
			// Checking the output again gives the same verdict and skips.
			again, err := Check(context.Background(), rep.OutDir, CheckOptions{})
			require.NoError(t, err)
			assert.Equal(t, tt.want, again.Results.Verdict)
			assert.Equal(t, skippedNames(rep.Results), skippedNames(again.Results))
			// So does checking the file again: the earlier output is replaced.
			_, err = Check(context.Background(), path, CheckOptions{Workload: tt.workload})
			require.NoError(t, err)
		})
	}
}

func TestCheckRefusesBadInput(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) (string, CheckOptions)
		want  []string
	}{
		{"missing path", func(t *testing.T, dir string) (string, CheckOptions) {
			return filepath.Join(dir, "nope.edn"), CheckOptions{}
		}, []string{"no run at", "(it does not exist)", "a Jepsen history.edn, or a faultline .jsonl) with --workload"}},
		{"history file without workload", func(t *testing.T, dir string) (string, CheckOptions) {
			return writeFile(t, dir, "history.edn", "[]"), CheckOptions{}
		}, []string{"is a history file with no test.json beside it", "pass --workload register or --workload set"}},
		{"unknown workload", func(t *testing.T, dir string) (string, CheckOptions) {
			return writeFile(t, dir, "history.edn", "[]"), CheckOptions{Workload: "bank"}
		}, []string{`--workload "bank": choose one of register, set`}},
		{"run directory with another workload", func(t *testing.T, dir string) (string, CheckOptions) {
			return writeRunDir(t, nil), CheckOptions{Workload: "set"}
		}, []string{"--workload set, but", "says the run's workload is register: leave --workload out"}},
		{"malformed edn", func(t *testing.T, dir string) (string, CheckOptions) {
			return writeFile(t, dir, "history.edn", "[{:process 0, :type :invoke, :f :read}\n {:process 0 :type :bogus}]"), CheckOptions{Workload: "register"}
		}, []string{"history.edn: malformed history: line 2: :type is :bogus", "fix the file there"}},
		{"out is a file", func(t *testing.T, dir string) (string, CheckOptions) {
			return writeFile(t, dir, "history.edn", "[]"), CheckOptions{Workload: "register", Out: writeFile(t, dir, "file", "x")}
		}, []string{"is a file: give a directory"}},
		{"out would overwrite the input", func(t *testing.T, dir string) (string, CheckOptions) {
			return writeFile(t, dir, rundir.HistoryFile, `{"format":"faultline-history","version":1}`+"\n"), CheckOptions{Workload: "register", Out: dir}
		}, []string{"would overwrite the input", "choose another directory"}},
		{"default out taken by something else", func(t *testing.T, dir string) (string, CheckOptions) {
			path := writeFile(t, dir, "history.edn", "[]")
			writeFile(t, DefaultOutDir(path), "notes.txt", "mine")
			return path, CheckOptions{Workload: "register"}
		}, []string{"history-faultline (where the results would go) already exists", "pass --out DIR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, opts := tt.setup(t, t.TempDir())
			_, err := Check(context.Background(), path, opts)
			require.Error(t, err)
			assert.True(t, IsUsage(err), "bad input is a usage error (exit 254): %v", err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}
