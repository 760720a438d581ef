package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/rundir"
)

// TestSimOneSeedWritesARunThatReplays: one seed writes a run directory a
// container run would (history, results, replicas, leaders, node logs,
// report), marked as simulated, whose reproduce line, pasted into a shell,
// gives the same history byte for byte.
func TestSimOneSeedWritesARunThatReplays(t *testing.T) {
	store := t.TempDir()
	var out string
	code := -1
	out = captureStdout(t, func() {
		code = run([]string{"sim", "--seed", "3", "--time-limit", "5s", "--workload", "set", "--store", store}, os.Stderr)
	})
	require.Equal(t, harness.ExitValid, code, out)
	runs, err := rundir.List(store)
	require.NoError(t, err)
	require.Len(t, runs, 1)
	dir := runs[0]
	for _, f := range []string{rundir.TestFile, rundir.HistoryFile, rundir.ResultsFile, rundir.ReplicasFile,
		rundir.LeadersFile, rundir.ReportFile, filepath.Join(rundir.NodesDir, "cluster.log")} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	assert.Contains(t, out, "report: "+dir+"/index.html")
	rec, err := rundir.ReadTest(dir)
	require.NoError(t, err)
	assert.True(t, rec.Simulated())
	assert.Equal(t, "set", rec.Workload)
	assert.Equal(t, "3", rec.Seed.String())
	var drawn struct{ ClientIDBytes int }
	require.NoError(t, json.Unmarshal(rec.Options, &drawn))
	assert.Equal(t, drawn.ClientIDBytes > 0, strings.Contains(out, fmt.Sprintf("client ids of %d bytes", drawn.ClientIDBytes)),
		"the drawn client id length is printed when it is not the default")
	page, err := os.ReadFile(filepath.Join(dir, rundir.ReportFile))
	require.NoError(t, err)
	assert.Contains(t, string(page), "simulated time")
	assert.Contains(t, string(page), rec.Command)

	replayStore := t.TempDir()
	args := append(shellWords(t, rec.Command)[1:], "--store", replayStore)
	out = captureStdout(t, func() { code = run(args, os.Stderr) })
	require.Equal(t, harness.ExitValid, code, out)
	replays, err := rundir.List(replayStore)
	require.NoError(t, err)
	require.Len(t, replays, 1)
	first, err := os.ReadFile(filepath.Join(dir, rundir.HistoryFile))
	require.NoError(t, err)
	second, err := os.ReadFile(filepath.Join(replays[0], rundir.HistoryFile))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(first, second), "the reproduce line gives the same history")
}

// TestSimSweep: a sweep of the correct node exits 0 and keeps no run; a
// sweep with an unsafe switch exits 1, keeps a run directory for failing
// seeds only, and lists each in the sweep file with its replay line.
func TestSimSweep(t *testing.T) {
	store := t.TempDir()
	code := -1
	out := captureStdout(t, func() {
		code = run([]string{"sim", "--seeds", "1-4", "--time-limit", "5s", "--store", store}, os.Stderr)
	})
	require.Equal(t, harness.ExitValid, code, out)
	assert.Contains(t, out, "4 runs (seeds 1-4)")
	runs, err := rundir.List(store)
	require.NoError(t, err)
	assert.Empty(t, runs)

	store = t.TempDir()
	out = captureStdout(t, func() {
		code = run([]string{"sim", "--seeds", "0-5", "--time-limit", "10s", "--unsafe", "stale-read", "--store", store}, os.Stderr)
	})
	require.Equal(t, harness.ExitInvalid, code, out)
	s := readSweep(t, store)
	assert.Equal(t, 6, s.Runs)
	require.NotEmpty(t, s.Failing)
	assert.Equal(t, len(s.Failing), s.Counts[string(checker.Invalid)])
	runs, err = rundir.List(store)
	require.NoError(t, err)
	assert.Len(t, runs, len(s.Failing), "a run directory for each failing seed, none for the others")
	for _, f := range s.Failing {
		assert.Contains(t, f.Command, "--unsafe=stale-read")
		assert.Contains(t, runs, f.Dir)
		rec, err := rundir.ReadTest(f.Dir)
		require.NoError(t, err)
		seed, err := rec.Seed.Int64()
		require.NoError(t, err)
		assert.Equal(t, f.Seed, seed)
	}
}

