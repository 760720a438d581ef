package mutate

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeModule writes a module with one package p (its unit tests check Pos
// only at 1, so they miss most of its mutants) and a cmd/faultline whose
// "sim" checks Pos over a range and exits 1 when it is wrong: a harness
// with more power than the unit tests.
func fakeModule(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"go.mod":      "module example.com/m\n\ngo 1.26\n",
		"p/p.go":      "package p\n\n// Pos reports whether a is positive.\nfunc Pos(a int) bool {\n\tif a > 0 {\n\t\treturn true\n\t}\n\treturn false\n}\n",
		"p/p_test.go": "package p\n\nimport \"testing\"\n\nfunc TestPos(t *testing.T) {\n\tif !Pos(1) {\n\t\tt.Fatal(\"Pos(1)\")\n\t}\n}\n",
		"cmd/faultline/main.go": `package main

import (
	"os"

	"example.com/m/p"
)

func main() {
	for a := -2; a <= 2; a++ {
		if p.Pos(a) != (a > 0) {
			os.Exit(1)
		}
	}
}
`,
	}
	for name, content := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	return root
}

// TestRunOnAFakeModule runs a whole campaign: the unmutated build is
// valid, each mutant of Pos is caught by the fake harness, the unit tests
// kill only some, and every output file is written and parses.
func TestRunOnAFakeModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module per mutant")
	}
	root := fakeModule(t)
	dir := filepath.Join(t.TempDir(), "campaign")
	c, err := Run(context.Background(), Options{
		Root: root, Packages: []string{"p"}, MaxMutants: 10, Seed: 1,
		Sweeps:      []Sweep{{Workload: "register", FirstSeed: 1, LastSeed: 5, Budget: 10 * time.Second, Workers: 1}},
		UnitTimeout: time.Minute, Dir: dir, Command: "faultline mutate --packages p",
	})
	require.NoError(t, err)
	s := c.Summary
	require.Len(t, s.Baseline, 1)
	assert.Equal(t, StatusSurvived, s.Baseline[0].Status, "the unmutated build is valid: %s", s.Baseline[0].Output)
	assert.Equal(t, 4, s.Mutants, "a > 0 negated and its boundary moved, true and false swapped")
	assert.Equal(t, 4, s.Caught)
	assert.Equal(t, 1.0, s.Score)
	assert.Equal(t, 2, s.UnitKilled, "Pos(1) tells apart the negation and the first return only")
	for _, r := range c.Results {
		assert.Equal(t, OutcomeCaught, r.Outcome, r.Title())
		assert.Equal(t, CaughtInvalid, r.CaughtBy)
	}

	var back Campaign
	b, err := os.ReadFile(filepath.Join(dir, MutantsFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Len(t, back.Results, 4)
	b, err = os.ReadFile(filepath.Join(dir, JUnitFile))
	require.NoError(t, err)
	var doc junitSuites
	require.NoError(t, xml.Unmarshal(b, &doc))
	assert.Equal(t, 5, doc.Tests, "the unmutated sweep and four mutants")
	assert.Zero(t, doc.Failures)
	page, err := os.ReadFile(filepath.Join(dir, ReportFile))
	require.NoError(t, err)
	assert.Contains(t, string(page), "score 100.0 %")
	src, err := os.ReadFile(filepath.Join(root, "p", "p.go"))
	require.NoError(t, err)
	assert.Contains(t, string(src), "if a > 0 {", "the working tree is never written")
}

// fakeBinary is a script standing in for faultline: it exits with code, or
// sleeps when code is negative.
func fakeBinary(t *testing.T, code int) string {
	t.Helper()
	body := "#!/bin/sh\necho sweeping\nexit " + strings.TrimPrefix(itoa(code), "-") + "\n"
	if code < 0 {
		body = "#!/bin/sh\nexec sleep 30\n"
	}
	path := filepath.Join(t.TempDir(), "faultline")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o755))
	return path
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestSweepOutcomes(t *testing.T) {
	sweep := Sweep{Workload: "set", FirstSeed: 1, LastSeed: 100, Budget: 20 * time.Second, Workers: 2}
	tests := []struct {
		code int
		want string
	}{
		{0, StatusSurvived}, {1, CaughtInvalid}, {2, CaughtUnknown}, {255, CaughtCrash}, {3, CaughtCrash},
	}
	for _, tt := range tests {
		run, err := runSweep(context.Background(), fakeBinary(t, tt.code), t.TempDir(), sweep, true)
		require.NoError(t, err)
		assert.Equal(t, tt.want, run.Status, "exit %d", tt.code)
		assert.Equal(t, tt.code, run.ExitCode)
		assert.Contains(t, run.Command, "faultline sim --workload set --seeds 1-100 --budget 20s --workers 2")
		assert.Contains(t, run.Command, "--stop-at-first")
	}
	_, err := runSweep(context.Background(), fakeBinary(t, 254), t.TempDir(), sweep, true)
	require.ErrorIs(t, err, errBadSweep, "bad arguments are the campaign's error, not the mutant's")
}

func TestSweepThatHangsIsCaughtByTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the hang grace")
	}
	sweep := Sweep{Workload: "register", FirstSeed: 1, LastSeed: 2, Budget: -hangGrace + time.Second, Workers: 1}
	run, err := runSweep(context.Background(), fakeBinary(t, -1), t.TempDir(), sweep, true)
	require.NoError(t, err)
	assert.Equal(t, CaughtTimeout, run.Status)
}

func TestScoreCounts(t *testing.T) {
	c := &Campaign{Summary: Summary{Started: time.Now(), Packages: []string{"node/raft"}}}
	add := func(outcome, unit, by string) {
		c.Results = append(c.Results, Result{Mutant: Mutant{Package: "node/raft"}, Outcome: outcome,
			Unit: UnitResult{Status: unit}, CaughtBy: by})
	}
	add(OutcomeCaught, StatusKilled, CaughtInvalid)
	add(OutcomeCaught, StatusSurvived, CaughtCrash)
	add(OutcomeSurvived, StatusKilled, "")
	add(OutcomeSurvived, StatusSurvived, "")
	add(OutcomeStillborn, "", "")
	add(OutcomeEquivalent, StatusSurvived, "")
	c.finish(time.Now())
	s := c.Summary
	assert.Equal(t, 6, s.Mutants)
	assert.Equal(t, 4, s.Scored, "stillborn and equivalent mutants are not scored")
	assert.Equal(t, 2, s.Caught)
	assert.Equal(t, 0.5, s.Score)
	assert.Equal(t, 2, s.UnitKilled)
	assert.Equal(t, 1, s.UnitOnly)
	assert.Equal(t, 1, s.HarnessOnly)
	assert.Equal(t, [2]int{2, 4}, s.PerPackage["node/raft"])
	assert.Len(t, c.Survivors(), 2)
}
