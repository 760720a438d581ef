package raft

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestElectsOneLeader(t *testing.T) {
	for _, n := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			nw := newNetwork(t, n, nil)
			l := nw.elect()
			nw.stabilize()
			leaders := 0
			for _, id := range nw.ids {
				r := nw.nodes[id]
				if r.role == Leader {
					leaders++
				}
				assert.Equal(t, l, r.leader, "node %s follows the leader", id)
				assert.Equal(t, nw.nodes[l].term, r.term)
			}
			assert.Equal(t, 1, leaders)
			// The no-op of the new term commits everywhere.
			for _, id := range nw.ids {
				assert.Equal(t, uint64(1), nw.nodes[id].log.committed, id)
			}
			nw.requireSafe()
		})
	}
}

func TestElectionTimeoutIsRandomized(t *testing.T) {
	r, err := New(defaultConfig(nodeIDs(3))("n1"), Restore{})
	require.NoError(t, err)
	seen := map[int]bool{}
	for range 200 {
		r.resetTimers()
		require.GreaterOrEqual(t, r.electionTimeout, 10)
		require.Less(t, r.electionTimeout, 20)
		seen[r.electionTimeout] = true
	}
	assert.Greater(t, len(seen), 5, "timeouts spread over the range")
}

// TestElectionSafetyUnderRandomFaults runs many seeds of a 5-node cluster
// with random drops, reordering, partitions, crashes and proposals, and
// checks that no term ever has two leaders and that no index is ever
// applied with two different entries.
func TestElectionSafetyUnderRandomFaults(t *testing.T) {
	seeds := 150
	if testing.Short() {
		seeds = 30
	}
	elections, snapshots, committed := 0, 0, uint64(0)
	for seed := range seeds {
		ids := nodeIDs(5)
		base := defaultConfig(ids)
		cfg := func(id string) Config {
			c := base(id)
			c.Rand = rand.New(rand.NewSource(int64(seed)*100 + int64(id[1])))
			return c
		}
		nw := newNetworkFrom(t, ids, cfg, nil)
		nw.rng = rand.New(rand.NewSource(int64(seed)))
		nw.dropPercent = 20
		nw.reorder = true
		rng := rand.New(rand.NewSource(int64(seed) + 7))
		for step := range 1500 {
			switch x := rng.Intn(1000); {
			case x < 100:
				nw.tick()
			case x < 105:
				nw.heal()
				nw.isolate(ids[rng.Intn(len(ids))])
			case x < 107:
				nw.heal()
			case x < 110:
				if l := nw.leader(); l != "" {
					nw.heal()
					nw.isolate(l)
				}
			case x < 112:
				// Snapshot a random node at its applied index.
				r := nw.nodes[ids[rng.Intn(len(ids))]]
				if r.log.applied > r.log.snapshotIndex {
					require.NoError(t, r.Compact(Snapshot{Index: r.log.applied}))
					snapshots++
				}
			case x < 114:
				// Crash and restart from durable state; its in-flight
				// messages are lost.
				id := ids[rng.Intn(len(ids))]
				nw.start(id)
			case x < 250:
				if l := nw.leader(); l != "" {
					_, _, _ = nw.nodes[l].Propose(fmt.Appendf(nil, "s%d-%d", seed, step))
					nw.persist(l)
				}
			default:
				nw.deliverOne(nil)
			}
		}
		nw.heal()
		nw.dropPercent = 0
		for range 50 {
			nw.tick()
			nw.stabilize()
		}
		require.Empty(t, nw.violations, "seed %d", seed)
		elections += len(nw.leaders)
		committed += nw.nodes[ids[0]].log.committed
		// After healing, the cluster converges on one leader and one log.
		l := nw.leader()
		require.NotEmpty(t, l, "seed %d: a leader after healing", seed)
		for _, id := range ids {
			require.Equal(t, nw.nodes[l].log.committed, nw.nodes[id].log.committed, "seed %d node %s", seed, id)
		}
	}
	t.Logf("%d seeds, %d terms with a leader, %d entries committed, %d snapshots", seeds, elections, committed, snapshots)
	require.Greater(t, committed, uint64(seeds*10), "the cluster made progress despite the faults")
}

