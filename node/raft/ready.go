package raft

import "fmt"

// The Ready/Advance hand-off with the driver.
//
// Ready hands over what to persist, send and apply; Advance says it has been
// done. Messages, ReadStates and DroppedReads are moved out by Ready (each is
// handed over once). The Messages slice is the driver's until Advance, which
// reuses its array for the next messages: a driver keeps copies of the
// messages, not the slice. HardState, Entries, Snapshot and CommittedEntries are
// handed over again by every Ready until an Advance confirms them, so a
// driver that fails before Advance can retry.
//
// The driver calls nothing else between Ready and Advance.

// HasReady reports whether Ready would return anything.
func (r *Raft) HasReady() bool {
	return len(r.msgs) > 0 || len(r.readStates) > 0 || len(r.droppedReads) > 0 ||
		r.reads.needRound ||
		r.hardState() != r.prevHardState ||
		r.pendingSnapshot != nil ||
		r.log.stabled < r.log.lastIndex() ||
		r.log.committed > max(r.log.applied, r.log.snapshotIndex)
}

// Ready returns what the driver must persist, send and apply next.
func (r *Raft) Ready() Ready {
	if r.reads.needRound && r.role == Leader {
		// Confirm the reads that arrived since the last round with one
		// heartbeat round for all of them.
		r.heartbeatElapsed = 0
		r.bcastHeartbeat()
	}
	rd := Ready{
		Entries:          r.log.unstableEntries(),
		Snapshot:         r.pendingSnapshot,
		Messages:         r.msgs,
		CommittedEntries: r.log.nextCommitted(r.committedEntriesPerReady()),
		ReadStates:       r.readStates,
		DroppedReads:     r.droppedReads,
	}
	if hs := r.hardState(); hs != r.prevHardState {
		// What reaches the disk must never go backwards.
		if hs.Term < r.prevHardState.Term || hs.Commit < r.prevHardState.Commit {
			panic(fmt.Sprintf("raft: hard state would go backwards from %+v to %+v", r.prevHardState, hs))
		}
		rd.HardState = &hs
	}
	r.msgs, r.readStates, r.droppedReads = nil, nil, nil
	return rd
}

// committedEntriesPerReady bounds CommittedEntries so one Ready does not
// hold the whole log after a long catch-up. It is at least 1024 whatever the
// append batch: small batches (down to one entry) must not throttle applying.
func (r *Raft) committedEntriesPerReady() int {
	return max(1024, 4*r.cfg.MaxEntriesPerAppend)
}

// Advance tells the core that rd has been persisted, sent and applied. On
// a leader, this is where its own log starts counting towards the commit
// quorum: only entries it has made durable count.
func (r *Raft) Advance(rd Ready) {
	if r.msgs == nil && cap(rd.Messages) > 0 {
		// Nothing was sent since Ready: reuse the array (cleared, so it
		// holds no entries or snapshot alive) instead of growing a new one
		// for every Ready.
		clear(rd.Messages)
		r.msgs = rd.Messages[:0]
	}
	if rd.HardState != nil {
		r.prevHardState = *rd.HardState
	}
	if s := rd.Snapshot; s != nil {
		if r.pendingSnapshot != nil && r.pendingSnapshot.Index == s.Index {
			r.pendingSnapshot = nil
		}
		r.log.applied = max(r.log.applied, s.Index)
	}
	if n := len(rd.Entries); n > 0 {
		last := rd.Entries[n-1]
		if r.log.matchTerm(last.Index, last.Term) && last.Index > r.log.stabled {
			r.log.stabled = last.Index
		}
	}
	if n := len(rd.CommittedEntries); n > 0 {
		applied := rd.CommittedEntries[n-1].Index
		if applied > r.log.committed {
			panic(fmt.Sprintf("raft: applied index %d beyond commit index %d", applied, r.log.committed))
		}
		r.log.applied = max(r.log.applied, applied)
	}
	if r.role == Leader {
		r.maybeCommit()
	}
	r.maybeEndRecovery()
}

// Compact records that the state machine was snapshotted at snap.Index (an
// applied index): log entries at or below it are dropped, and snap is sent
// to followers that need any of them.
func (r *Raft) Compact(snap Snapshot) error {
	if err := r.log.compact(snap); err != nil {
		return fmt.Errorf("raft compact: %w", err)
	}
	return nil
}
