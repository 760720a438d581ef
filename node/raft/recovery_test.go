package raft

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Recovery after storage loss (Raft's amnesia problem): a node whose data
// dir was wiped, or whose log lost a tail, restarts with Restore.Recovering.
// The leader must find where such a follower's log ends whatever match index
// it recorded, and the node must not vote (or count for itself) with a log
// that may lack entries it once acknowledged, until a leader caught it up.

// wipe replaces id's storage with an empty one, as after `rm -rf data-dir`,
// and restarts it. recovering says whether the node knows its storage may
// have lost state (the safe node always does; false plays the old node).
func (nw *network) wipe(id string, recovering bool) {
	nw.stores[id] = &memStorage{recovering: recovering}
	nw.start(id)
}

// heartbeat makes the leader send one heartbeat round and delivers
// everything that follows from it.
func (nw *network) heartbeat(leader string) {
	for range nw.nodes[leader].cfg.HeartbeatTicks {
		nw.tick(leader)
	}
	nw.stabilize()
}

// campaignUntilLeader lets id campaign up to three times (a rejection
// teaches it the voters' term) and delivers everything after each.
func (nw *network) campaignUntilLeader(id string) {
	for range 3 {
		if nw.nodes[id].role == Leader {
			return
		}
		nw.campaign(id)
		nw.stabilize()
	}
}

func TestLeaderCatchesUpWipedFollowers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		wiped int  // followers wiped (2 of 3 nodes is a majority)
		write bool // a write after the wipe (the rejected-append path); else idle (the heartbeat path)
	}{
		{"one follower, idle cluster", 1, false},
		{"one follower, new write", 1, true},
		{"two followers, idle cluster", 2, false},
		{"two followers, new write", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nw := newNetwork(t, 3, nil)
			l := nw.elect()
			for i := range 20 {
				nw.propose(l, fmt.Sprintf("w%d", i))
			}
			nw.stabilize()
			nw.heartbeat(l)
			followers := []string{otherThan(nw.ids, l)}
			if tc.wiped == 2 {
				followers = append(followers, otherThan(nw.ids, l, followers[0]))
			}
			for _, f := range followers {
				nw.wipe(f, true)
				require.True(t, nw.nodes[f].Status().Recovering)
			}
			if tc.write {
				nw.propose(l, "after")
				nw.stabilize()
			}
			for range 3 {
				nw.heartbeat(l)
			}

			leader := nw.nodes[l].Status()
			assert.Equal(t, leader.LastIndex, leader.Commit, "the leader commits again")
			for _, f := range followers {
				st := nw.nodes[f].Status()
				assert.Equal(t, leader.LastIndex, st.LastIndex, "follower %s holds the leader's log", f)
				assert.Equal(t, leader.Commit, st.Commit, "follower %s knows the commit index", f)
				assert.False(t, st.Recovering, "follower %s caught up from the leader", f)
				assert.Equal(t, leader.Commit, uint64(len(nw.stores[f].entries)), "follower %s made the log durable", f)
			}
			nw.requireSafe()
		})
	}
}

// TestWipedVoterCannotElectALogMissingCommittedEntries: "w" is committed on
// the leader and v; v loses its disk, the leader crashes, and c, which never
// got "w", campaigns. A voter that forgot its log grants c's vote and "w" is
// lost; a recovering voter refuses, and the cluster waits for the old leader.
func TestWipedVoterCannotElectALogMissingCommittedEntries(t *testing.T) {
	for _, recovering := range []bool{false, true} {
		t.Run(fmt.Sprintf("recovering=%v", recovering), func(t *testing.T) {
			nw := newNetwork(t, 3, nil)
			l := nw.elect()
			nw.heartbeat(l)
			v := otherThan(nw.ids, l)
			c := otherThan(nw.ids, l, v)
			nw.cutLink(l, c)
			idx, term := nw.propose(l, "w")
			nw.stabilize()
			nw.heartbeat(l)
			require.Equal(t, idx, nw.nodes[l].Status().Commit, "committed on the leader and v")
			require.Less(t, nw.nodes[c].Status().LastIndex, idx, "c never got it")

			nw.isolate(l) // the leader crashes
			nw.wipe(v, recovering)
			nw.expireLease(v, c)
			nw.campaignUntilLeader(c)
			if !recovering {
				require.Equal(t, Leader, nw.nodes[c].role, "the forgetful voter elected c")
				nw.propose(c, "c-write")
				nw.stabilize()
				nw.heartbeat(c)
				got := nw.nodes[c].log.slice(idx, idx+1)
				require.Len(t, got, 1)
				assert.NotEqual(t, "w", string(got[0].Data), "c's log lacks the committed entry")
				assert.Contains(t, nw.violations, fmt.Sprintf("index %d applied as term %d by one node and term %d by %s", idx, term, got[0].Term, c))
				return
			}
			require.NotEqual(t, Leader, nw.nodes[c].role, "the recovering voter refused c")
			nw.campaign(v) // v holds nothing: it must not campaign either
			nw.stabilize()
			require.NotEqual(t, Leader, nw.nodes[v].role)

			nw.heal() // the old leader comes back
			nw.start(l)
			nw.expireLease(l, v, c)
			nw.campaignUntilLeader(l)
			require.Equal(t, Leader, nw.nodes[l].role)
			nw.heartbeat(l)
			nw.heartbeat(l)
			for _, id := range nw.ids {
				e := nw.nodes[id].log.slice(idx, idx+1)
				require.Len(t, e, 1, id)
				assert.Equal(t, "w", string(e[0].Data), id)
			}
			assert.False(t, nw.nodes[v].Status().Recovering)
			nw.requireSafe()
		})
	}
}

