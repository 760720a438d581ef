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
			// v's probe to l was lost while l was away, so v does not know
			// its floor yet and ignores leaders; its tick asks again.
			for range nw.nodes[v].cfg.HeartbeatTicks {
				nw.tick(v)
			}
			nw.stabilize()
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

// recoveringFollower is n2 of three, restarted recovering from log, with the
// probes of its start taken out of its outbox.
func recoveringFollower(t *testing.T, term uint64, log []Entry) *Raft {
	r, err := New(defaultConfig(nodeIDs(3))("n2"), Restore{HardState: HardState{Term: term}, Entries: log, Recovering: true})
	require.NoError(t, err)
	rd := r.Ready()
	var probed []string
	for _, m := range rd.Messages {
		require.Equal(t, MsgRecover, m.Type)
		require.Equal(t, r.rec.nonce, m.Context)
		probed = append(probed, m.To)
	}
	require.ElementsMatch(t, []string{"n1", "n3"}, probed, "a recovering node asks every peer for its term")
	r.Advance(rd)
	r.ticks = uint64(r.cfg.ElectionTicks)
	r.electionElapsed = r.cfg.ElectionTicks
	return r
}

// answer delivers a peer's answer to r's probes: its term, and its last
// entry if it leads that term.
func answer(t *testing.T, r *Raft, from string, term, leaderLast uint64) {
	m := Message{Type: MsgRecoverResp, From: from, To: r.id, Term: term, Context: r.rec.nonce}
	if leaderLast > 0 {
		m.Index, m.LogTerm = leaderLast, term
	}
	require.NoError(t, r.Step(m))
}

// TestRecoveringFollowerWithPartialLogStaysRecovering: a follower that
// restarts mid catch-up (a log, still recovering) neither campaigns nor
// grants votes; it ignores the leader until a quorum of the others told it
// their terms, and ends recovery only once it holds the leader's log up to
// the last index the leader reported: a committed entry of the leader's term
// is not enough, it may have acknowledged more of that term before the loss.
func TestRecoveringFollowerWithPartialLogStaysRecovering(t *testing.T) {
	r := recoveringFollower(t, 3, ents(1, 1, 2, 3))

	r.preCampaign()
	assert.Equal(t, Follower, r.role, "no campaign with a log that may lack entries")
	assert.Empty(t, r.msgs)

	require.NoError(t, r.Step(Message{Type: MsgVote, From: "n3", To: "n2", Term: 4, Index: 10, LogTerm: 3}))
	require.Len(t, r.msgs, 1)
	assert.True(t, r.msgs[0].Reject, "no vote, however long the candidate's log")
	r.msgs = nil

	// The leader of term 4 appends before any answer came: ignored.
	app := Message{Type: MsgApp, From: "n1", To: "n2", Term: 4, Index: 3, LogTerm: 3, Entries: ents(4, 4), Commit: 3}
	require.NoError(t, r.Step(app))
	assert.Equal(t, []Message{{Type: MsgRecover, From: "n2", To: "n1", Term: 4, Context: r.rec.nonce}}, r.msgs,
		"no answer to a leader it cannot judge, only a probe for its last index")
	assert.Equal(t, uint64(3), r.log.lastIndex())
	assert.Empty(t, r.leader)
	r.msgs = nil
	require.NoError(t, r.Step(app))
	assert.Empty(t, r.msgs, "that leader is asked once per term")

	// n1 (leading term 4, last index 5) and n3 answer: the floor is 4.
	answer(t, r, "n1", 4, 5)
	assert.True(t, r.ignoresLeaders(), "one answer of three nodes is not a quorum of the others")
	answer(t, r, "n3", 4, 0)
	assert.False(t, r.ignoresLeaders())
	assert.Equal(t, uint64(4), r.term, "takes the floor as its term")

	require.NoError(t, r.Step(app))
	require.Len(t, r.msgs, 1)
	assert.Equal(t, Message{Type: MsgAppResp, From: "n2", To: "n1", Term: 4, Index: 4}, r.msgs[0])
	rd := r.Ready()
	r.Advance(rd)
	require.NoError(t, r.Step(Message{Type: MsgHeartbeat, From: "n1", To: "n2", Term: 4, Commit: 4}))
	r.Advance(r.Ready())
	assert.Equal(t, uint64(3), r.log.committed, "a recovering node takes no commit index from heartbeats")
	require.NoError(t, r.Step(Message{Type: MsgApp, From: "n1", To: "n2", Term: 4, Index: 4, LogTerm: 4, Commit: 4}))
	r.Advance(r.Ready())
	assert.Equal(t, uint64(4), r.log.committed)
	assert.True(t, r.Status().Recovering, "a committed entry of the leader's term, but below the leader's last index")

	require.NoError(t, r.Step(Message{Type: MsgApp, From: "n1", To: "n2", Term: 4, Index: 4, LogTerm: 4, Entries: ents(5, 4), Commit: 4}))
	assert.True(t, r.Status().Recovering, "not durable yet")
	r.Advance(r.Ready())
	assert.False(t, r.Status().Recovering, "holds the leader's log up to its reported last index")
}

