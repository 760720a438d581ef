package raft

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// The test harness: N cores, a durable store per node, and a network that
// holds every message in flight so a test decides what is delivered, dropped
// or reordered. persist plays the driver: it makes each Ready durable, checks
// persist-before-speak, queues the messages, applies committed entries and
// calls Advance. Everything is single-threaded and deterministic.

// memStorage is what a node's WAL would hold.
type memStorage struct {
	hardState HardState
	snapshot  *Snapshot
	entries   []Entry // after snapshot
	// recovering marks storage that may have lost acknowledged state (a
	// wiped data dir): the node restarts with Restore.Recovering.
	recovering bool
}

func (s *memStorage) append(ents []Entry) {
	if len(ents) == 0 {
		return
	}
	first := ents[0].Index
	base := uint64(0)
	if s.snapshot != nil {
		base = s.snapshot.Index
	}
	keep := first - base - 1
	if keep > uint64(len(s.entries)) {
		panic(fmt.Sprintf("storage: gap before index %d", first))
	}
	s.entries = append(s.entries[:keep:keep], ents...)
}

func (s *memStorage) restore() Restore {
	return Restore{HardState: s.hardState, Snapshot: s.snapshot, Entries: slices.Clone(s.entries), Recovering: s.recovering}
}

type network struct {
	t      *testing.T
	ids    []string
	cfg    func(id string) Config
	nodes  map[string]*Raft
	stores map[string]*memStorage
	queue  []Message
	// cut[from][to] drops messages on that link; held[from][to] keeps them
	// in flight (a slow link) until released.
	cut  map[string]map[string]bool
	held map[string]map[string]bool
	// dropPercent drops that share of messages at random; reorder delivers
	// in random order. rng drives both.
	dropPercent int
	reorder     bool
	rng         *rand.Rand

	leaders    map[uint64]string            // term -> leader seen
	applied    map[uint64]Entry             // index -> first entry applied there by anyone
	appliedBy  map[string][]Entry           // what each node applied, in order
	readStates map[string][]ReadState       // by node
	dropped    map[string][]uint64          // DroppedReads by node
	sent       []Message                    // every message queued, for inspection
	violations []string                     // safety violations observed
	hook       func(from string, m Message) // optional, sees each queued message
}

func defaultConfig(ids []string) func(string) Config {
	return func(id string) Config {
		seed := int64(0)
		for _, c := range id {
			seed = seed*31 + int64(c)
		}
		return Config{
			ID: id, Peers: ids, ElectionTicks: 10, HeartbeatTicks: 2,
			Rand:               rand.New(rand.NewSource(seed)),
			MaxInflightAppends: 8, MaxEntriesPerAppend: 16, MaxUncommittedEntries: 1024,
		}
	}
}

func nodeIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("n%d", i+1)
	}
	return ids
}

func newNetwork(t *testing.T, n int, tweak func(*Config)) *network {
	ids := nodeIDs(n)
	base := defaultConfig(ids)
	cfg := func(id string) Config {
		c := base(id)
		if tweak != nil {
			tweak(&c)
		}
		return c
	}
	return newNetworkFrom(t, ids, cfg, nil)
}

// newNetworkFrom builds nodes from the given durable states (nil: fresh).
func newNetworkFrom(t *testing.T, ids []string, cfg func(string) Config, stores map[string]*memStorage) *network {
	nw := &network{
		t: t, ids: ids, cfg: cfg,
		nodes: map[string]*Raft{}, stores: map[string]*memStorage{},
		cut: map[string]map[string]bool{}, held: map[string]map[string]bool{}, rng: rand.New(rand.NewSource(1)),
		leaders: map[uint64]string{}, applied: map[uint64]Entry{}, appliedBy: map[string][]Entry{},
		readStates: map[string][]ReadState{}, dropped: map[string][]uint64{},
	}
	for _, id := range ids {
		st := &memStorage{}
		if stores != nil && stores[id] != nil {
			st = stores[id]
		}
		nw.stores[id] = st
		nw.start(id)
	}
	return nw
}