// TestRecoveringNodesElectANewClusterLeader: a new cluster starts with every
// node's storage empty, so every node is recovering; an empty candidate may
// still be elected, and the followers end recovery once they hold the new
// leader's committed no-op.
func TestRecoveringNodesElectANewClusterLeader(t *testing.T) {
	ids := nodeIDs(3)
	stores := map[string]*memStorage{}
	for _, id := range ids {
		stores[id] = &memStorage{recovering: true}
	}
	nw := newNetworkFrom(t, ids, defaultConfig(ids), stores)
	l := nw.elect()
	nw.heartbeat(l)
	for _, id := range ids {
		assert.False(t, nw.nodes[id].Status().Recovering, id)
	}
	nw.requireSafe()
}

// TestRecoveringFollowerWithPartialLogStaysRecovering: a follower that
// restarts mid catch-up (a log, still recovering) neither campaigns nor
// grants votes, and ends recovery only at the leader's commit.
func TestRecoveringFollowerWithPartialLogStaysRecovering(t *testing.T) {
	r := follower(t, 3, 0, ents(1, 1, 2, 3)) // n2
	r.recovering = true
	r.ticks = uint64(r.cfg.ElectionTicks)
	r.electionElapsed = r.cfg.ElectionTicks

	r.preCampaign()
	assert.Equal(t, Follower, r.role, "no campaign with a log that may lack entries")
	assert.Empty(t, r.msgs)

	require.NoError(t, r.Step(Message{Type: MsgVote, From: "n3", To: "n2", Term: 4, Index: 10, LogTerm: 3}))
	require.Len(t, r.msgs, 1)
	assert.True(t, r.msgs[0].Reject, "no vote, however long the candidate's log")
	r.msgs = nil

	// The leader of term 4 appends its no-op and commits it.
	require.NoError(t, r.Step(Message{Type: MsgApp, From: "n1", To: "n2", Term: 4, Index: 3, LogTerm: 3,
		Entries: ents(4, 4), Commit: 3}))
	rd := r.Ready()
	r.Advance(rd)
	assert.True(t, r.Status().Recovering, "commit 3 is of term 3, before the leader's term")
	require.NoError(t, r.Step(Message{Type: MsgHeartbeat, From: "n1", To: "n2", Term: 4, Commit: 4}))
	r.Advance(r.Ready())
	assert.False(t, r.Status().Recovering, "holds a committed entry of the leader's term")
}