func TestVoteIsPersistedBeforeTheResponse(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	nw.warm()
	nw.campaign("n1")
	nw.stabilize()
	require.Equal(t, Leader, nw.nodes["n1"].role)
	term := nw.nodes["n1"].term
	nw.requireSafe() // checkPersistedBeforeSend saw every vote grant

	// The granted vote left in a Ready that carried the vote in HardState.
	var granted int
	for _, m := range nw.sent {
		if m.Type == MsgVoteResp && !m.Reject {
			granted++
		}
	}
	require.Positive(t, granted)
	assert.Equal(t, HardState{Term: term, Vote: "n1", Commit: 1}, nw.stores["n2"].hardState)

	// n2 restarts from its durable state: the vote survives, so a second
	// candidate in the same term is refused.
	nw.start("n2")
	nw.warm()
	r2 := nw.nodes["n2"]
	assert.Equal(t, "n1", r2.vote)
	require.NoError(t, r2.Step(Message{Type: MsgVote, From: "n3", To: "n2", Term: term, Index: 5, LogTerm: term}))
	rd := r2.Ready()
	require.Len(t, rd.Messages, 1)
	assert.True(t, rd.Messages[0].Reject, "no second vote in term %d", term)

	// Had the vote been lost (only the term persisted), n2 would vote twice.
	forgetful, err := New(nw.cfg("n2"), Restore{HardState: HardState{Term: term}})
	require.NoError(t, err)
	forgetful.ticks = 10
	require.NoError(t, forgetful.Step(Message{Type: MsgVote, From: "n3", To: "n2", Term: term, Index: 5, LogTerm: term}))
	rd = forgetful.Ready()
	require.Len(t, rd.Messages, 1)
	assert.False(t, rd.Messages[0].Reject, "a node without its vote votes again")
}

func TestCheckQuorumStepsDown(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	l := nw.elect()
	nw.stabilize()
	nw.isolate(l)
	r := nw.nodes[l]
	for i := 0; i < 2*r.cfg.ElectionTicks && r.role == Leader; i++ {
		nw.tick(l)
		nw.stabilize()
	}
	assert.Equal(t, Follower, r.role, "an isolated leader steps down within two election timeouts")
	assert.Empty(t, r.leader)
	_, _, err := r.Propose([]byte("x"))
	assert.ErrorIs(t, err, ErrNotLeader)
	nw.requireSafe()
}

func TestCheckQuorumKeepsAHealthyLeader(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	l := nw.elect()
	for range 100 {
		nw.tick()
		nw.stabilize()
	}
	assert.Equal(t, Leader, nw.nodes[l].role)
	nw.requireSafe()
}

func TestPreVoteIsolatedNodeDoesNotDeposeLeader(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	l := nw.elect()
	nw.stabilize()
	term := nw.nodes[l].term
	var isolated string
	for _, id := range nw.ids {
		if id != l {
			isolated = id
			break
		}
	}
	nw.isolate(isolated)
	for range 100 {
		nw.tick()
		nw.stabilize()
	}
	// Pre-votes failed, so the isolated node never raised its term.
	assert.Equal(t, term, nw.nodes[isolated].term)
	nw.heal()
	// Its timer fires again right as the partition heals, before any
	// heartbeat reaches it: the others heard from the leader recently and
	// refuse the pre-vote.
	nw.campaign(isolated)
	nw.stabilize()
	assert.Equal(t, term, nw.nodes[isolated].term, "the pre-vote failed, the term stayed")
	for range 50 {
		nw.tick()
		nw.stabilize()
	}
	assert.Equal(t, Leader, nw.nodes[l].role, "the healthy leader keeps leading")
	assert.Equal(t, term, nw.nodes[l].term, "and its term is unchanged")
	assert.Equal(t, l, nw.nodes[isolated].leader)
	nw.requireSafe()
}