// start (re)creates a node from its durable state, as after a crash.
func (nw *network) start(id string) {
	st := nw.stores[id]
	r, err := New(nw.cfg(id), st.restore())
	require.NoError(nw.t, err)
	nw.nodes[id] = r
	nw.appliedBy[id] = nil
	if st.snapshot != nil {
		nw.appliedBy[id] = nil
	}
}

// warm makes every node old enough to have left the post-restart vote lease,
// for scripted tests that start campaigns by hand.
func (nw *network) warm() {
	for _, r := range nw.nodes {
		r.ticks = max(r.ticks, uint64(r.cfg.ElectionTicks))
	}
}

// expireLease makes the nodes forget they heard from a leader recently.
func (nw *network) expireLease(ids ...string) {
	for _, id := range ids {
		r := nw.nodes[id]
		r.ticks = max(r.ticks, uint64(r.cfg.ElectionTicks))
		r.electionElapsed = r.cfg.ElectionTicks
	}
}

func (nw *network) isolate(id string) {
	for _, other := range nw.ids {
		if other != id {
			nw.cutLink(id, other)
			nw.cutLink(other, id)
		}
	}
}

func (nw *network) cutLink(from, to string) {
	if nw.cut[from] == nil {
		nw.cut[from] = map[string]bool{}
	}
	nw.cut[from][to] = true
}

func (nw *network) heal() {
	nw.cut = map[string]map[string]bool{}
	nw.held = map[string]map[string]bool{}
}

func (nw *network) hold(from, to string) {
	if nw.held[from] == nil {
		nw.held[from] = map[string]bool{}
	}
	nw.held[from][to] = true
}

// persist drives one node's Ready loop to quiescence.
func (nw *network) persist(id string) {
	r := nw.nodes[id]
	st := nw.stores[id]
	for range 1000 {
		if !r.HasReady() {
			return
		}
		rd := r.Ready()
		if rd.HardState != nil {
			st.hardState = *rd.HardState
		}
		if rd.Snapshot != nil {
			s := *rd.Snapshot
			st.snapshot = &s
			st.entries = nil
		}
		st.append(rd.Entries)
		// Durable now: check that nothing sent depends on state that is not.
		for _, m := range rd.Messages {
			nw.checkPersistedBeforeSend(id, m)
			nw.enqueue(m)
		}
		if rd.Snapshot != nil {
			nw.appliedBy[id] = nil
		}
		for _, e := range rd.CommittedEntries {
			nw.recordApplied(id, e)
		}
		nw.readStates[id] = append(nw.readStates[id], rd.ReadStates...)
		nw.dropped[id] = append(nw.dropped[id], rd.DroppedReads...)
		r.Advance(rd)
		nw.recordLeader(id)
	}
	nw.t.Fatalf("node %s never quiesced", id)
}

func (nw *network) checkPersistedBeforeSend(id string, m Message) {
	hs := nw.stores[id].hardState
	if m.Term > hs.Term && m.Type != MsgPreVote && m.Type != MsgPreVoteResp {
		nw.violations = append(nw.violations, fmt.Sprintf("%s sent %s in term %d with durable term %d", id, m.Type, m.Term, hs.Term))
	}
	if m.Type == MsgAppResp && !m.Reject {
		st := nw.stores[id]
		durable := uint64(len(st.entries))
		if st.snapshot != nil {
			durable += st.snapshot.Index
		}
		if durable < m.Index {
			nw.violations = append(nw.violations, fmt.Sprintf("%s acknowledged index %d with only %d durable", id, m.Index, durable))
		}
	}
	if m.Type == MsgVoteResp && !m.Reject && hs.Vote != m.To {
		nw.violations = append(nw.violations, fmt.Sprintf("%s granted a vote to %s before persisting it (durable vote %q)", id, m.To, hs.Vote))
	}
}