// readSweep reads the one sweep file of a register sweep in store.
func readSweep(t *testing.T, store string) sweepSummary {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(store, "sim-register-all", "sweep-*.json"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	var s sweepSummary
	require.NoError(t, rundir.ReadJSON(files[0], &s))
	return s
}

// TestSimSweepDigests: --digests records one history digest per seed, the
// same for two sweeps of the same seeds (a run is a function of its seed)
// and different between seeds; without it the sweep file has none.
func TestSimSweepDigests(t *testing.T) {
	sweep := func(extra ...string) sweepSummary {
		store := t.TempDir()
		args := append([]string{"sim", "--seeds", "1-3", "--time-limit", "3s", "--store", store}, extra...)
		var code int
		out := captureStdout(t, func() { code = run(args, os.Stderr) })
		require.Equal(t, harness.ExitValid, code, out)
		return readSweep(t, store)
	}
	first, second := sweep("--digests"), sweep("--digests", "--workers", "1")
	require.Len(t, first.Digests, 3)
	assert.Equal(t, first.Digests, second.Digests)
	assert.NotEqual(t, first.Digests[1], first.Digests[2])
	assert.Len(t, first.Digests[1], 64, "a hex SHA-256")
	assert.Empty(t, sweep().Digests)
}

// TestSimStopAtFirst: --stop-at-first ends the sweep at its first failure,
// well before the range ends.
func TestSimStopAtFirst(t *testing.T) {
	store := t.TempDir()
	code := -1
	out := captureStdout(t, func() {
		code = run([]string{"sim", "--seeds", "0-100000", "--time-limit", "5s", "--unsafe", "ack-before-quorum",
			"--stop-at-first", "--workers", "1", "--store", store}, os.Stderr)
	})
	require.Equal(t, harness.ExitInvalid, code, out)
	assert.Contains(t, out, "stopped by first failure")
}

func TestSimBadArguments(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--seeds", "9-3"}, "ends (3) before it starts (9)"},
		{[]string{"--seeds", "x"}, `"x" is not a seed`},
		{[]string{"--seed", "1", "--seeds", "1-2"}, "--seed runs one seed"},
		{[]string{"--budget", "0s"}, "--budget 0s"},
		{[]string{"--nemesis", "flood"}, `unknown fault kind "flood"`},
		{[]string{"--unsafe", "nope"}, "nope"},
		{[]string{"--read-mode", "fast"}, `unknown read mode "fast"`},
		{[]string{"--workload", "queue"}, `--workload "queue"`},
		{[]string{"--keep", "some", "--seeds", "1-2"}, "--keep \"some\""},
		{[]string{"--keep", "all"}, "shape a sweep"},
		{[]string{"--nodes", "0"}, "--nodes 0"},
		{[]string{"--time-limit", "10ms"}, "--time-limit 10ms"},
		{[]string{"--workers", "0", "--seeds", "1-2"}, "--workers 0"},
		{[]string{"--name", "a/b"}, `--name "a/b"`},
		{[]string{"extra"}, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"sim", "--store", t.TempDir()}, tt.args...)
			code := run(args, &stderr)
			assert.Equal(t, harness.ExitBadArgs, code, stderr.String())
			assert.Contains(t, stderr.String(), tt.want)
		})
	}
}

func TestParseSeedRange(t *testing.T) {
	tests := []struct {
		in      string
		a, b    int64
		wantErr bool
	}{
		{"1-10000", 1, 10000, false},
		{"7", 7, 7, false},
		{" 0-0 ", 0, 0, false},
		{"5-4", 0, 0, true},
		{"-3", 0, 0, true},
		{"1-", 0, 0, true},
		{"a-b", 0, 0, true},
	}
	for _, tt := range tests {
		a, b, err := parseSeedRange(tt.in)
		if tt.wantErr {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, [2]int64{tt.a, tt.b}, [2]int64{a, b}, tt.in)
	}
}
