package checker

import (
	"context"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

// explodingListKey is one list key whose search visits every order of every
// subset of n concurrent indeterminate appends: two acknowledged appends are
// read in the wrong order, which passes listPrecheck, so only the search can
// reject it, after trying the appends in every order.
func explodingListKey(n int) []porcupine.Operation {
	b := new(builder).appendOp(0, "s", 1, ok).appendOp(0, "s", 2, ok)
	for p := 1; p <= n; p++ {
		b.invoke(p, history.FAppend, "s", v(int64(100+p)), nil)
	}
	b.readList(0, "s", false, 2, 1)
	byKey, _ := partitionByKey(ModelList, b.h)
	return byKey["s"]
}

func TestMemoryGuardStopsARunawaySearch(t *testing.T) {
	ops := explodingListKey(16)
	flagged, _ := listPrecheck(ops)
	require.Nil(t, flagged, "the key must need a search")
	guard := newMemoryGuard(64 << 20)
	defer guard.Close()

	result, _, overBudget := guard.search(listModel, ops, time.Minute, false)
	assert.True(t, overBudget, "the search must be stopped for memory, not run to its time limit")
	assert.Equal(t, porcupine.Unknown, result)

	// The same guard still lets a small key through to its verdict.
	small, _ := partitionByKey(ModelList, new(builder).appendOp(0, "s", 1, ok).readList(1, "s", false, 1).h)
	result, _, overBudget = guard.search(listModel, small["s"], time.Minute, true)
	assert.False(t, overBudget)
	assert.Equal(t, porcupine.Ok, result)
}

func TestLinearizabilityOverBudgetIsUnknown(t *testing.T) {
	b := explodingRegisterKey(new(builder), "k")
	b.write(0, "easy", 1, ok).read(1, "easy", v(1))

	r := Linearizability{Model: ModelRegister, SearchMemoryBytes: 64 << 20}.Check(context.Background(), Input{History: b.h, CheckTimeout: 5 * time.Minute})
	assert.Equal(t, Unknown, r.Verdict, r.Reason)
	assert.Contains(t, r.Reason, "heap passed 64 MiB")
	d := r.Details.(*LinearizabilityDetails)
	assert.Equal(t, []string{"k"}, d.OverBudgetKeys)
	assert.Equal(t, 0, d.TimedOutKeyCount)
}
