package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// figure8 replays the Raft paper's figure 8 on five nodes and returns the
// network at the end. Starting state (after the paper's steps a and b):
//
//	s1: 1 2      term 3   (led term 2, replicated index 2 to s2 only)
//	s2: 1 2      term 3
//	s3: 1        term 3
//	s4: 1        term 3
//	s5: 1 3      term 3   (led term 3, crashed before replicating index 2)
//
// (c) s1 is elected in term 4 with s2 and s3, and replicates its term-2
// entry at index 2 to s3 but not its own no-op: index 2 is now on a
// majority. (d) s1 crashes; s5 is elected in term 5 by s3 and s4 and
// overwrites index 2 with its term-3 entry, committing it with its no-op.
//
// If s1 committed index 2 in step c, it was committed and then lost.
func figure8(t *testing.T, unsafe Unsafe) *network {
	ids := []string{"s1", "s2", "s3", "s4", "s5"}
	base := defaultConfig(ids)
	cfg := func(id string) Config {
		c := base(id)
		c.MaxEntriesPerAppend = 1 // one entry per MsgApp, to stop between them
		c.Unsafe = unsafe
		return c
	}
	e1 := Entry{Index: 1, Term: 1, Data: []byte("a")}
	stores := map[string]*memStorage{
		"s1": {hardState: HardState{Term: 3, Commit: 1}, entries: []Entry{e1, {Index: 2, Term: 2, Data: []byte("from s1")}}},
		"s2": {hardState: HardState{Term: 3, Commit: 1}, entries: []Entry{e1, {Index: 2, Term: 2, Data: []byte("from s1")}}},
		"s3": {hardState: HardState{Term: 3, Vote: "s5", Commit: 1}, entries: []Entry{e1}},
		"s4": {hardState: HardState{Term: 3, Vote: "s5", Commit: 1}, entries: []Entry{e1}},
		"s5": {hardState: HardState{Term: 3, Vote: "s5", Commit: 1}, entries: []Entry{e1, {Index: 2, Term: 3, Data: []byte("from s5")}}},
	}
	nw := newNetworkFrom(t, ids, cfg, stores)
	nw.warm()

	// (c) s1 campaigns with s2 and s3 only, and its no-op never reaches s3.
	nw.isolate("s4")
	nw.isolate("s5")
	nw.campaign("s1")
	noNoopToS3 := func(m Message) bool {
		// s3 may reject the no-op (it lacks index 2), but never accept it.
		accepted := nw.nodes["s3"].log.lastIndex() >= m.Index
		return !(m.Type == MsgApp && m.To == "s3" && len(m.Entries) > 0 && m.Entries[0].Type == EntryNoop && accepted)
	}
	// Deliver until s3 has index 2 and s1 heard about it, then s1 crashes
	// before telling anyone anything else.
	for nw.nodes["s1"].progress == nil || nw.nodes["s1"].progress["s3"].match < 2 {
		require.True(t, nw.deliverOne(noNoopToS3), "s1 never replicated index 2 to s3")
	}
	require.Equal(t, Leader, nw.nodes["s1"].role)
	require.Equal(t, uint64(4), nw.nodes["s1"].term)
	nw.heal()
	nw.isolate("s1")
	nw.queue = nil // s1's last messages are lost in the crash

	// (d) s5 is elected in term 5 and replicates its log.
	nw.expireLease("s2", "s3", "s4")
	for nw.nodes["s5"].role != Leader {
		nw.campaign("s5")
		nw.stabilize()
	}
	nw.stabilize()
	return nw
}

func TestFigure8CommitsOnlyCurrentTerm(t *testing.T) {
	nw := figure8(t, Unsafe{})
	s1, s5 := nw.nodes["s1"], nw.nodes["s5"]
	assert.Equal(t, uint64(1), s1.log.committed,
		"index 2 was on a majority but of term 2: the term-4 leader must not commit it")
	assert.Equal(t, uint64(5), s5.term)
	assert.Equal(t, uint64(3), s5.log.committed)
	term2, _ := s5.log.term(2)
	assert.Equal(t, uint64(3), term2, "s5 overwrote the uncommitted index 2")
	nw.requireSafe()
}

func TestFigure8UnsafeCommitOldGeneration(t *testing.T) {
	nw := figure8(t, Unsafe{CommitOldGeneration: true})
	s1 := nw.nodes["s1"]
	assert.Equal(t, uint64(2), s1.log.committed, "the unsafe leader commits the term-2 entry by counting replicas")
	require.NotEmpty(t, nw.appliedBy["s1"])
	assert.Equal(t, "from s1", string(nw.appliedBy["s1"][len(nw.appliedBy["s1"])-1].Data))
	// ...and the next leader overwrote it: a committed, applied entry lost.
	require.NotEmpty(t, nw.violations)
	assert.Contains(t, nw.violations[0], "index 2 applied as term 2 by one node and term 3")
}

