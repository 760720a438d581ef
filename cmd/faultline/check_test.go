package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/rundir"
)

// casFailure is a history Jepsen recorded (a partition nemesis and a stale
// read), whose published verdict is invalid; see its README.
var casFailure = filepath.Join("..", "..", "history", "testdata", "jepsen", "knossos-cas-failure-invalid.edn")

// TestCheckJepsenHistoryCommand runs `faultline check FILE --workload
// register --out DIR` on a recorded Jepsen history: it exits with the
// published verdict, writes the results and report to DIR only, and says
// which checkers it skipped and why.
func TestCheckJepsenHistoryCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	before, err := os.ReadFile(casFailure)
	require.NoError(t, err)
	var stderr bytes.Buffer
	code := run([]string{"check", "--workload", "register", "--out", out, casFailure}, &stderr)
	assert.Equal(t, harness.ExitInvalid, code, "stderr: %s", stderr.String())
	for _, f := range []string{rundir.TestFile, rundir.HistoryFile, rundir.ResultsFile, "index.html"} {
		assert.FileExists(t, filepath.Join(out, f))
	}
	after, err := os.ReadFile(casFailure)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	assert.NoDirExists(t, harness.DefaultOutDir(casFailure), "with --out nothing is written next to the input")

	// The output is a run directory: checking it again gives the same verdict.
	code = run([]string{"check", out}, &stderr)
	assert.Equal(t, harness.ExitInvalid, code, "stderr: %s", stderr.String())
}

func TestPrintCheck(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	rep, err := harness.Check(context.Background(), casFailure, harness.CheckOptions{Workload: "register", Out: out})
	require.NoError(t, err)
	var buf bytes.Buffer
	printCheck(&buf, "h.edn", rep)
	text := buf.String()
	for _, want := range []string{
		"h.edn: invalid: linearizability found a violation",
		"\n  linearizability    invalid  1 of 1 keys are not linearizable",
		"\n  convergence: skipped (no replica states in this history)\n",
		"\n  leaders: skipped (no leader sightings in this history)\n",
		"\n  note: the ops have no :time; op i is placed at i ms, in file order\n",
		"\nchecked 590 ops of a Jepsen history (register workload) in ",
		"\nresults and report: " + filepath.Join(out, "index.html") + "\n",
	} {
		assert.Contains(t, text, want)
	}
}