// TestRecoveringNodeVotesOnlyForALogThatCoversWhatItMayHaveAcknowledged: with
// the floor known (term 4, whose leader reported last index 5), a recovering
// node grants a vote to a candidate whose last entry is of a later term, or of
// the floor's term at or after 5, and refuses any other. (An empty candidate
// gets the vote of an empty recovering node only: a new cluster's first
// election, TestRecoveringNodesElectANewClusterLeader.)
func TestRecoveringNodeVotesOnlyForALogThatCoversWhatItMayHaveAcknowledged(t *testing.T) {
	tests := []struct {
		name             string
		lastIndex, lastT uint64
		want             bool
	}{
		{"a later term", 3, 5, true},
		{"the floor's term, at the leader's last index", 5, 4, true},
		{"the floor's term, beyond it", 9, 4, true},
		{"the floor's term, short of it", 4, 4, false},
		{"an earlier term, however long", 20, 3, false},
		{"an empty log, behind ours", 0, 0, false},
	}
	for _, tt := range tests {
		for _, pre := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/pre=%v", tt.name, pre), func(t *testing.T) {
				r := recoveringFollower(t, 3, ents(1, 1, 2, 3))
				answer(t, r, "n1", 4, 5)
				answer(t, r, "n3", 4, 0)
				typ := MsgVote
				if pre {
					typ = MsgPreVote
				}
				require.NoError(t, r.Step(Message{Type: typ, From: "n3", To: "n2", Term: 5, Index: tt.lastIndex, LogTerm: tt.lastT}))
				require.Len(t, r.msgs, 1)
				assert.Equal(t, !tt.want, r.msgs[0].Reject)
				assert.True(t, r.Status().Recovering, "voting ends nothing")
			})
		}
	}
}

