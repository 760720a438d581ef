package raft

import (
	"errors"
	"fmt"
	"slices"
)

// Raft is one node's replication core. It is not safe for concurrent use:
// one goroutine (the singular update queue) calls every method.
type Raft struct {
	cfg    Config
	id     string
	peers  []string // sorted, includes id
	quorum int

	role   Role
	term   uint64 // generation clock; never decreases
	vote   string // vote cast in term, "" if none
	leader string // known leader of term, "" if none
	// termStart is, on a leader, the index of the no-op its term began with.
	termStart uint64

	log *raftLog

	// ticks counts every Tick since New (Status.Elapsed).
	ticks uint64
	// electionElapsed counts ticks since the last reset: on followers and
	// candidates since the leader was last heard from or a vote was cast;
	// on a leader since the last check-quorum.
	electionElapsed int
	// heartbeatElapsed counts ticks since the leader's last heartbeat.
	heartbeatElapsed int
	// electionTimeout is the randomized timeout in
	// [ElectionTicks, 2*ElectionTicks), drawn again on every reset.
	electionTimeout int

	votes    map[string]bool      // (pre-)candidate: granted or rejected, by voter
	progress map[string]*progress // leader: one per peer, excluding id

	reads readIndex // leader: pending read-index requests

	// Output collected until the driver takes it in Ready.
	msgs         []Message
	readStates   []ReadState
	droppedReads []uint64

	// prevHardState is the last HardState the driver made durable.
	prevHardState HardState
	// pendingSnapshot was received from the leader and not yet Advanced.
	pendingSnapshot *Snapshot

	// recovering: the storage may have lost acknowledged entries or a vote
	// (Restore.Recovering); cleared by maybeEndRecovery or becomeLeader.
	// rec is what the probes taught us meanwhile (recovery.go).
	recovering bool
	rec        *recovery
	// matched is, on a follower, the last index an append of matchedTerm's
	// leader proved to match its log (see handleHeartbeat).
	matched, matchedTerm uint64
}

// New returns the core for cfg, restarted from the durable state in
// restored (zero Restore for a fresh node). It starts as a follower.
func New(cfg Config, restored Restore) (*Raft, error) {
	if err := validateConfig(&cfg); err != nil {
		return nil, fmt.Errorf("raft config: %w", err)
	}
	log := &raftLog{}
	if s := restored.Snapshot; s != nil {
		log.restore(*s)
		log.applied = s.Index
	}
	hs := restored.HardState
	for i, e := range restored.Entries {
		if want := log.lastIndex() + 1; e.Index != want {
			return nil, fmt.Errorf("restore entries: entry %d has index %d, want %d", i, e.Index, want)
		}
		log.entries = append(log.entries, e)
	}
	// durable is the hard state on disk; the first Ready persists any
	// change made to it here before anything is sent.
	durable := hs
	if log.lastTerm() > hs.Term && restored.Recovering {
		// The tail that held the hard state was cut off while the
		// snapshot, a file of its own, survived (a torn tail that reached
		// the start of the newest segment): the node was in at least the
		// snapshot's term. The vote it cast there is lost, which recovery
		// allows for: it grants none until a leader has caught it up.
		hs.Term, hs.Vote = log.lastTerm(), ""
	}
	if log.lastTerm() > hs.Term {
		return nil, fmt.Errorf("restore: last entry term %d above the persisted term %d", log.lastTerm(), hs.Term)
	}
	if hs.Commit > log.lastIndex() && restored.Recovering {
		// The tail that held committed entries was cut off: the commit
		// index is relearned from the leader.
		hs.Commit = log.lastIndex()
	}
	if hs.Commit > log.lastIndex() {
		return nil, fmt.Errorf("restore: commit index %d beyond last log index %d: the log is missing committed entries", hs.Commit, log.lastIndex())
	}
	log.committed = max(log.committed, hs.Commit)
	log.stabled = log.lastIndex()

	peers := slices.Clone(cfg.Peers)
	slices.Sort(peers)
	r := &Raft{
		cfg:           cfg,
		id:            cfg.ID,
		peers:         peers,
		quorum:        len(peers)/2 + 1,
		term:          hs.Term,
		vote:          hs.Vote,
		log:           log,
		prevHardState: durable,
	}
	r.prevHardState.Commit = log.committed
	r.becomeFollower(r.term, "")
	if restored.Recovering {
		r.beginRecovery()
	}
	return r, nil
}