func TestVoteRefusedWhileLeaderIsHeard(t *testing.T) {
	// Even a real (not pre-) vote request with a higher term is refused by
	// a follower that heard from its leader within the election timeout.
	nw := newNetwork(t, 3, nil)
	l := nw.elect()
	nw.stabilize()
	var f string
	for _, id := range nw.ids {
		if id != l {
			f = id
			break
		}
	}
	r := nw.nodes[f]
	term := r.term
	require.NoError(t, r.Step(Message{Type: MsgVote, From: otherThan(nw.ids, l, f), To: f, Term: term + 5, Index: 100, LogTerm: term + 4}))
	rd := r.Ready()
	require.Len(t, rd.Messages, 1)
	assert.True(t, rd.Messages[0].Reject)
	assert.Equal(t, term, r.term, "the term is not bumped")
	r.Advance(rd)
}

func otherThan(ids []string, not ...string) string {
	for _, id := range ids {
		skip := false
		for _, n := range not {
			skip = skip || id == n
		}
		if !skip {
			return id
		}
	}
	return ""
}

func TestNewRejectsBadConfigAndRestore(t *testing.T) {
	good := defaultConfig(nodeIDs(3))("n1")
	bad := []func(c *Config){
		func(c *Config) { c.ID = "" },
		func(c *Config) { c.ID = "n9" },
		func(c *Config) { c.HeartbeatTicks = 0 },
		func(c *Config) { c.ElectionTicks = c.HeartbeatTicks },
		func(c *Config) { c.Rand = nil },
		func(c *Config) { c.Peers = []string{"n1", "n1"} },
	}
	for i, mutate := range bad {
		c := good
		mutate(&c)
		_, err := New(c, Restore{})
		assert.Error(t, err, "case %d", i)
	}
	_, err := New(good, Restore{HardState: HardState{Term: 1, Commit: 3}, Entries: []Entry{{Term: 1, Index: 1}}})
	assert.ErrorContains(t, err, "commit index 3 beyond last log index 1")
	_, err = New(good, Restore{Entries: []Entry{{Term: 1, Index: 2}}})
	assert.Error(t, err)
}

// TestForgottenVoteElectsTwoLeadersInOneTerm plays the schedule the
// forget-vote switch needs, message by message: n1 and n3 cannot hear each
// other and both pass their pre-vote through n2 while it is still in term 0;
// n2 votes for n1 in term 1 and crashes before n1's first append reaches it;
// n3's request for the same term, delayed until n2 is back, then wins a
// second vote. The forget-vote switch makes kvnode's driver persist the vote
// as empty; here the durable state loses it the same way.
func TestForgottenVoteElectsTwoLeadersInOneTerm(t *testing.T) {
	for _, forget := range []bool{false, true} {
		t.Run(fmt.Sprintf("forget=%v", forget), func(t *testing.T) {
			nw := newNetwork(t, 3, nil)
			nw.warm()
			nw.cutLink("n1", "n3")
			nw.cutLink("n3", "n1")

			nw.campaign("n3")
			require.True(t, nw.deliverOne(nil)) // n3's pre-vote reaches n2
			require.True(t, nw.deliverOne(nil)) // n2's grant makes n3 a candidate
			require.Equal(t, Candidate, nw.nodes["n3"].role)
			nw.hold("n3", "n2") // n3's vote request is slow

			nw.campaign("n1")
			require.True(t, nw.deliverOne(nil)) // pre-vote
			require.True(t, nw.deliverOne(nil)) // grant: n1 campaigns in term 1
			require.True(t, nw.deliverOne(nil)) // n2 votes for n1
			require.Equal(t, "n1", nw.nodes["n2"].vote)
			nw.hold("n1", "n2") // n1's appends are in flight when n2 crashes
			require.True(t, nw.deliverOne(nil))
			require.Equal(t, Leader, nw.nodes["n1"].role)
			require.Equal(t, uint64(1), nw.nodes["n1"].term)

			if forget {
				nw.stores["n2"].hardState.Vote = ""
			}
			nw.start("n2")
			delete(nw.held["n3"], "n2")
			nw.stabilize()

			if !forget {
				assert.NotEqual(t, Leader, nw.nodes["n3"].role, "n2 remembered its vote for n1")
				nw.requireSafe()
				return
			}
			assert.Equal(t, Leader, nw.nodes["n3"].role)
			assert.Equal(t, uint64(1), nw.nodes["n3"].term)
			require.NotEmpty(t, nw.violations)
			assert.Contains(t, nw.violations, "two leaders in term 1: n1 and n3")
		})
	}
}

