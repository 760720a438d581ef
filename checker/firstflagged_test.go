package checker

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

// invokeTime returns the time of the last invoke of process p in h.
func invokeTime(t *testing.T, h history.History, p int) int64 {
	t.Helper()
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Type == history.Invoke && h[i].Process == history.Process(p) {
			return h[i].Time
		}
	}
	t.Fatalf("no invoke of process %d", p)
	return 0
}

func TestFirstFlaggedStaleRead(t *testing.T) {
	// w1 and w2 are acknowledged, a write of 5 never returns, then a read of
	// a fresh key and, on k, a stale read of 1. The stale read is the op no
	// linearization can reach; the pending write is never to blame, even
	// though it was called earlier.
	b := new(builder).write(0, "k", 1, ok).write(0, "k", 2, ok).
		invoke(3, history.FWrite, "k", v(5), nil).
		write(1, "other", 7, ok).read(2, "k", v(1))
	staleCall := invokeTime(t, b.h, 2)

	r := Linearizability{Model: ModelRegister}.Check(context.Background(), Input{History: b.h})
	require.Equal(t, Invalid, r.Verdict, r.Reason)
	require.NotNil(t, r.FirstFlagged)
	assert.Equal(t, staleCall, *r.FirstFlagged)
	d := r.Details.(*LinearizabilityDetails)
	require.Len(t, d.FailingKeys, 1)
	require.NotNil(t, d.FailingKeys[0].FirstFlagged)
	assert.Equal(t, staleCall, *d.FailingKeys[0].FirstFlagged)

	all := Run(context.Background(), Input{History: b.h}, Linearizability{Model: ModelRegister}, Stats{})
	require.Equal(t, Invalid, all.Verdict)
	require.NotNil(t, all.FirstFlagged)
	assert.Equal(t, staleCall, *all.FirstFlagged)
}

func TestFirstFlaggedIgnoresSlowConcurrentOps(t *testing.T) {
	// A read invoked before everything returns last with the value of a
	// write made after the stale read, which it may legally see; the op
	// porcupine cannot place is the stale read, not the slow read called
	// first (which no partial linearization reaches either).
	b := new(builder).invoke(9, history.FRead, "k", nil, nil).
		write(0, "k", 1, ok).write(0, "k", 2, ok).read(2, "k", v(1))
	staleCall := invokeTime(t, b.h, 2)
	b.write(0, "k", 3, ok).complete(9, ok, history.FRead, "k", v(3))

	r := Linearizability{Model: ModelRegister}.Check(context.Background(), Input{History: b.h})
	require.Equal(t, Invalid, r.Verdict, r.Reason)
	require.NotNil(t, r.FirstFlagged)
	assert.Equal(t, staleCall, *r.FirstFlagged)
	assert.Greater(t, *r.FirstFlagged, b.h[0].Time)
}

func TestFirstFlaggedEarliestFailingKey(t *testing.T) {
	// Key "z" (sorted last) goes wrong before key "a": the minimum over the
	// failing keys is z's stale read, and z is described first.
	b := new(builder).write(0, "z", 1, ok).write(0, "z", 2, ok).read(1, "z", v(1))
	zCall := invokeTime(t, b.h, 1)
	b.write(0, "a", 1, ok).write(0, "a", 2, ok).read(2, "a", v(1))

	r := Linearizability{Model: ModelRegister}.Check(context.Background(), Input{History: b.h})
	require.Equal(t, Invalid, r.Verdict)
	require.NotNil(t, r.FirstFlagged)
	assert.Equal(t, zCall, *r.FirstFlagged)
	d := r.Details.(*LinearizabilityDetails)
	require.Len(t, d.FailingKeys, 2)
	assert.Equal(t, "z", d.FailingKeys[0].Key)
	assert.Contains(t, r.Reason, `"z"`)
}

func TestFirstFlaggedNilWhenValid(t *testing.T) {
	b := new(builder).write(0, "k", 1, ok).read(1, "k", v(1)).appendOp(0, "s", 1, ok).readList(2, "s", true, 1)
	all := Run(context.Background(), Input{History: b.h}, Linearizability{Model: ModelRegister}, Set{})
	require.Equal(t, Valid, all.Verdict, all.Reason)
	assert.Nil(t, all.FirstFlagged)
	for _, r := range all.Checkers {
		assert.Nil(t, r.FirstFlagged, r.Checker)
	}
}

func TestFirstFlaggedSet(t *testing.T) {
	t.Run("lost append: its acknowledgement", func(t *testing.T) {
		b := new(builder).appendOp(0, "s", 1, ok).appendOp(1, "s", 2, ok)
		ackOf2 := b.h[len(b.h)-1].Time
		b.appendOp(1, "s", 3, ok).readList(2, "s", true, 1)
		r := Set{}.Check(context.Background(), Input{History: b.h})
		require.Equal(t, Invalid, r.Verdict)
		require.NotNil(t, r.FirstFlagged)
		assert.Equal(t, ackOf2, *r.FirstFlagged)
	})
	t.Run("unexpected element: the final read that shows it", func(t *testing.T) {
		b := new(builder).appendOp(0, "s", 1, ok).readList(2, "s", true, 1)
		b.readList(3, "s", true, 1, 77)
		showCall := invokeTime(t, b.h, 3)
		b.readList(4, "s", true, 1, 77)
		r := Set{}.Check(context.Background(), Input{History: b.h})
		require.Equal(t, Invalid, r.Verdict)
		require.NotNil(t, r.FirstFlagged)
		assert.Equal(t, showCall, *r.FirstFlagged)
	})
	t.Run("lost before unexpected: the earlier wins", func(t *testing.T) {
		b := new(builder).appendOp(0, "s", 1, ok)
		ackOf1 := b.h[len(b.h)-1].Time
		b.appendOp(0, "t", 2, ok).readList(2, "s", true, 99).readList(3, "t", true, 2)
		r := Set{}.Check(context.Background(), Input{History: b.h})
		require.Equal(t, Invalid, r.Verdict)
		require.NotNil(t, r.FirstFlagged)
		assert.Equal(t, ackOf1, *r.FirstFlagged)
	})
}

func TestComposeFirstFlaggedOnlyFromInvalid(t *testing.T) {
	t1, t2, t3 := int64(300), int64(200), int64(100)
	res := Compose([]Result{
		{Checker: "a", Verdict: Invalid, FirstFlagged: &t1},
		{Checker: "b", Verdict: Invalid, FirstFlagged: &t2},
		{Checker: "c", Verdict: Unknown, FirstFlagged: &t3}, // not invalid: ignored
		{Checker: "d", Verdict: Invalid},
	})
	require.NotNil(t, res.FirstFlagged)
	assert.Equal(t, int64(200), *res.FirstFlagged)
	*res.FirstFlagged = 1
	assert.Equal(t, int64(200), t2, "Compose must not alias a checker's time")

	b, err := json.Marshal(res)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"first_flagged_ns":1`)
	var back Results
	require.NoError(t, json.Unmarshal(b, &back))
	require.NotNil(t, back.FirstFlagged)
	assert.Equal(t, int64(1), *back.FirstFlagged)
	require.NotNil(t, back.Checkers[0].FirstFlagged)
	assert.Equal(t, int64(300), *back.Checkers[0].FirstFlagged)
	assert.Nil(t, back.Checkers[3].FirstFlagged)

	assert.Nil(t, Compose([]Result{{Checker: "a", Verdict: Valid, FirstFlagged: &t1}}).FirstFlagged)
}
