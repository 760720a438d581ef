package checker

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
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
			got, _ := listPrecheck(byKey["s"])
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

// TestGuidedListModelOrdersHungAppends gives one key the shape that passed the
// memory budget in correct-node runs: many appends pending together (a
// partition), all acknowledged, with no read until a final one that fixes
// their order. The guided model follows that order instead of trying all.
func TestGuidedListModelOrdersHungAppends(t *testing.T) {
	const n = 30
	b := new(builder).appendOp(0, "s", 1, ok).readList(0, "s", false, 1)
	for p := 1; p <= n; p++ {
		b.invoke(p, history.FAppend, "s", v(int64(100+p)), nil)
	}
	final := []int64{1}
	for i := n; i >= 1; i-- { // completions in reverse, order in the list shuffled
		b.complete(i, ok, history.FAppend, "s", v(int64(100+i)))
		final = append(final, int64(100+(i*7)%n+1))
	}
	b.readList(0, "s", true, final...)
	r := Linearizability{Model: ModelList}.Check(context.Background(), Input{History: b.h, CheckTimeout: time.Minute})
	assert.Equal(t, Valid, r.Verdict, r.Reason)

}

// TestGuidedListModelAgreesWithPlainModel checks on random small histories
// that narrowing the list model to the longest read never changes porcupine's
// verdict.
func TestGuidedListModelAgreesWithPlainModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	var checked, illegal int
	for range 3000 {
		ops := randomListKey(rng)
		flagged, longest := listPrecheck(ops)
		if flagged != nil {
			continue
		}
		plain := porcupine.CheckOperations(listModel, ops)
		guided := porcupine.CheckOperations(guideListModel(longest), ops)
		require.Equal(t, plain, guided, "history %v", ops)
		checked++
		if !plain {
			illegal++
		}
	}
	assert.Greater(t, checked, 1000)
	assert.Greater(t, illegal, 50, "the random histories must include illegal ones")
	assert.Less(t, illegal, checked-50, "and legal ones")
}

// randomListKey draws up to 4 appends and 3 reads with random intervals on
// [0, 20); appends may be indeterminate, and reads return a random
// arrangement of some of the appended elements.
func randomListKey(rng *rand.Rand) []porcupine.Operation {
	var ops []porcupine.Operation
	interval := func() (int64, int64) {
		call := rng.Int64N(20)
		return call, call + 1 + rng.Int64N(6)
	}
	appends := 1 + rng.IntN(4)
	for i := range appends {
		call, ret := interval()
		kind := outOK
		if rng.IntN(4) == 0 {
			kind, ret = outUnknown, infinity
		}
		ops = append(ops, porcupine.Operation{ClientId: i, Call: call, Return: ret,
			Input: listInput{op: opAppend, elem: int64(i + 1)}, Output: listOutput{kind: kind}})
	}
	for i := range 1 + rng.IntN(3) {
		call, ret := interval()
		perm := rng.Perm(appends)[:rng.IntN(appends+1)]
		list := make([]int64, len(perm))
		for j, p := range perm {
			list[j] = int64(p + 1)
		}
		ops = append(ops, porcupine.Operation{ClientId: appends + i, Call: call, Return: ret,
			Input: listInput{op: opRead}, Output: listOutput{kind: outOK, list: encodeList(list)}})
	}
	return ops
}
