package mutate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// result is a campaign record of mutant id with outcome whose sweeps ran
// the given seeds of 1-10 each.
func result(id, outcome string, ran ...int) Result {
	r := Result{Mutant: Mutant{ID: id, File: "node/raft/x.go", Line: 1, Operator: "negate-condition", Original: "a", Mutated: "!a"}, Outcome: outcome}
	for _, n := range ran {
		r.Harness = append(r.Harness, HarnessRun{Workload: "register", Seeds: "1-10", Ran: n})
	}
	return r
}

func TestBaselineCompare(t *testing.T) {
	b := Baseline{Caught: map[string]string{"kept": "k", "lost": "l", "short": "s", "gone": "g", "argued": "a"}}
	tests := []struct {
		name string
		res  Result
		want func(Comparison) []string
	}{
		{"caught again", result("kept", OutcomeCaught), nil},
		{"survived every seed of every sweep", result("lost", OutcomeSurvived, 10, 10), func(c Comparison) []string { return c.Lost }},
		{"survived, one sweep's budget ran out", result("short", OutcomeSurvived, 10, 7), func(c Comparison) []string { return c.Undecided }},
		{"argued equivalent since", result("argued", OutcomeEquivalent), func(c Comparison) []string { return c.NotRun }},
		{"a catch the baseline lacks", result("fresh", OutcomeCaught), func(c Comparison) []string { return c.New }},
	}
	var results []Result
	for _, tt := range tests {
		results = append(results, tt.res)
	}
	cmp := b.Compare(&Campaign{Results: results})
	assert.Equal(t, 1, cmp.Kept)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == nil {
				return
			}
			group := tt.want(cmp)
			assert.True(t, slices.ContainsFunc(group, func(s string) bool { return strings.HasPrefix(s, tt.res.ID+" ") }), "%v", group)
		})
	}
	assert.Len(t, cmp.Lost, 1)
	assert.Len(t, cmp.Undecided, 1)
	assert.Len(t, cmp.New, 1)
	assert.Len(t, cmp.NotRun, 2, "gone (not in this sample) and argued")
	assert.Contains(t, cmp.NotRun, "gone g")
	assert.Contains(t, cmp.Undecided[0], "register 10 of 10 seeds, register 7 of 10 seeds")
}

func TestBaselineRoundTrip(t *testing.T) {
	dir := t.TempDir()
	c := &Campaign{Summary: Summary{Command: "faultline mutate --seed 1"},
		Results: []Result{result("a1", OutcomeCaught), result("b2", OutcomeSurvived, 10), result("c3", OutcomeStillborn)}}
	require.NoError(t, writeBaseline(dir, c))
	b, err := ReadBaseline(filepath.Join(dir, BaselineFile))
	require.NoError(t, err)
	assert.Equal(t, "faultline mutate --seed 1", b.Command)
	assert.Equal(t, map[string]string{"a1": "node/raft/x.go:1 negate-condition: a → !a"}, b.Caught)
	assert.Empty(t, b.Compare(c).Lost, "a campaign holds against its own baseline")
}

func TestReadBaselineRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	tests := []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing.json"), "give the baseline.json of an earlier campaign"},
		{write("garbled.json", "{"), "give the baseline.json of an earlier campaign"},
		{write("empty.json", `{"caught": {}}`), "lists no caught mutant"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			_, err := ReadBaseline(tt.path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestCheckedInBaseline: the nightly job's baseline names mutants of the
// sample it is held against, each still a site with the same text, and
// none argued equivalent; a stale file would only report them as not run.
func TestCheckedInBaseline(t *testing.T) {
	b, err := ReadBaseline("baseline-seed1.json")
	require.NoError(t, err)
	all, err := Enumerate("..", []string{"node/raft", "node/kv"})
	require.NoError(t, err)
	sample := map[string]string{}
	for _, m := range Sample(all, 0, 1)[:70] { // the 60 that build, and the stillborn among them
		sample[m.ID] = m.Title()
	}
	eq, err := Equivalents()
	require.NoError(t, err)
	for id, site := range b.Caught {
		assert.Equal(t, site, sample[id], "baseline-seed1.json names %s, not among the seed-1 sample's first mutants with that site", id)
		assert.NotContains(t, eq, id, "%s is argued equivalent and no longer scored", id)
	}
}
