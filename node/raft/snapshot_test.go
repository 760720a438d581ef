package raft

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSnapshotSentToLaggingFollower(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	l := nw.elect()
	nw.stabilize()
	lagging := otherThan(nw.ids, l)
	nw.isolate(lagging)
	for i := range 40 {
		nw.propose(l, fmt.Sprintf("v%d", i))
		nw.stabilize()
	}
	r := nw.nodes[l]
	require.Equal(t, uint64(41), r.log.applied)
	require.NoError(t, r.Compact(Snapshot{Index: 30, Data: []byte("state@30")}))
	require.Equal(t, uint64(31), r.Status().FirstIndex)

	nw.heal()
	nw.sent = nil
	for range 10 {
		nw.tick()
		nw.stabilize()
	}
	var snaps []Message
	for _, m := range nw.sent {
		if m.Type == MsgSnap {
			snaps = append(snaps, m)
		}
	}
	require.Len(t, snaps, 1, "one snapshot, then entries")
	assert.Equal(t, lagging, snaps[0].To)
	assert.Equal(t, uint64(30), snaps[0].Snapshot.Index)

	f := nw.nodes[lagging]
	st := nw.stores[lagging]
	require.NotNil(t, st.snapshot, "the follower persisted the snapshot")
	assert.Equal(t, []byte("state@30"), st.snapshot.Data)
	assert.Equal(t, r.log.committed, f.log.committed)
	assert.Equal(t, r.log.lastIndex(), f.log.lastIndex())
	assert.Equal(t, uint64(30), f.Status().SnapshotIndex)
	assert.Equal(t, r.log.lastIndex(), f.Status().Applied)
	// Entries after the snapshot were applied in order.
	applied := nw.appliedBy[lagging]
	require.NotEmpty(t, applied)
	assert.Equal(t, uint64(31), applied[0].Index)
	nw.requireSafe()

	// The follower restarts from snapshot + WAL.
	nw.start(lagging)
	assert.Equal(t, uint64(30), nw.nodes[lagging].log.snapshotIndex)
	assert.Equal(t, r.log.lastIndex(), nw.nodes[lagging].log.lastIndex())
}

func TestFollowerSnapshotReadyAndResponse(t *testing.T) {
	r := follower(t, 2, 1, ents(1, 1, 1, 1))
	snap := &Snapshot{Index: 10, Term: 2, Data: []byte("sm")}
	require.NoError(t, r.Step(Message{Type: MsgSnap, From: "n1", To: "n2", Term: 2, Snapshot: snap}))
	rd := r.Ready()
	require.NotNil(t, rd.Snapshot)
	assert.Equal(t, uint64(10), rd.Snapshot.Index)
	assert.Empty(t, rd.Entries)
	assert.Empty(t, rd.CommittedEntries)
	require.Len(t, rd.Messages, 1)
	assert.Equal(t, Message{Type: MsgAppResp, From: "n2", To: "n1", Term: 2, Index: 10}, rd.Messages[0])
	require.NotNil(t, rd.HardState)
	assert.Equal(t, uint64(10), rd.HardState.Commit)
	r.Advance(rd)
	st := r.Status()
	assert.Equal(t, uint64(10), st.Applied)
	assert.Equal(t, uint64(10), st.LastIndex)
	assert.False(t, r.HasReady())

	// An older snapshot is answered with the commit index and ignored.
	require.NoError(t, r.Step(Message{Type: MsgSnap, From: "n1", To: "n2", Term: 2, Snapshot: &Snapshot{Index: 5, Term: 1}}))
	rd = r.Ready()
	assert.Nil(t, rd.Snapshot)
	require.Len(t, rd.Messages, 1)
	assert.Equal(t, uint64(10), rd.Messages[0].Index)
}

func TestSnapshotResentWhenLost(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	l := nw.elect()
	nw.stabilize()
	lagging := otherThan(nw.ids, l)
	nw.isolate(lagging)
	for i := range 10 {
		nw.propose(l, fmt.Sprintf("v%d", i))
		nw.stabilize()
	}
	require.NoError(t, nw.nodes[l].Compact(Snapshot{Index: 8}))
	nw.heal()
	// Drop the first snapshot.
	nw.hook = func(from string, m Message) {
		if m.Type == MsgSnap {
			nw.cutLink(l, lagging)
			nw.hook = nil
		}
	}
	for range 5 {
		nw.tick()
		nw.stabilize()
	}
	require.Less(t, nw.nodes[lagging].log.committed, uint64(8))
	nw.heal()
	for range 30 {
		nw.tick()
		nw.stabilize()
	}
	assert.Equal(t, nw.nodes[l].log.committed, nw.nodes[lagging].log.committed, "the snapshot was sent again")
	nw.requireSafe()
}
