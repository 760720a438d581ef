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
	"fmt"
	"os"
	"path/filepath"

	"example.com/m/p"
)

// main writes a sweep file whose "history" of every seed is what Pos
// answered, then exits 1 if an answer was wrong.
func main() {
	store := "."
	for i, a := range os.Args {
		if a == "--store" && i+1 < len(os.Args) {
			store = os.Args[i+1]
		}
	}
	history, wrong := "", false
	for a := -2; a <= 2; a++ {
		history += fmt.Sprint(p.Pos(a))
		wrong = wrong || p.Pos(a) != (a > 0)
	}
	dir := filepath.Join(store, "sim-register-all")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(err)
	}
	sweep := fmt.Sprintf("{\"history_digests\": {\"1\": %q, \"2\": %q}}", history, history)
	if err := os.WriteFile(filepath.Join(dir, "sweep-1.json"), []byte(sweep), 0o644); err != nil {
		panic(err)
	}
	if wrong {
		os.Exit(1)
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
		require.Len(t, r.Harness, 1)
		assert.Equal(t, 2, r.Harness[0].Compared, "both seeds ran in the mutant's sweep and the unmutated one's")
		assert.Equal(t, 2, r.Harness[0].Differing, "every mutant of Pos changes what it answers")
		assert.Equal(t, int64(1), r.Harness[0].FirstDiffering)
	}

	var back Campaign
	b, err := os.ReadFile(filepath.Join(dir, MutantsFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Len(t, back.Results, 4)
	b, err = os.ReadFile(filepath.Join(dir, JUnitFile))
	require.NoError(t, err)
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	require.NoError(t, xml.Unmarshal(b, &doc))
	assert.Equal(t, 5, doc.Tests, "the unmutated sweep and four mutants")
	assert.Zero(t, doc.Failures)
	base, err := ReadBaseline(filepath.Join(dir, BaselineFile))
	require.NoError(t, err)
	assert.Len(t, base.Caught, 4, "the campaign lists its catches for a later one to hold against")
	page, err := os.ReadFile(filepath.Join(dir, ReportFile))
	require.NoError(t, err)
	assert.Contains(t, string(page), "score 100.0 %")
	src, err := os.ReadFile(filepath.Join(root, "p", "p.go"))
	require.NoError(t, err)
	assert.Contains(t, string(src), "if a > 0 {", "the working tree is never written")
}

// fakeBinary is a script standing in for faultline: it writes an empty
// sweep file into its --store and exits with code, or sleeps when code is
// negative.
func fakeBinary(t *testing.T, code int) string {
	t.Helper()
	body := "#!/bin/sh\necho sweeping\nwhile [ $# -gt 0 ]; do [ \"$1\" = --store ] && store=$2; shift; done\n" +
		"mkdir -p $store/sim && echo '{}' > $store/sim/sweep-1.json\nexit " + strings.TrimPrefix(itoa(code), "-") + "\n"
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

// TestSweepThatDiesWithoutItsFile: a sweep process that exits 1 or 2
// without writing its sweep file died (a Go runtime fatal error exits with
// 2, as an undecided sweep does) and counts as a crash; one that exits 0
// without it is the campaign's error.
func TestSweepThatDiesWithoutItsFile(t *testing.T) {
	sweep := Sweep{Workload: "register", FirstSeed: 1, LastSeed: 10, Budget: 20 * time.Second, Workers: 1}
	dying := func(code int) string {
		path := filepath.Join(t.TempDir(), "faultline")
		body := "#!/bin/sh\necho 'fatal error: sync: RUnlock of unlocked RWMutex' >&2\nexit " + itoa(code) + "\n"
		require.NoError(t, os.WriteFile(path, []byte(body), 0o755))
		return path
	}
	for _, code := range []int{1, 2} {
		run, err := runSweep(context.Background(), dying(code), t.TempDir(), sweep, true)
		require.NoError(t, err)
		assert.Equal(t, CaughtCrash, run.Status, "exit %d", code)
		assert.Contains(t, run.Output, "fatal error")
	}
	_, err := runSweep(context.Background(), dying(0), t.TempDir(), sweep, true)
	assert.ErrorContains(t, err, "sweep file")
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

func TestCompareWithTheUnmutatedNode(t *testing.T) {
	base := HarnessRun{digests: map[int64]string{1: "a", 2: "b", 3: "c", 4: "d"}}
	tests := []struct {
		name                string
		digests             map[int64]string
		compared, differing int
		first               int64
		observed            string
	}{
		{"identical", map[int64]string{1: "a", 2: "b"}, 2, 0, 0, "history identical to the unmutated node's on all 2 seeds"},
		{"differs", map[int64]string{1: "a", 2: "x", 3: "c", 4: "y"}, 4, 2, 2, "history differs from the unmutated node's on 2 of 4 seeds (first: seed 2)"},
		{"seeds the unmutated sweep did not reach", map[int64]string{4: "d", 9: "z"}, 1, 0, 0, "history identical to the unmutated node's on all 1 seeds"},
		{"nothing compared", nil, 0, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := HarnessRun{digests: tt.digests}
			h.compare(base)
			assert.Equal(t, tt.compared, h.Compared)
			assert.Equal(t, tt.differing, h.Differing)
			assert.Equal(t, tt.first, h.FirstDiffering)
			assert.Equal(t, tt.observed, h.Observed())
		})
	}
}

// TestRefutedEquivalenceIsAScoredSurvivor: an argument in equivalent.json
// counts only while the runs agree with it.
func TestRefutedEquivalenceIsAScoredSurvivor(t *testing.T) {
	r := Result{Mutant: Mutant{ID: "m", Package: "node/raft"}, Outcome: OutcomeSurvived, Equivalence: "never matters",
		Harness: []HarnessRun{{Workload: "register", Status: StatusSurvived, Compared: 10, Differing: 3, FirstDiffering: 4}}}
	assert.True(t, r.observable())
	c := &Campaign{Summary: Summary{Started: time.Now(), Packages: []string{"node/raft"}}, Results: []Result{r}}
	c.finish(time.Now())
	var out strings.Builder
	PrintSummary(&out, c)
	assert.Contains(t, out.String(), "ARGUED EQUIVALENT BUT OBSERVABLE m")
	assert.Contains(t, out.String(), "register: history differs from the unmutated node's on 3 of 10 seeds (first: seed 4)")
	assert.Equal(t, 1, c.Summary.Scored)
}
