package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewClusterSurvivesItsFirstLeaderDyingBeforeItsFirstCommit: a new
// cluster starts with every node recovering (an empty data dir). Its first
// leader a, elected with an empty log, appends its no-op at index 1 and
// the followers make it durable, but a dies before their acknowledgements
// reach it, so nothing is committed. The followers must end recovery on
// that entry: if they wait for its commit they hold a log, so they neither
// campaign nor vote for anything but an empty log, and the cluster never
// elects another leader.
func TestNewClusterSurvivesItsFirstLeaderDyingBeforeItsFirstCommit(t *testing.T) {
	ids := nodeIDs(3)
	stores := map[string]*memStorage{}
	for _, id := range ids {
		stores[id] = &memStorage{recovering: true}
	}
	nw := newNetworkFrom(t, ids, defaultConfig(ids), stores)
	nw.warm()
	a := ids[0]
	nw.expireLease(ids...)
	nw.campaign(a)
	// Votes and the no-op go out; the acknowledgements of the no-op are lost.
	nw.stabilizeFiltered(func(m Message) bool { return m.Type != MsgAppResp })
	require.Equal(t, Leader, nw.nodes[a].role)
	term := nw.nodes[a].term
	require.Zero(t, nw.nodes[a].log.committed, "nothing committed")
	for _, f := range ids[1:] {
		require.Len(t, nw.stores[f].entries, 1, "%s holds the no-op durably", f)
		assert.Equal(t, Entry{Term: term, Index: 1, Type: EntryNoop}, nw.stores[f].entries[0])
		assert.False(t, nw.nodes[f].Status().Recovering, "%s holds the first entry of an empty leader", f)
	}

	nw.isolate(a) // a dies
	b := ids[1]
	nw.expireLease(ids[1:]...)
	nw.campaignUntilLeader(b)
	require.Equal(t, Leader, nw.nodes[b].role, "the followers elect a new leader")
	nw.heartbeat(b)
	assert.Equal(t, uint64(2), nw.nodes[b].log.committed, "a's no-op is committed under b's")

	nw.heal()
	nw.start(a) // a restarts from its disk and follows b
	for range 3 {
		nw.heartbeat(b)
	}
	for _, id := range ids {
		st := nw.nodes[id].Status()
		assert.Equal(t, uint64(2), st.Commit, id)
		assert.False(t, st.Recovering, id)
	}
	nw.requireSafe()
}

// TestRecoveringFollowerEndsRecoveryOnAnEntryAboveItsFloor: a wiped follower
// (empty, recovering) learned its floor, term 3, from n1 and n3, and gets an
// uncommitted append from the leader of term 4. Durably holding any entry of
// a term above the floor ends recovery, committed or not (here the first
// entry of a leader that won with an empty log, a new cluster's first
// leader); entries of the floor's term or below do not, without the last
// index of the floor term's leader: the follower may have acknowledged more
// of that term before the loss. (Index 1 alone proves nothing: in seed 441 a
// node whose torn tail took all of term 1 but its first entry ended recovery
// on it while the leader of term 1 was at index 30.)
func TestRecoveringFollowerEndsRecoveryOnAnEntryAboveItsFloor(t *testing.T) {
	tests := []struct {
		name           string
		entries        []Entry
		wantRecovering bool
	}{
		{"the leader's term starts at index 1", ents(1, 4, 4), false},
		{"the leader's term starts after older entries", ents(1, 1, 2, 4), false},
		{"only entries of the floor's term and older", ents(1, 1, 3), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := recoveringFollower(t, 0, nil)
			answer(t, r, "n1", 3, 0)
			answer(t, r, "n3", 3, 0)
			require.Equal(t, uint64(3), r.term)
			require.NoError(t, r.Step(Message{Type: MsgApp, From: "n1", To: "n2", Term: 4, Entries: tt.entries}))
			assert.True(t, r.Status().Recovering, "nothing durable yet")
			rd := r.Ready()
			require.Len(t, rd.Entries, len(tt.entries))
			r.Advance(rd)
			assert.Equal(t, tt.wantRecovering, r.Status().Recovering)
		})
	}
}

// TestNewClusterCommitsWithOneNodeMissing: a new cluster starts with every
// node recovering, and one of three never answers (down, or refused by its
// peers). The other two cannot hear from a quorum of the others, but the
// first leader won with an empty log and has committed nothing: its answer
// sets the follower's floor, so the follower acknowledges its entries, and
// the cluster commits.
func TestNewClusterCommitsWithOneNodeMissing(t *testing.T) {
	ids := nodeIDs(3)
	stores := map[string]*memStorage{}
	for _, id := range ids {
		stores[id] = &memStorage{recovering: true}
	}
	nw := newNetworkFrom(t, ids, defaultConfig(ids), stores)
	nw.isolate(ids[2])
	nw.warm()
	nw.expireLease(ids[:2]...)
	nw.campaignUntilLeader(ids[0])
	l := nw.nodes[ids[0]]
	require.Equal(t, Leader, l.role)
	idx, _ := nw.propose(ids[0], "first")
	nw.stabilize()
	nw.heartbeat(ids[0])
	assert.Equal(t, idx, l.log.committed)
	assert.False(t, nw.nodes[ids[1]].Status().Recovering)
	nw.requireSafe()
}

// TestOnlyANewClustersFirstLeaderSetsTheFloorAlone: one leader's answer
// sets the floor only if that leader won with an empty log and has committed
// nothing yet; a leader that committed something may be stale, and the node
// waits for a quorum of the others.
func TestOnlyANewClustersFirstLeaderSetsTheFloorAlone(t *testing.T) {
	tests := []struct {
		name              string
		termStart, commit uint64
		wantFloor         bool
	}{
		{"won with an empty log, nothing committed", 1, 0, true},
		{"won with an empty log, committed since", 1, 1, false},
		{"won with a log", 3, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := recoveringFollower(t, 0, nil)
			require.NoError(t, r.Step(Message{Type: MsgRecoverResp, From: "n1", To: "n2", Term: 2, Context: r.rec.nonce,
				Index: tt.termStart + 1, LogTerm: 2, Commit: tt.commit, RejectHint: tt.termStart}))
			assert.Equal(t, !tt.wantFloor, r.ignoresLeaders())
			if tt.wantFloor {
				assert.Equal(t, uint64(2), r.term)
			}
		})
	}
}