func (nw *network) recordApplied(id string, e Entry) {
	if prev, ok := nw.applied[e.Index]; ok && (prev.Term != e.Term || string(prev.Data) != string(e.Data)) {
		nw.violations = append(nw.violations, fmt.Sprintf("index %d applied as term %d by one node and term %d by %s", e.Index, prev.Term, e.Term, id))
	} else if !ok {
		nw.applied[e.Index] = e
	}
	nw.appliedBy[id] = append(nw.appliedBy[id], e)
}

func (nw *network) recordLeader(id string) {
	r := nw.nodes[id]
	if r.role != Leader {
		return
	}
	if prev, ok := nw.leaders[r.term]; ok && prev != id {
		nw.violations = append(nw.violations, fmt.Sprintf("two leaders in term %d: %s and %s", r.term, prev, id))
	}
	nw.leaders[r.term] = id
}

func (nw *network) enqueue(m Message) {
	nw.sent = append(nw.sent, m)
	if nw.hook != nil {
		nw.hook(m.From, m)
	}
	nw.queue = append(nw.queue, m)
}

// deliverOne delivers (or drops) one message from the queue. It reports
// whether there was one.
func (nw *network) deliverOne(filter func(Message) bool) bool {
	for {
		var ready []int
		for i, m := range nw.queue {
			if !nw.held[m.From][m.To] {
				ready = append(ready, i)
			}
		}
		if len(ready) == 0 {
			return false
		}
		i := ready[0]
		if nw.reorder {
			i = ready[nw.rng.Intn(len(ready))]
		}
		m := nw.queue[i]
		nw.queue = append(nw.queue[:i], nw.queue[i+1:]...)
		if nw.cut[m.From][m.To] || (filter != nil && !filter(m)) {
			continue
		}
		if nw.dropPercent > 0 && nw.rng.Intn(100) < nw.dropPercent {
			continue
		}
		r := nw.nodes[m.To]
		require.NoError(nw.t, r.Step(m))
		nw.persist(m.To)
		return true
	}
}

// stabilize delivers until no message is in flight.
func (nw *network) stabilize() {
	nw.stabilizeFiltered(nil)
}

func (nw *network) stabilizeFiltered(filter func(Message) bool) {
	for range 100000 {
		if !nw.deliverOne(filter) {
			return
		}
	}
	nw.t.Fatal("network never stabilized")
}

// tick advances every listed node (all if none) by one tick.
func (nw *network) tick(ids ...string) {
	if len(ids) == 0 {
		ids = nw.ids
	}
	for _, id := range ids {
		nw.nodes[id].Tick()
		nw.persist(id)
	}
}

// elect ticks and delivers until exactly one node leads, and returns it.
func (nw *network) elect() string {
	for range 1000 {
		nw.tick()
		nw.stabilize()
		if l := nw.leader(); l != "" {
			return l
		}
	}
	nw.t.Fatal("no leader elected")
	return ""
}

// leader returns the leader of the highest term, if any node leads.
func (nw *network) leader() string {
	best, bestTerm := "", uint64(0)
	for _, id := range nw.ids {
		r := nw.nodes[id]
		if r.role == Leader && r.term >= bestTerm {
			best, bestTerm = id, r.term
		}
	}
	return best
}

// campaign starts a pre-vote round on id by hand (as if it timed out).
func (nw *network) campaign(id string) {
	nw.nodes[id].preCampaign()
	nw.persist(id)
}

func (nw *network) propose(id string, data string) (uint64, uint64) {
	idx, term, err := nw.nodes[id].Propose([]byte(data))
	require.NoError(nw.t, err)
	nw.persist(id)
	return idx, term
}

func (nw *network) requireSafe() {
	nw.t.Helper()
	require.Empty(nw.t, nw.violations)
}