func validateConfig(cfg *Config) error {
	switch {
	case cfg.ID == "":
		return errors.New("ID is empty")
	case !slices.Contains(cfg.Peers, cfg.ID):
		return fmt.Errorf("peers %v do not include ID %q", cfg.Peers, cfg.ID)
	case cfg.HeartbeatTicks <= 0:
		return fmt.Errorf("heartbeat ticks %d must be positive", cfg.HeartbeatTicks)
	case cfg.ElectionTicks <= cfg.HeartbeatTicks:
		return fmt.Errorf("election ticks %d must exceed heartbeat ticks %d", cfg.ElectionTicks, cfg.HeartbeatTicks)
	case cfg.Rand == nil:
		return errors.New("Rand is nil: the core's only randomness must be injected")
	}
	seen := map[string]bool{}
	for _, p := range cfg.Peers {
		if p == "" || seen[p] {
			return fmt.Errorf("peers %v: empty or duplicate id", cfg.Peers)
		}
		seen[p] = true
	}
	if cfg.MaxInflightAppends <= 0 {
		cfg.MaxInflightAppends = DefaultMaxInflightAppends
	}
	if cfg.MaxEntriesPerAppend <= 0 {
		cfg.MaxEntriesPerAppend = DefaultMaxEntriesPerAppend
	}
	if cfg.MaxUncommittedEntries <= 0 {
		cfg.MaxUncommittedEntries = DefaultMaxUncommittedEntries
	}
	return nil
}

// Tick advances the core's logical clock by one tick.
func (r *Raft) Tick() {
	r.ticks++
	if r.recovering {
		r.tickRecovery()
	}
	if r.role == Leader {
		r.tickLeader()
		return
	}
	r.electionElapsed++
	if r.electionElapsed >= r.electionTimeout {
		r.electionElapsed = 0
		r.preCampaign()
	}
}

// Step feeds one message from a peer into the core.
func (r *Raft) Step(m Message) error {
	if m.To != r.id {
		return fmt.Errorf("step %s from %s: addressed to %q, not %q", m.Type, m.From, m.To, r.id)
	}
	if m.From == r.id || !slices.Contains(r.peers, m.From) {
		return fmt.Errorf("step %s: sender %q is not a peer", m.Type, m.From)
	}
	if _, ok := messageTypeNames[m.Type]; !ok {
		return fmt.Errorf("step: unknown message type %d from %s", m.Type, m.From)
	}
	// Recovery probes and their answers are outside the generations: a
	// probe may come from a node that forgot its generation, and an answer
	// from any generation is what it asked for (recovery.go).
	switch m.Type {
	case MsgRecover:
		r.handleRecover(m)
		return nil
	case MsgRecoverResp:
		r.handleRecoverResp(m)
		return nil
	case MsgApp, MsgHeartbeat, MsgSnap:
		if r.ignoresLeaders() {
			r.heardLeader(m.From, m.Term)
			return nil
		}
	}
	switch {
	case m.Term > r.term:
		if done := r.stepHigherTerm(m); done {
			return nil
		}
	case m.Term < r.term:
		r.stepLowerTerm(m)
		return nil
	}
	switch m.Type {
	case MsgPreVote, MsgVote:
		r.handleVoteRequest(m)
	case MsgPreVoteResp, MsgVoteResp:
		r.handleVoteResponse(m)
	case MsgApp, MsgHeartbeat, MsgSnap:
		if r.role == Leader {
			// Two leaders in one term: impossible unless a vote was lost
			// from durable storage (the driver broke persist-before-speak).
			// Our own log is intact, so refuse the message rather than
			// adopt the other leader's entries.
			return fmt.Errorf("step %s from %s: %s is the leader of term %d itself: two leaders in one term, was a vote lost?", m.Type, m.From, r.id, r.term)
		}
		if r.role != Follower {
			r.becomeFollower(r.term, m.From)
		}
		r.leader = m.From
		r.electionElapsed = 0
		switch m.Type {
		case MsgApp:
			r.handleAppend(m)
		case MsgHeartbeat:
			r.handleHeartbeat(m)
		default:
			r.handleSnapshot(m)
		}
		r.heardLeader(m.From, m.Term)
	case MsgAppResp, MsgHeartbeatResp:
		if r.role == Leader {
			r.handleLeaderResponse(m)
		}
	}
	return nil
}

