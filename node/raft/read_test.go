package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadIndexNeedsAQuorumRound(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	l := nw.elect()
	nw.stabilize()
	r := nw.nodes[l]
	nw.propose(l, "x")
	nw.stabilize()
	commit := r.log.committed

	require.NoError(t, r.ReadIndex(42))
	require.True(t, r.HasReady())
	nw.persist(l) // sends one heartbeat round for the read
	assert.Empty(t, nw.readStates[l], "no ReadState before any follower answered")
	var round uint64
	for _, m := range nw.queue {
		require.Equal(t, MsgHeartbeat, m.Type)
		round = m.Context
	}
	require.NotZero(t, round)

	// One follower's echo makes a quorum of two with the leader.
	f := otherThan(nw.ids, l)
	nw.cutLink(otherThan(nw.ids, l, f), l)
	nw.stabilize()
	require.Equal(t, []ReadState{{RequestID: 42, Index: commit}}, nw.readStates[l])
	assert.Equal(t, r.reads.quorumAckTick, r.Status().LastQuorumAckTick)
}

func TestReadIndexWithoutQuorumNeverConfirms(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	l := nw.elect()
	nw.stabilize()
	nw.isolate(l)
	require.NoError(t, nw.nodes[l].ReadIndex(7))
	nw.persist(l)
	nw.stabilize()
	assert.Empty(t, nw.readStates[l])
	// Check-quorum deposes the leader; the read is dropped, never confirmed.
	for i := 0; i < 30 && nw.nodes[l].role == Leader; i++ {
		nw.tick(l)
		nw.stabilize()
	}
	require.Equal(t, Follower, nw.nodes[l].role)
	assert.Empty(t, nw.readStates[l])
	assert.Equal(t, []uint64{7}, nw.dropped[l])
	assert.ErrorIs(t, nw.nodes[l].ReadIndex(8), ErrNotLeader)
}

func TestReadIndexWaitsForCommitInTerm(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	nw.warm()
	nw.campaign("n1")
	// Deliver votes but hold every append: n1 leads without a commit.
	nw.stabilizeFiltered(func(m Message) bool { return m.Type != MsgApp })
	r := nw.nodes["n1"]
	require.Equal(t, Leader, r.role)
	require.False(t, r.committedInTerm())
	require.NoError(t, r.ReadIndex(1))
	assert.False(t, r.reads.needRound, "no round until the leader knows its commit index")
	nw.tick("n1")
	nw.tick("n1")
	nw.stabilizeFiltered(func(m Message) bool { return m.Type != MsgApp })
	assert.Empty(t, nw.readStates["n1"], "heartbeats alone do not release it")

	nw.heal()
	for range 5 {
		nw.tick("n1")
		nw.stabilize()
	}
	require.True(t, r.committedInTerm())
	require.Len(t, nw.readStates["n1"], 1)
	assert.Equal(t, ReadState{RequestID: 1, Index: 1}, nw.readStates["n1"][0])
}

func TestReadIndexSingleNodeIsImmediate(t *testing.T) {
	nw := newNetwork(t, 1, nil)
	l := nw.elect()
	nw.propose(l, "x")
	require.NoError(t, nw.nodes[l].ReadIndex(3))
	nw.persist(l)
	assert.Equal(t, []ReadState{{RequestID: 3, Index: 2}}, nw.readStates[l])
}

func TestReadsShareOneRound(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	l := nw.elect()
	nw.stabilize()
	nw.sent = nil
	for id := uint64(1); id <= 50; id++ {
		require.NoError(t, nw.nodes[l].ReadIndex(id))
	}
	nw.stabilize()
	nw.persist(l)
	nw.stabilize()
	heartbeats := 0
	for _, m := range nw.sent {
		if m.Type == MsgHeartbeat {
			heartbeats++
		}
	}
	assert.Equal(t, 2, heartbeats, "one round (to two followers) for fifty reads")
	assert.Len(t, nw.readStates[l], 50)
}

func TestLeaseValid(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	l := nw.elect()
	r := nw.nodes[l]
	for range 4 {
		nw.tick()
		nw.stabilize()
	}
	require.True(t, r.LeaseValid(2), "heartbeats acknowledged: lease holds")
	st := r.Status()
	assert.True(t, st.CommittedInTerm)
	assert.LessOrEqual(t, st.Elapsed-st.LastQuorumAckTick, uint64(2))

	// Cut off, the lease runs out before check-quorum deposes the leader.
	nw.isolate(l)
	expired := false
	for r.role == Leader {
		nw.tick(l)
		nw.stabilize()
		if r.role == Leader && !r.LeaseValid(2) {
			expired = true
		}
	}
	assert.True(t, expired, "the lease expired while still leader")
	assert.False(t, r.LeaseValid(0), "a follower has no lease")
	for _, id := range nw.ids {
		if id != l {
			assert.False(t, nw.nodes[id].LeaseValid(0))
		}
	}
}