// TestRecoveringNodeIgnoresStaleAnswers: an answer without this start's
// nonce (to the probe of an earlier start, or of no one) teaches nothing; a
// node that is not recovering answers probes without changing anything.
func TestRecoveringNodeIgnoresStaleAnswers(t *testing.T) {
	r := recoveringFollower(t, 3, ents(1, 1, 2, 3))
	for _, from := range []string{"n1", "n3"} {
		require.NoError(t, r.Step(Message{Type: MsgRecoverResp, From: from, To: "n2", Term: 4, Context: r.rec.nonce + 1}))
	}
	assert.True(t, r.ignoresLeaders())
	assert.Equal(t, uint64(3), r.term)

	l := follower(t, 7, 0, ents(1, 1, 2, 7))
	l.becomeFollower(7, "n1")
	require.NoError(t, l.Step(Message{Type: MsgRecover, From: "n3", To: "n2", Term: 0, Context: 42}))
	assert.Equal(t, []Message{{Type: MsgRecoverResp, From: "n2", To: "n3", Term: 7, Context: 42}}, l.msgs,
		"a follower answers with its term and no last index")
	assert.Equal(t, uint64(7), l.term)
	assert.Equal(t, "n1", l.leader, "a probe changes nothing")
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
	for _, m := range rd.Messages {
		require.Equal(t, MsgRecover, m.Type, "nothing but the probes for the peers' terms")
		nw.enqueue(m)
	}
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

// TestRecoveringNodeHoldsWhatItAcknowledgedInTheLeadersTerm: the simulator's
// seeds 441 and 911. The follower w acknowledged "x" and "y" of the
// leader's term, and the leader committed them with w (c was cut off). A
// torn tail takes them from w, which keeps an older entry of the same term,
// committed. That entry proved nothing: w must not end recovery until it
// holds the leader's log up to where the leader was after the loss, so when
// the leader dies first, w refuses c, which lacks x and y.
func TestRecoveringNodeHoldsWhatItAcknowledgedInTheLeadersTerm(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	l := nw.elect()
	nw.propose(l, "a")
	nw.stabilize()
	nw.heartbeat(l)
	w := otherThan(nw.ids, l)
	c := otherThan(nw.ids, l, w)
	kept := nw.nodes[w].log.committed
	keptTerm, _ := nw.nodes[w].log.term(kept)
	require.Equal(t, nw.nodes[l].term, keptTerm, "w keeps a committed entry of the leader's term")

	nw.cutLink(l, c)
	nw.propose(l, "x")
	k, _ := nw.propose(l, "y")
	nw.stabilize()
	nw.heartbeat(l)
	require.Equal(t, k, nw.nodes[l].log.committed, "x and y committed on l and w")
	require.Less(t, nw.nodes[c].log.lastIndex(), k-1, "c never got them")

	// The torn tail: w keeps its hard state and the log up to kept.
	st := nw.stores[w]
	st.entries = slices.Clone(st.entries[:kept])
	st.hardState.Commit = kept
	st.recovering = true
	nw.start(w)
	// l keeps its heartbeats going; its appends to w are lost.
	noAppendsToW := func(m Message) bool {
		return !(m.From == l && m.To == w && (m.Type == MsgApp || m.Type == MsgSnap))
	}
	for range 3 {
		for range nw.nodes[l].cfg.HeartbeatTicks {
			nw.tick(l, w)
		}
		nw.stabilizeFiltered(noAppendsToW)
	}
	assert.Equal(t, l, nw.nodes[w].leader, "w follows l")
	assert.True(t, nw.nodes[w].Status().Recovering, "w holds a committed entry of l's term, but not x and y")

	nw.isolate(l) // l dies
	nw.expireLease(w, c)
	nw.campaignUntilLeader(c)
	require.NotEqual(t, Leader, nw.nodes[c].role, "w refused c, which lacks x and y")

	nw.heal()
	nw.expireLease(nw.ids...)
	nw.campaignUntilLeader(l)
	require.Equal(t, Leader, nw.nodes[l].role)
	for range 3 {
		nw.heartbeat(l)
	}
	for _, id := range nw.ids {
		got := nw.nodes[id].log.slice(k-1, k+1)
		require.Len(t, got, 2, id)
		assert.Equal(t, "x", string(got[0].Data), id)
		assert.Equal(t, "y", string(got[1].Data), id)
	}
	assert.False(t, nw.nodes[w].Status().Recovering)
	nw.requireSafe()
}

// TestRecoveringNodeDoesNotServeAStaleLeader: a leads term T; b and w elect
// b in T+1 while a is cut off, and commit "e". w loses its disk, and comes
// back reaching a but not b. a, which never heard of T+1, is stale, but w's
// disk no longer says so: w must neither acknowledge a's appends (a would
// commit over e with them), nor end recovery on a's commit, nor vote a into
// a new term (a lacks e, and w may have voted in T+1 already). It learns its
// floor once b answers too, and then follows b.
func TestRecoveringNodeDoesNotServeAStaleLeader(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	a, b, w, staleTerm := nw.cutOffLeader()
	nw.campaignUntilLeader(b)
	require.Equal(t, Leader, nw.nodes[b].role)
	require.Greater(t, nw.nodes[b].term, staleTerm)
	ei, et := nw.propose(b, "e")
	nw.stabilize()
	nw.heartbeat(b)
	require.Equal(t, ei, nw.nodes[b].log.committed, "e committed on b and w")

	// w loses its disk; b goes down; a and w reach each other.
	staleIndex := nw.staleLeaderMeetsWiped(a, b, w)
	assert.True(t, nw.nodes[w].Status().Recovering)
	assert.Zero(t, nw.nodes[w].log.lastIndex(), "w took nothing from the stale leader")
	assert.Less(t, nw.nodes[a].log.committed, staleIndex, "a committed nothing with w")

	// Without w's answers a fails its check-quorum and steps down; then it
	// campaigns, and w's vote is the one it needs.
	for range 2 * nw.nodes[a].cfg.ElectionTicks { // the first window still counts w from before
		nw.tick(a)
	}
	nw.stabilize()
	require.Equal(t, Follower, nw.nodes[a].role, "a lost its quorum")
	nw.expireLease(a, w)
	nw.campaignUntilLeader(a)
	assert.NotEqual(t, Leader, nw.nodes[a].role, "w did not vote the stale leader into a new term")

	// b comes back: w learns its floor from b's answer and follows b.
	nw.heal()
	for range nw.nodes[w].cfg.HeartbeatTicks {
		nw.tick(w)
	}
	nw.stabilize()
	if nw.nodes[b].role != Leader {
		nw.expireLease(nw.ids...)
		nw.campaignUntilLeader(b)
	}
	l := nw.leader()
	require.NotEmpty(t, l)
	nw.propose(l, "after")
	nw.stabilize()
	for range 3 {
		nw.heartbeat(l)
	}
	for _, id := range nw.ids {
		got := nw.nodes[id].log.slice(ei, ei+1)
		require.Len(t, got, 1, id)
		assert.Equal(t, Entry{Term: et, Index: ei, Data: []byte("e")}, got[0], id)
	}
	assert.False(t, nw.nodes[w].Status().Recovering)
	nw.requireSafe()
}

// TestRecoveringNodeCommitsOnlyWhatMatchesTheLeader: the simulator's seed
// 8914 of an explored sweep. f acknowledged the new leader's entries, which
// replaced older ones at the same indexes; a torn tail then cut that write
// and brought the replaced entries back. The leader's heartbeat carries the
// commit index up to f's acknowledged match: applied to the entries that came
// back, it would apply an entry that was never committed. A recovering node
// advances its commit index only from appends, up to where they matched.
func TestRecoveringNodeCommitsOnlyWhatMatchesTheLeader(t *testing.T) {
	nw := newNetwork(t, 5, nil)
	a := nw.elect()
	nw.propose(a, "w")
	nw.stabilize()
	nw.heartbeat(a)
	f := otherThan(nw.ids, a)

	// a appends "old" only to f.
	for _, o := range nw.ids {
		if o != a && o != f {
			nw.cutLink(a, o)
		}
	}
	k, oldTerm := nw.propose(a, "old")
	nw.stabilize()
	old := *nw.stores[f]
	old.entries = slices.Clone(old.entries)
	require.Equal(t, k, uint64(len(old.entries)), "f holds old")

	// b wins without a and f, then replaces old on f with its no-op.
	nw.heal()
	nw.isolate(a)
	nw.isolate(f)
	b := otherThan(nw.ids, a, f)
	nw.expireLease(nw.ids...)
	nw.campaignUntilLeader(b)
	require.Equal(t, Leader, nw.nodes[b].role)
	nw.heal()
	nw.isolate(a)
	nw.heartbeat(b)
	nw.heartbeat(b)
	bt, _ := nw.nodes[b].log.term(k)
	require.Greater(t, bt, oldTerm)
	require.True(t, nw.nodes[f].log.matchTerm(k, bt), "f holds b's entry at k")
	require.GreaterOrEqual(t, nw.nodes[b].log.committed, k)
	require.GreaterOrEqual(t, nw.nodes[b].progress[f].match, k)

	// A torn tail: f comes back with "old" at k, recovering.
	old.recovering = true
	old.hardState.Commit = k - 1
	nw.stores[f] = &old
	nw.start(f)
	for range 3 {
		for range nw.nodes[b].cfg.HeartbeatTicks {
			nw.tick(b, f)
		}
		nw.stabilize()
		if got := nw.nodes[f].log.slice(k, k+1); got[0].Term == oldTerm {
			require.Less(t, nw.nodes[f].log.committed, k, "f committed the entry that came back")
		}
	}
	nw.propose(b, "after")
	nw.stabilize()
	nw.heartbeat(b)
	assert.False(t, nw.nodes[f].Status().Recovering)
	assert.True(t, nw.nodes[f].log.matchTerm(k, bt))
	nw.requireSafe()
}

// cutOffLeader elects a leader a of a 3-node network, commits an entry, and
// cuts a off with the other two, b and w, ready to elect a leader of a later
// term; staleTerm is a's.
func (nw *network) cutOffLeader() (a, b, w string, staleTerm uint64) {
	a = nw.elect()
	nw.propose(a, "before")
	nw.stabilize()
	nw.heartbeat(a)
	staleTerm = nw.nodes[a].term
	b = otherThan(nw.ids, a)
	w = otherThan(nw.ids, a, b)
	nw.isolate(a)
	nw.expireLease(b, w)
	return a, b, w, staleTerm
}

// staleLeaderMeetsWiped wipes w's disk, cuts b off, and lets the stale
// leader a propose an entry (at staleIndex) and send it to w for three
// heartbeat rounds.
func (nw *network) staleLeaderMeetsWiped(a, b, w string) (staleIndex uint64) {
	nw.heal()
	nw.isolate(b)
	nw.wipe(w, true)
	staleIndex, _ = nw.propose(a, "stale")
	for range 3 {
		for range nw.nodes[a].cfg.HeartbeatTicks {
			nw.tick(a, w)
		}
		nw.stabilize()
	}
	return staleIndex
}