// stepHigherTerm handles a message from a higher term before its type's
// handler runs: usually by adopting the term as a follower. It reports
// whether the message has been fully dealt with.
func (r *Raft) stepHigherTerm(m Message) (done bool) {
	switch m.Type {
	case MsgPreVote:
		// A pre-vote carries the term the sender would campaign in; it
		// never changes ours.
		return false
	case MsgPreVoteResp:
		if !m.Reject {
			return false // a grant carries our next term
		}
	case MsgVote:
		if r.inLease() {
			// A leader was heard from within the election timeout: a
			// rejoining node must not depose it. Keep our term.
			r.send(Message{Type: MsgVoteResp, To: m.From, Reject: true})
			return true
		}
	}
	leader := ""
	if m.Type == MsgApp || m.Type == MsgHeartbeat || m.Type == MsgSnap {
		leader = m.From
	}
	r.becomeFollower(m.Term, leader)
	return false
}

// stepLowerTerm answers a message from an older term.
func (r *Raft) stepLowerTerm(m Message) {
	switch m.Type {
	case MsgApp, MsgHeartbeat:
		if r.cfg.Unsafe.NoGenerationCheck && r.role != Leader {
			// UNSAFE(no-generation-check): accept the stale leader's
			// append as if it were current and answer in its term, so it
			// keeps counting us towards its quorum.
			if m.Type == MsgApp {
				r.handleAppend(m)
			} else {
				r.handleHeartbeat(m)
			}
			r.msgs[len(r.msgs)-1].Term = m.Term
			return
		}
		// Tell the stale leader about the newer term so it steps down.
		r.send(Message{Type: MsgAppResp, To: m.From})
	case MsgPreVote:
		r.send(Message{Type: MsgPreVoteResp, To: m.From, Reject: true})
	}
	// Anything else from an older term is stale: drop it.
}

// send queues m, stamping sender and (unless set) the current term.
func (r *Raft) send(m Message) {
	m.From = r.id
	if m.Term == 0 {
		m.Term = r.term
	}
	r.msgs = append(r.msgs, m)
}

// setTerm moves the generation clock; it never goes backwards.
func (r *Raft) setTerm(term uint64) {
	if term < r.term {
		panic(fmt.Sprintf("raft: term would decrease from %d to %d", r.term, term))
	}
	if term > r.term {
		r.term = term
		r.vote = ""
	}
}

func (r *Raft) resetTimers() {
	r.electionElapsed = 0
	r.heartbeatElapsed = 0
	r.electionTimeout = r.cfg.ElectionTicks + r.cfg.Rand.Intn(r.cfg.ElectionTicks)
}

func (r *Raft) becomeFollower(term uint64, leader string) {
	if r.role == Leader {
		r.reads.dropAll(r)
	}
	r.setTerm(term)
	r.role = Follower
	r.leader = leader
	r.progress = nil
	r.votes = nil
	r.resetTimers()
}

// inLease reports whether a leader was heard from within the base election
// timeout: then votes and pre-votes are refused, so a node rejoining from a
// partition cannot depose a healthy leader (and a leader's read lease holds).
//
// A node that started less than ElectionTicks ago counts as in lease too: it
// may have acknowledged a leader's heartbeat just before a crash, and that
// leader's lease must survive the restart.
func (r *Raft) inLease() bool {
	if r.ticks < uint64(r.cfg.ElectionTicks) {
		return true
	}
	return r.leader != "" && r.electionElapsed < r.cfg.ElectionTicks
}

// Status reports the core's current state.
func (r *Raft) Status() Status {
	s := Status{
		ID: r.id, Role: r.role, Term: r.term, Vote: r.vote, Leader: r.leader,
		Commit: r.log.committed, Applied: r.log.applied,
		SnapshotIndex: r.log.snapshotIndex, FirstIndex: r.log.firstIndex(), LastIndex: r.log.lastIndex(),
		Elapsed: r.ticks, Recovering: r.recovering,
	}
	if r.role == Leader {
		s.LastQuorumAckTick = r.reads.quorumAckTick
		s.CommittedInTerm = r.committedInTerm()
		s.TermStartIndex = r.termStart
	}
	return s
}

func (r *Raft) hardState() HardState {
	return HardState{Term: r.term, Vote: r.vote, Commit: r.log.committed}
}
