package raft

import "slices"

// Linearizable reads without writing to the log: read index (Raft thesis
// §6.4) and the leader lease built on the same heartbeat rounds.
//
// ReadIndex(id) on a leader records the commit index at arrival. The read
// may be served once (1) a quorum has acknowledged a heartbeat round sent
// after the read arrived, proving this node was still the leader then, and
// (2) the state machine has applied that index. A leader that has not yet
// committed an entry of its own term does not know the latest commit index,
// so its reads wait until its no-op commits.
//
// Reads arriving between two Ready calls share one heartbeat round: the round
// is sent when the driver next calls Ready.

// maxPendingReads bounds reads waiting for confirmation; beyond it
// ReadIndex fails with ErrProposalQueueFull.
const maxPendingReads = 1 << 14

// maxRoundsTracked bounds the heartbeat rounds remembered for their send
// tick. Forgetting the oldest only makes the lease more conservative.
const maxRoundsTracked = 1024

type pendingRead struct {
	id    uint64
	index uint64 // commit index when the read was registered
	round uint64 // first heartbeat round sent after it arrived
}

type roundSent struct {
	id   uint64
	tick uint64
}

type readIndex struct {
	round     uint64      // id of the latest heartbeat round started
	needRound bool        // a read is waiting for a round not yet sent
	rounds    []roundSent // rounds started above quorumRound, oldest first

	quorumRound   uint64 // latest round a quorum acknowledged
	quorumAckTick uint64 // send tick of that round
	hasQuorumAck  bool

	waiting []uint64 // reads that arrived before the leader committed in its term
	pending []pendingRead
}

// ReadIndex asks the leader to confirm a linearizable read. The answer is a
// ReadState with RequestID in a later Ready, or RequestID in
// Ready.DroppedReads if leadership is lost first.
func (r *Raft) ReadIndex(requestID uint64) error {
	if r.role != Leader {
		return ErrNotLeader
	}
	if len(r.reads.waiting)+len(r.reads.pending) >= maxPendingReads {
		return ErrProposalQueueFull
	}
	if !r.committedInTerm() {
		r.reads.waiting = append(r.reads.waiting, requestID)
		return nil
	}
	r.reads.register(r, requestID)
	return nil
}

func (ri *readIndex) register(r *Raft, id uint64) {
	if r.quorum == 1 {
		r.readStates = append(r.readStates, ReadState{RequestID: id, Index: r.log.committed})
		return
	}
	ri.pending = append(ri.pending, pendingRead{id: id, index: r.log.committed, round: ri.round + 1})
	ri.needRound = true
}

// onCommit releases reads that waited for the leader's first commit in its
// term.
func (ri *readIndex) onCommit(r *Raft) {
	if len(ri.waiting) == 0 || !r.committedInTerm() {
		return
	}
	for _, id := range ri.waiting {
		ri.register(r, id)
	}
	ri.waiting = ri.waiting[:0]
}

// startRound opens a heartbeat round sent at tick and returns its id.
func (ri *readIndex) startRound(tick uint64) uint64 {
	ri.round++
	ri.needRound = false
	if len(ri.rounds) >= maxRoundsTracked {
		ri.rounds = append(ri.rounds[:0], ri.rounds[1:]...)
	}
	ri.rounds = append(ri.rounds, roundSent{id: ri.round, tick: tick})
	return ri.round
}

// maybeConfirm checks whether a quorum has now acknowledged a newer round.
func (ri *readIndex) maybeConfirm(r *Raft) {
	acked := make([]uint64, 0, len(r.peers))
	acked = append(acked, ri.round) // the leader acknowledges its own rounds
	for _, pr := range r.progress {
		acked = append(acked, pr.ackedRound)
	}
	// The quorum-th largest acknowledged round is acknowledged by a quorum.
	slices.Sort(acked)
	slices.Reverse(acked)
	if round := acked[r.quorum-1]; round > ri.quorumRound {
		ri.confirm(r, round)
	}
}

// confirm records that a quorum acknowledged round, releasing every read
// registered for it or an earlier round.
func (ri *readIndex) confirm(r *Raft, round uint64) {
	ri.quorumRound = round
	n := 0
	for n < len(ri.rounds) && ri.rounds[n].id <= round {
		ri.quorumAckTick = ri.rounds[n].tick
		ri.hasQuorumAck = true
		n++
	}
	ri.rounds = append(ri.rounds[:0], ri.rounds[n:]...)
	n = 0
	for n < len(ri.pending) && ri.pending[n].round <= round {
		p := ri.pending[n]
		r.readStates = append(r.readStates, ReadState{RequestID: p.id, Index: p.index})
		n++
	}
	ri.pending = append(ri.pending[:0], ri.pending[n:]...)
}

// dropAll fails every read not yet confirmed: called on losing leadership.
func (ri *readIndex) dropAll(r *Raft) {
	r.droppedReads = append(r.droppedReads, ri.waiting...)
	for _, p := range ri.pending {
		r.droppedReads = append(r.droppedReads, p.id)
	}
	ri.waiting = ri.waiting[:0]
	ri.pending = ri.pending[:0]
	ri.needRound = false
}

// reset clears the per-term state when becoming leader. Round ids keep
// increasing across terms.
func (ri *readIndex) reset() {
	*ri = readIndex{round: ri.round}
}

// LeaseValid reports whether this leader may serve a read from local state
// without a quorum round: it is the leader, has committed in its term, and a
// quorum acknowledged a heartbeat sent less than ElectionTicks-marginTicks
// ticks ago. Followers refuse to vote for ElectionTicks after hearing from
// the leader, so no other leader can exist before then.
//
// Clock assumption: every node's ticks advance at the same rate within the
// margin. A node whose clock runs fast or jumps (a skewed tick source) can
// break the lease; marginTicks is the allowance for that drift.
func (r *Raft) LeaseValid(marginTicks int) bool {
	if r.role != Leader || !r.committedInTerm() || !r.reads.hasQuorumAck {
		return false
	}
	return int64(r.ticks-r.reads.quorumAckTick) < int64(r.cfg.ElectionTicks-marginTicks)
}