func TestLeaderCountsItsOwnLogOnlyAfterAdvance(t *testing.T) {
	nw := newNetwork(t, 1, nil)
	l := nw.elect()
	r := nw.nodes[l]
	idx, _, err := r.Propose([]byte("x"))
	require.NoError(t, err)
	assert.Less(t, r.log.committed, idx, "not committed before its own fsync")
	rd := r.Ready()
	require.Len(t, rd.Entries, 1)
	assert.Empty(t, rd.CommittedEntries)
	r.Advance(rd)
	assert.Equal(t, idx, r.log.committed, "committed once durable")
	rd = r.Ready()
	require.Len(t, rd.CommittedEntries, 1)
	assert.Equal(t, "x", string(rd.CommittedEntries[0].Data))
	require.NotNil(t, rd.HardState)
	assert.Equal(t, idx, rd.HardState.Commit)
	r.Advance(rd)
	assert.False(t, r.HasReady())
}

func TestProposalBackpressure(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.MaxUncommittedEntries = 5 })
	l := nw.elect()
	nw.stabilize()
	nw.isolate(l)
	for i := range 5 {
		_, _, err := nw.nodes[l].Propose([]byte{byte(i)})
		require.NoError(t, err)
	}
	_, _, err := nw.nodes[l].Propose([]byte("one too many"))
	assert.ErrorIs(t, err, ErrProposalQueueFull)
	_, _, err = nw.nodes[otherThan(nw.ids, l)].Propose([]byte("x"))
	assert.ErrorIs(t, err, ErrNotLeader)
}

// staleLeaderScenario: n1 leads term t; it is cut off, and n2 wins term t+1
// with n3's vote. Before n2's first append reaches n3, the stale n1 proposes
// an entry and its MsgApp (term t) reaches n3.
func staleLeaderScenario(t *testing.T, unsafe Unsafe) (*network, uint64) {
	nw := newNetwork(t, 3, func(c *Config) { c.Unsafe = unsafe })
	nw.warm()
	nw.campaign("n1")
	nw.stabilize()
	require.Equal(t, Leader, nw.nodes["n1"].role)
	oldTerm := nw.nodes["n1"].term

	nw.isolate("n1")
	nw.expireLease("n2", "n3")
	nw.campaign("n2")
	// Deliver votes, hold n2's appends.
	nw.stabilizeFiltered(func(m Message) bool { return m.Type != MsgApp })
	require.Equal(t, Leader, nw.nodes["n2"].role)
	nw.queue = nil // n2's appends are delayed; it resends them later

	// The stale leader proposes; its append reaches n3 only.
	nw.heal()
	nw.cutLink("n1", "n2")
	nw.cutLink("n2", "n1")
	idx, term := nw.propose("n1", "stale write")
	require.Equal(t, oldTerm, term)
	nw.stabilizeFiltered(func(m Message) bool {
		// n1's commit notice to n3 is lost with n1's crash below.
		return !(m.From == "n1" && m.Type == MsgApp && len(m.Entries) == 0)
	})
	return nw, idx
}

func TestStaleLeaderAppendRejected(t *testing.T) {
	nw, idx := staleLeaderScenario(t, Unsafe{})
	n1, n3 := nw.nodes["n1"], nw.nodes["n3"]
	assert.Equal(t, Follower, n1.role, "n3's answer in the newer term deposes n1")
	assert.Less(t, n1.log.committed, idx, "the stale write is not committed")
	if term, ok := n3.log.term(idx); ok {
		assert.Equal(t, n3.term, term, "n3 holds no entry of the stale term at the stale index")
	}
	// Once healed, the new leader's log wins everywhere.
	nw.heal()
	for range 30 {
		nw.tick()
		nw.stabilize()
	}
	nw.requireSafe()
}

func TestUnsafeNoGenerationCheckAcceptsStaleAppend(t *testing.T) {
	nw, idx := staleLeaderScenario(t, Unsafe{NoGenerationCheck: true})
	n1, n3 := nw.nodes["n1"], nw.nodes["n3"]
	term, ok := n3.log.term(idx)
	require.True(t, ok)
	assert.Equal(t, n1.term, term, "n3 adopted the stale leader's entry")
	assert.Less(t, term, n3.term)
	assert.Equal(t, Leader, n1.role, "n1 was answered in its own term and still leads")
	assert.Equal(t, idx, n1.log.committed, "n1 committed with n3's acknowledgement: a write the new leader will erase")
	require.Equal(t, "stale write", string(nw.appliedBy["n1"][len(nw.appliedBy["n1"])-1].Data))

	// n1 crashes; n2 (term t+1) brings n3 back in line and commits its
	// own entry at idx, contradicting what n1 applied.
	nw.isolate("n1")
	for range 30 {
		nw.tick("n2", "n3")
		nw.stabilize()
	}
	require.NotEmpty(t, nw.violations)
	assert.Contains(t, nw.violations[0], "applied as term")
}