// TestForgottenVoteAfterVoterCrash plays the voter-crash nemesis message by
// message. The leader crashes; x wins the next term with v's vote, and v
// crashes right after voting, before x's first append reaches it. With x cut
// off, the old leader and v restart. A v that kept its vote refuses the old
// leader that term, which then wins the one after. A v that forgot it grants
// the old leader the same term: two leaders, whose no-op and first write
// share indexes and term, so when x hears from the other leader it keeps
// its own write where the other leader committed a different one.
func TestForgottenVoteAfterVoterCrash(t *testing.T) {
	for _, forget := range []bool{false, true} {
		t.Run(fmt.Sprintf("forget=%v", forget), func(t *testing.T) {
			nw := newNetwork(t, 3, nil)
			old := nw.elect()
			nw.propose(old, "before")
			nw.stabilize()
			x := otherThan(nw.ids, old)
			v := otherThan(nw.ids, old, x)
			term := nw.nodes[old].term

			nw.isolate(old) // the leader crashes
			nw.expireLease(x, v)
			nw.campaign(x)
			require.True(t, nw.deliverOne(nil)) // x's pre-vote reaches v
			require.True(t, nw.deliverOne(nil)) // v grants: x campaigns
			require.True(t, nw.deliverOne(nil)) // v votes for x
			require.Equal(t, x, nw.nodes[v].vote)
			nw.hold(x, v) // v crashes before x's appends reach it
			require.True(t, nw.deliverOne(nil))
			require.Equal(t, Leader, nw.nodes[x].role)
			require.Equal(t, term+1, nw.nodes[x].term)
			nw.propose(x, "x-write") // never acknowledged: x is alone

			if forget {
				nw.stores[v].hardState.Vote = ""
			}
			nw.heal()
			nw.isolate(x)
			nw.start(v)
			nw.start(old)
			nw.warm()
			nw.campaign(old)
			nw.stabilize()
			if !forget {
				require.NotEqual(t, Leader, nw.nodes[old].role, "v remembered its vote for x")
				assert.Equal(t, term+1, nw.nodes[old].term, "v's refusal told the old leader the term")
				nw.campaign(old)
				nw.stabilize()
			}
			require.Equal(t, Leader, nw.nodes[old].role)
			nw.propose(old, "old-write")
			nw.stabilize()
			for range nw.nodes[x].cfg.ElectionTicks {
				nw.tick(x) // check-quorum deposes x
			}
			require.Equal(t, Follower, nw.nodes[x].role)
			nw.stabilize() // drops what x sent while cut off
			nw.heal()
			nw.stabilize()
			for range nw.nodes[old].cfg.HeartbeatTicks {
				nw.tick(old) // the next heartbeat carries the commit index
			}
			nw.stabilize()

			if !forget {
				assert.Equal(t, term+2, nw.nodes[old].term)
				nw.requireSafe()
				return
			}
			assert.Equal(t, term+1, nw.nodes[old].term)
			assert.Contains(t, nw.violations, fmt.Sprintf("two leaders in term %d: %s and %s", term+1, x, old))
			diverged := false
			for _, msg := range nw.violations {
				diverged = diverged || strings.Contains(msg, "applied as term")
			}
			assert.True(t, diverged, "x applied its own write at the old leader's index: %v", nw.violations)
		})
	}
}
