package checker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

// TestReplayTestdata checks every testdata/*-valid.jsonl and
// *-invalid.jsonl history and asserts the verdict its name promises. A
// history with appends is checked like the set workload (set and list
// linearizability), any other like the register workload. Only the
// correctness checkers decide: stats, availability and convergence depend on
// the run's length and on replica states a history file does not hold.
func TestReplayTestdata(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	require.NoError(t, err)
	var valid, invalid int
	for _, path := range paths {
		name := filepath.Base(path)
		var want Verdict
		switch {
		case strings.HasSuffix(name, "-invalid.jsonl"):
			want, invalid = Invalid, invalid+1
		case strings.HasSuffix(name, "-valid.jsonl"):
			want, valid = Valid, valid+1
		default:
			continue
		}
		t.Run(name, func(t *testing.T) {
			h, err := history.ReadFile(path)
			require.NoError(t, err)
			checkers := []Checker{Linearizability{Model: ModelRegister}}
			if hasAppends(h) {
				checkers = []Checker{Set{}, Linearizability{Model: ModelList}}
			}
			rs := Run(context.Background(), Input{History: h, CheckTimeout: time.Minute}, checkers...)
			assert.Equal(t, want, rs.Verdict, rs.Reason)
			if want == Invalid {
				// The visualization of a failing key must be writable.
				for _, r := range rs.Checkers {
					d, ok := r.Details.(*LinearizabilityDetails)
					if !ok || len(d.FailingKeys) == 0 {
						continue
					}
					out := filepath.Join(t.TempDir(), "key.html")
					require.NoError(t, VisualizeKey(h, d.Model, d.FailingKeys[0].Key, out))
					st, err := os.Stat(out)
					require.NoError(t, err)
					assert.Positive(t, st.Size())
				}
			}
		})
	}
	assert.Positive(t, valid, "testdata needs at least one -valid.jsonl history")
	assert.Positive(t, invalid, "testdata needs at least one -invalid.jsonl history")
}

func hasAppends(h history.History) bool {
	for _, op := range h {
		if op.F == history.FAppend {
			return true
		}
	}
	return false
}
