package raft

// Follower side of replication: log matching (Raft §5.3).
//
// Every MsgApp names the entry preceding its entries (Index, LogTerm). The
// follower accepts only if it holds that entry with that term; then, by
// induction, its log matches the leader's up to there. Entries that conflict
// (same index, different term) are truncated with everything after them;
// entries that agree are kept, so a delayed MsgApp cannot shorten the log.
// Acknowledgements (MsgAppResp) leave only after the Ready holding the
// entries is durable.

// handleAppend answers a MsgApp with exactly one MsgAppResp.
func (r *Raft) handleAppend(m Message) {
	if m.Index < r.log.committed {
		// Everything up to our commit index is already settled; tell
		// the leader how far we are.
		r.send(Message{Type: MsgAppResp, To: m.From, Index: r.log.committed})
		return
	}
	if !r.log.matchTerm(m.Index, m.LogTerm) {
		hintIndex, hintTerm := r.rejectHint(m.Index, m.LogTerm)
		r.send(Message{Type: MsgAppResp, To: m.From, Index: m.Index, Reject: true, RejectHint: hintIndex, LogTerm: hintTerm})
		return
	}
	if len(m.Entries) > 0 {
		r.log.appendAfter(m.Entries)
	}
	lastNew := m.Index + uint64(len(m.Entries))
	if r.matchedTerm != r.term {
		r.matched, r.matchedTerm = 0, r.term
	}
	r.matched = max(r.matched, lastNew)
	// Commit only what is known to match the leader: up to lastNew.
	r.log.commitTo(min(m.Commit, lastNew))
	r.send(Message{Type: MsgAppResp, To: m.From, Index: lastNew})
}

// rejectHint finds the largest index at or below min(index, lastIndex)
// whose term is at most term (fast backtracking). The leader can then skip
// every index above it whose term is above the returned term, instead of
// probing one index per round trip.
func (r *Raft) rejectHint(index, term uint64) (uint64, uint64) {
	i := min(index, r.log.lastIndex())
	for ; i > r.log.snapshotIndex; i-- {
		if t, _ := r.log.term(i); t <= term {
			break
		}
	}
	t, _ := r.log.term(i)
	return i, t
}

// handleHeartbeat advances the commit index (the leader sends at most our
// match index, so it is safe) and echoes the read-index round.
//
// Not while recovering: the match the leader recorded may be an
// acknowledgement our storage lost, and the entries we hold there may not be
// the ones we acknowledged (a torn tail that cut off an append also undoes
// the truncation it made, bringing replaced entries back). A recovering node
// commits only from appends, up to where they matched the leader's log.
func (r *Raft) handleHeartbeat(m Message) {
	if m.Commit > r.log.committed && !r.recovering {
		r.log.commitTo(min(m.Commit, r.log.lastIndex()))
	}
	// Index tells the leader how far our log reaches: below the match it
	// recorded for us, we lost entries and it must probe again.
	r.send(Message{Type: MsgHeartbeatResp, To: m.From, Context: m.Context, Index: r.heldForLeader()})
}

// heldForLeader is how far our log reaches as far as the leader may count
// on it: all of it, or, while recovering, only what is known to match the
// leader's log (what is committed, and what its appends of this term
// matched). A recovering node's log may be as long as what it acknowledged
// and still differ from it (replaced entries that a torn tail brought back):
// the leader must then see less than the match it recorded, and probe again.
func (r *Raft) heldForLeader() uint64 {
	if !r.recovering {
		return r.log.lastIndex()
	}
	held := r.log.committed
	if r.matchedTerm == r.term {
		held = max(held, r.matched)
	}
	return min(held, r.log.lastIndex())
}

// handleSnapshot installs a snapshot newer than our commit index. The
// driver persists it (Ready.Snapshot) before the acknowledgement is sent.
func (r *Raft) handleSnapshot(m Message) {
	s := m.Snapshot
	if s == nil || s.Index <= r.log.committed {
		r.send(Message{Type: MsgAppResp, To: m.From, Index: r.log.committed})
		return
	}
	if r.log.matchTerm(s.Index, s.Term) {
		// We already hold the entry the snapshot ends at: everything up to
		// it is committed, and our log stays.
		r.log.commitTo(s.Index)
		r.send(Message{Type: MsgAppResp, To: m.From, Index: s.Index})
		return
	}
	r.log.restore(*s)
	r.pendingSnapshot = r.log.snapshot
	r.send(Message{Type: MsgAppResp, To: m.From, Index: s.Index})
}