// TestLeaderCatchesUpFollowerWhoseOldEntriesCameBack: f acknowledged the
// new leader's entry at index k, then lost it in a crash that brought back
// the older entry it had replaced (a disk that dropped writes: skip-fsync,
// or a lost page cache). Its log is as long as before, so only a rejection
// of the probe at the match index shows the loss. The leader used to probe
// that index again and again (each rejection answered at once, for ever);
// it must forget the match and find where the logs agree.
func TestLeaderCatchesUpFollowerWhoseOldEntriesCameBack(t *testing.T) {
	nw := newNetwork(t, 5, nil)
	a := nw.elect()
	nw.propose(a, "w")
	nw.stabilize()
	nw.heartbeat(a)

	// Only f gets a's "x" at index k, and a never hears it back.
	f := otherThan(nw.ids, a)
	for _, other := range nw.ids {
		if other != a && other != f {
			nw.cutLink(a, other)
		}
	}
	nw.cutLink(f, a)
	k, oldTerm := nw.propose(a, "x")
	nw.stabilize()
	old := *nw.stores[f]
	old.entries = slices.Clone(old.entries)
	require.Equal(t, k, uint64(len(old.entries)), "f holds x")

	// a is cut off; g wins with the two nodes that lack x and replaces x on f.
	nw.isolate(a)
	nw.cut[a][f], nw.cut[f][a] = true, true
	g := otherThan(nw.ids, a, f)
	nw.expireLease(nw.ids...)
	nw.campaignUntilLeader(g)
	require.Equal(t, Leader, nw.nodes[g].role)
	nw.heartbeat(g)
	gTerm, ok := nw.nodes[g].log.term(k)
	require.True(t, ok)
	require.Greater(t, gTerm, oldTerm)
	require.GreaterOrEqual(t, nw.nodes[g].progress[f].match, k, "f acknowledged g's entry at k")

	// f crashes and its disk comes back as it was before g's append.
	nw.stores[f] = &old
	nw.start(f)
	nw.propose(g, "z")
	nw.stabilize()
	for range 3 {
		nw.heartbeat(g)
	}

	leader, follower := nw.nodes[g], nw.nodes[f]
	require.Equal(t, leader.log.lastIndex(), follower.log.lastIndex())
	for i := k; i <= leader.log.lastIndex(); i++ {
		lt, _ := leader.log.term(i)
		ft, _ := follower.log.term(i)
		assert.Equal(t, lt, ft, "term at index %d", i)
	}
	assert.Equal(t, leader.log.committed, follower.log.committed)
	nw.requireSafe()
}

// TestRecoveringNodeWhoseHardStateWasCutOffRejoins: a torn tail that
// reached the start of the newest WAL segment takes the hard state with it
// while the snapshot, a file of its own, survives. The node restarts in the
// snapshot's term (made durable before it speaks), grants no vote, and a
// leader catches it up. Without Restore.Recovering the same storage is
// refused: a term below the last entry's is damage nothing explains.
func TestRecoveringNodeWhoseHardStateWasCutOffRejoins(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	l := nw.elect()
	for i := range 10 {
		nw.propose(l, fmt.Sprintf("w%d", i))
	}
	nw.stabilize()
	nw.heartbeat(l)
	f := otherThan(nw.ids, l)
	snapIndex := nw.nodes[f].log.committed
	snapTerm, ok := nw.nodes[f].log.term(snapIndex)
	require.True(t, ok)
	torn := func(recovering bool) *memStorage {
		return &memStorage{snapshot: &Snapshot{Index: snapIndex, Term: snapTerm}, recovering: recovering}
	}

	_, err := New(nw.cfg(f), torn(false).restore())
	require.ErrorContains(t, err, "above the persisted term", "not recovering: refused")

	nw.stores[f] = torn(true)
	nw.start(f)
	r := nw.nodes[f]
	assert.Equal(t, snapTerm, r.term)
	assert.True(t, r.Status().Recovering)
	rd := r.Ready()
	require.NotNil(t, rd.HardState, "the raised term is persisted first")
	assert.Equal(t, HardState{Term: snapTerm, Commit: snapIndex}, *rd.HardState)
	nw.stores[f].hardState = *rd.HardState
	r.Advance(rd)

	// A candidate of the current term, which f has not voted in as far as
	// its disk knows, asks for its vote.
	nw.expireLease(f)
	require.NoError(t, r.Step(Message{Type: MsgVote, From: otherThan(nw.ids, l, f), To: f, Term: snapTerm,
		Index: snapIndex + 5, LogTerm: snapTerm}))
	rd = r.Ready()
	require.Len(t, rd.Messages, 1)
	assert.True(t, rd.Messages[0].Reject, "no vote before a leader caught it up")
	assert.Nil(t, rd.HardState, "no vote recorded")
	r.Advance(rd)

	nw.propose(l, "after")
	nw.stabilize()
	for range 3 {
		nw.heartbeat(l)
	}
	assert.False(t, r.Status().Recovering)
	assert.Equal(t, nw.nodes[l].log.lastIndex(), r.log.lastIndex())
	assert.Equal(t, nw.nodes[l].log.committed, r.log.committed)
	nw.requireSafe()
}
