package checker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListPrecheck(t *testing.T) {
	tests := []struct {
		name string
		h    *builder
		// flagged is the index (in the history) of the read invoke the
		// precheck flags, or -1 for none.
		flagged int
	}{
		{"growing reads", new(builder).appendOp(0, "s", 1, ok).readList(2, "s", false, 1).appendOp(0, "s", 2, ok).readList(2, "s", false, 1, 2), -1},
		{"empty history read", new(builder).readList(2, "s", false), -1},
		{"indeterminate append absent", new(builder).appendOp(0, "s", 1, info).readList(2, "s", false), -1},
		{"diverging reads", new(builder).appendOp(0, "s", 1, ok).appendOp(0, "s", 2, info).appendOp(1, "s", 3, info).
			readList(2, "s", false, 1, 2).readList(3, "s", false, 1, 3), 8},
		{"shrinking read", new(builder).appendOp(0, "s", 1, ok).readList(2, "s", false, 1).readList(3, "s", false), 4},
		{"duplicate element", new(builder).appendOp(0, "s", 1, ok).readList(2, "s", false, 1, 1), 2},
		{"acknowledged append missing", new(builder).appendOp(0, "s", 1, ok).appendOp(0, "s", 2, ok).readList(2, "s", true, 1), 4},
		// Orders that need a search are left to porcupine.
		{"wrong order", new(builder).appendOp(0, "s", 1, ok).appendOp(1, "s", 2, ok).readList(2, "s", false, 2, 1), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			byKey, _ := partitionByKey(ModelList, tt.h.h)
			got := listPrecheck(byKey["s"])
			if tt.flagged < 0 {
				assert.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			assert.Equal(t, tt.h.h[tt.flagged].Time, *got)
		})
	}
}

// TestLinearizabilityListPrecheckFlagsWithoutSearch gives a lost append
// among many concurrent indeterminate appends, which porcupine alone cannot
// reject without trying every order of them: the precheck decides it, and
// the flagged op is the read that misses the element.
func TestLinearizabilityListPrecheckFlagsWithoutSearch(t *testing.T) {
	b := new(builder).appendOp(0, "s", 1, ok)
	const n = 30
	for p := 1; p <= n; p++ {
		b.invoke(p, "append", "s", v(int64(100+p)), nil)
	}
	b.readList(0, "s", false, 101, 102)
	r := Linearizability{Model: ModelList}.Check(context.Background(), Input{History: b.h})
	require.Equal(t, Invalid, r.Verdict, r.Reason)
	require.NotNil(t, r.FirstFlagged)
	assert.Equal(t, b.h[len(b.h)-2].Time, *r.FirstFlagged)
}
