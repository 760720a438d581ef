package raft

import "fmt"

// progressState is how the leader currently replicates to one follower.
type progressState uint8

const (
	// stateProbe: the leader does not know where the follower's log
	// matches; it sends one MsgApp at a time and waits for the answer (or
	// a heartbeat response) before sending another.
	stateProbe progressState = iota
	// stateReplicate: the logs match up to Match; the leader streams MsgApp
	// optimistically, up to MaxInflightAppends unacknowledged (the request
	// pipeline).
	stateReplicate
	// stateSnapshot: the entries the follower needs are compacted; a
	// MsgSnap is in flight and nothing else is sent until it is acknowledged
	// (or resent after an election timeout without an answer).
	stateSnapshot
)

func (s progressState) String() string {
	switch s {
	case stateProbe:
		return "probe"
	case stateReplicate:
		return "replicate"
	case stateSnapshot:
		return "snapshot"
	}
	return "unknown"
}

// progress is the leader's view of one follower.
type progress struct {
	match uint64 // highest index known to be replicated on the follower
	next  uint64 // next index to send
	state progressState

	// probeSent pauses a probing follower after one MsgApp.
	probeSent bool
	// inflight holds the last index of each unacknowledged MsgApp in
	// stateReplicate, oldest first; len(inflight) <= maxInflight.
	inflight []uint64
	// pendingSnapshot is the index of the snapshot in flight, and
	// snapshotSentTick when it was sent.
	pendingSnapshot  uint64
	snapshotSentTick uint64

	// sentCommit is the highest commit index sent in a MsgApp: when the
	// leader's commit is above it, an empty MsgApp is worth sending.
	sentCommit uint64
	// lastAppendRound is the latest heartbeat round started before the
	// last MsgApp was sent: an echo of a later round means that append
	// reached the follower (on a FIFO link) before the heartbeat did.
	lastAppendRound uint64

	// recentActive: the follower answered since the last check-quorum.
	recentActive bool
	// ackedRound is the latest heartbeat round the follower echoed.
	ackedRound uint64
}

func newProgress(next uint64) *progress {
	return &progress{next: next}
}

func (p *progress) becomeProbe() {
	if p.state == stateSnapshot {
		p.next = max(p.match+1, p.pendingSnapshot+1)
	} else {
		p.next = p.match + 1
	}
	p.state = stateProbe
	p.probeSent = false
	p.inflight = p.inflight[:0]
	p.pendingSnapshot = 0
}

func (p *progress) becomeReplicate() {
	p.state = stateReplicate
	p.next = p.match + 1
	p.probeSent = false
	p.inflight = p.inflight[:0]
	p.pendingSnapshot = 0
}

func (p *progress) becomeSnapshot(index, tick uint64) {
	p.state = stateSnapshot
	p.pendingSnapshot = index
	p.snapshotSentTick = tick
	p.inflight = p.inflight[:0]
}

// paused reports whether the leader must not send another MsgApp now.
func (p *progress) paused(maxInflight int) bool {
	switch p.state {
	case stateProbe:
		return p.probeSent
	case stateReplicate:
		return len(p.inflight) >= maxInflight
	}
	return true
}

// sentAppend records a MsgApp whose last entry is lastIndex.
func (p *progress) sentAppend(lastIndex uint64, entries int, maxInflight int) {
	switch p.state {
	case stateReplicate:
		if entries > 0 {
			if len(p.inflight) >= maxInflight {
				panic(fmt.Sprintf("raft: in-flight appends %d exceed the bound %d", len(p.inflight)+1, maxInflight))
			}
			p.next = lastIndex + 1
			p.inflight = append(p.inflight, lastIndex)
		}
	case stateProbe:
		p.probeSent = true
	}
}

// acked records that the follower holds everything up to index. It reports
// whether match moved forward.
func (p *progress) acked(index uint64) bool {
	// Release every in-flight append covered by this acknowledgement.
	n := 0
	for n < len(p.inflight) && p.inflight[n] <= index {
		n++
	}
	p.inflight = append(p.inflight[:0], p.inflight[n:]...)
	if index <= p.match {
		return false
	}
	p.match = index
	p.next = max(p.next, index+1)
	p.probeSent = false
	return true
}
