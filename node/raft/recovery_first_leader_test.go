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

// TestRecoveringFollowerEndsRecoveryOnAnEmptyLeadersFirstEntry: a wiped
// follower (empty, recovering) gets an uncommitted append from the leader of
// term 4. It ends recovery once the leader's first entry is durable if the
// leader's term starts at index 1 (the leader's log was empty when it won);
// otherwise it waits for a commit of the leader's term: that leader may be a
// stale one, cut off from a majority that committed what the follower lost.
func TestRecoveringFollowerEndsRecoveryOnAnEmptyLeadersFirstEntry(t *testing.T) {
	tests := []struct {
		name           string
		entries        []Entry
		wantRecovering bool
	}{
		{"the leader's term starts at index 1", ents(1, 4, 4), false},
		{"the leader's term starts after older entries", ents(1, 1, 2, 4), true},
		{"only entries of older terms", ents(1, 1, 2), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := follower(t, 3, 0, nil) // n2
			r.recovering = true
			require.NoError(t, r.Step(Message{Type: MsgApp, From: "n1", To: "n2", Term: 4, Entries: tt.entries}))
			assert.True(t, r.Status().Recovering, "nothing durable yet")
			rd := r.Ready()
			require.Len(t, rd.Entries, len(tt.entries))
			r.Advance(rd)
			assert.Equal(t, tt.wantRecovering, r.Status().Recovering)
		})
	}
}
