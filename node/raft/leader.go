package raft

import (
	"fmt"
	"slices"
)

// becomeLeader takes over the term this node won. It appends a no-op: the
// leader may only commit entries of its own term by counting replicas, and
// committing the no-op commits every earlier entry with it.
func (r *Raft) becomeLeader() {
	if r.role != Candidate {
		panic(fmt.Sprintf("raft: %s becoming leader from role %s", r.id, r.role))
	}
	r.role = Leader
	r.leader = r.id
	r.votes = nil
	// A quorum granted our log: from now on it is the cluster's.
	r.recovering, r.rec = false, nil
	r.resetTimers()
	r.progress = make(map[string]*progress, len(r.peers)-1)
	for _, p := range r.peers {
		if p != r.id {
			r.progress[p] = newProgress(r.log.lastIndex() + 1)
		}
	}
	r.reads.reset()
	r.termStart = r.log.lastIndex() + 1
	r.log.append(Entry{Term: r.term, Index: r.termStart, Type: EntryNoop})
	r.bcastAppend()
}

// tickLeader sends heartbeats and runs check-quorum.
func (r *Raft) tickLeader() {
	r.heartbeatElapsed++
	r.electionElapsed++
	if r.electionElapsed >= r.cfg.ElectionTicks {
		r.electionElapsed = 0
		if !r.checkQuorum() {
			// Check-quorum: a leader that has not heard from a majority
			// within an election timeout may have been replaced; stop
			// serving as leader (and fail the reads it cannot confirm).
			r.becomeFollower(r.term, "")
			return
		}
	}
	if r.heartbeatElapsed >= r.cfg.HeartbeatTicks {
		r.heartbeatElapsed = 0
		r.bcastHeartbeat()
	}
	r.resendStaleSnapshots()
}

// checkQuorum reports whether a quorum (counting the leader) was active
// since the last check, and starts a new check window.
func (r *Raft) checkQuorum() bool {
	active := 1
	for _, pr := range r.progress {
		if pr.recentActive {
			active++
		}
		pr.recentActive = false
	}
	return active >= r.quorum
}

// Propose appends a command to the leader's log and starts replicating it.
// The returned index and term identify the entry: it took effect only if a
// committed entry with that index has that term.
func (r *Raft) Propose(data []byte) (index, term uint64, err error) {
	if r.role != Leader {
		return 0, 0, ErrNotLeader
	}
	if r.log.lastIndex()-r.log.committed >= uint64(r.cfg.MaxUncommittedEntries) {
		return 0, 0, ErrProposalQueueFull
	}
	e := Entry{Term: r.term, Index: r.log.lastIndex() + 1, Type: EntryNormal, Data: data}
	r.log.append(e)
	r.bcastAppend()
	return e.Index, e.Term, nil
}

func (r *Raft) bcastAppend() {
	for _, p := range r.peers {
		if p != r.id {
			r.sendAppend(p, false)
		}
	}
}

// sendAppend sends the follower what it is missing, as far as its progress
// state allows: one probe, or batches of up to MaxEntriesPerAppend entries
// until MaxInflightAppends are unacknowledged. With sendEmpty it sends an
// empty MsgApp if nothing else (to carry a new commit index).
func (r *Raft) sendAppend(to string, sendEmpty bool) {
	pr := r.progress[to]
	for !pr.paused(r.cfg.MaxInflightAppends) {
		prevIndex := pr.next - 1
		prevTerm, ok := r.log.term(prevIndex)
		if !ok {
			r.sendSnapshot(to, pr)
			return
		}
		last := min(r.log.lastIndex(), prevIndex+uint64(r.cfg.MaxEntriesPerAppend))
		ents := r.log.slice(pr.next, last+1)
		if len(ents) == 0 && !sendEmpty {
			return
		}
		r.send(Message{Type: MsgApp, To: to, Index: prevIndex, LogTerm: prevTerm, Entries: ents, Commit: r.log.committed})
		pr.sentCommit = r.log.committed
		pr.lastAppendRound = r.reads.round
		pr.sentAppend(last, len(ents), r.cfg.MaxInflightAppends)
		if pr.state != stateReplicate || len(ents) == 0 {
			return
		}
		sendEmpty = false
	}
}

func (r *Raft) sendSnapshot(to string, pr *progress) {
	s := r.log.snapshot
	if s == nil {
		panic(fmt.Sprintf("raft: follower %s needs index %d below first index %d but there is no snapshot", to, pr.next, r.log.firstIndex()))
	}
	r.send(Message{Type: MsgSnap, To: to, Snapshot: s})
	pr.becomeSnapshot(s.Index, r.ticks)
}

// resendStaleSnapshots moves followers whose snapshot went unanswered for an
// election timeout back to probing, which sends the snapshot again.
func (r *Raft) resendStaleSnapshots() {
	for _, p := range r.peers {
		pr := r.progress[p]
		if pr != nil && pr.state == stateSnapshot && r.ticks-pr.snapshotSentTick >= uint64(r.cfg.ElectionTicks) {
			pr.becomeProbe()
			pr.next = pr.match + 1
			r.sendAppend(p, false)
		}
	}
}

// bcastHeartbeat starts a new heartbeat round. Each heartbeat carries the
// round id in Context; a quorum of echoes confirms leadership as of the
// round's send tick (for read index and the lease).
func (r *Raft) bcastHeartbeat() {
	round := r.reads.startRound(r.ticks)
	for _, p := range r.peers {
		if p == r.id {
			continue
		}
		pr := r.progress[p]
		r.send(Message{Type: MsgHeartbeat, To: p, Commit: min(r.log.committed, pr.match), Context: round})
	}
	if r.quorum == 1 {
		r.reads.confirm(r, round)
	}
}

// handleLeaderResponse processes MsgAppResp and MsgHeartbeatResp.
func (r *Raft) handleLeaderResponse(m Message) {
	pr := r.progress[m.From]
	pr.recentActive = true
	if m.Type == MsgHeartbeatResp {
		if m.Index < pr.match {
			// The follower holds less than it acknowledged: its storage
			// lost entries (a wiped data dir, a tail repaired away).
			// No MsgApp may be due (it matched our whole log), so find
			// where it matches again from what it holds now.
			r.followerLostEntries(pr, m.Index)
		}
		if m.Context > pr.ackedRound {
			pr.ackedRound = m.Context
			r.reads.maybeConfirm(r)
		}
		if pr.state == stateSnapshot && r.ticks-pr.snapshotSentTick < uint64(r.cfg.ElectionTicks) {
			return
		}
		if pr.state == stateSnapshot {
			pr.becomeProbe()
			pr.next = pr.match + 1
		}
		if m.Context > pr.lastAppendRound {
			// The follower answered a heartbeat sent after our latest
			// append. On a FIFO link the append's answer would have come
			// first, so if we are still waiting for it, the append or its
			// answer was lost: probe (again) from the match index.
			switch {
			case pr.state == stateProbe:
				pr.probeSent = false
			case pr.state == stateReplicate && len(pr.inflight) > 0:
				pr.becomeProbe()
			}
		}
		if pr.match < r.log.lastIndex() {
			r.sendAppend(m.From, false)
		}
		return
	}
	if m.Reject {
		r.handleAppendRejected(m, pr)
		return
	}
	if m.Index > r.log.lastIndex() {
		// A follower cannot hold more of this term's log than its leader;
		// only a broken generation check gets here. Ignore it.
		return
	}
	advanced := pr.acked(m.Index)
	switch pr.state {
	case stateProbe:
		if pr.match+1 >= pr.next || advanced {
			pr.becomeReplicate()
		}
	case stateSnapshot:
		if pr.match >= pr.pendingSnapshot {
			pr.becomeReplicate()
		}
	}
	if advanced && r.maybeCommit() {
		return // maybeCommit sent to everyone
	}
	r.sendAppend(m.From, pr.sentCommit < r.log.committed)
}

// handleAppendRejected backs the follower's next index off using its hint:
// the follower reported (RejectHint, LogTerm), the last index at or below the
// probe whose term is at most the probe's term. Every index of ours whose term
// is above LogTerm cannot match either, so skip them all in one step.
//
// A hint below the match index means the follower no longer holds entries it
// acknowledged (the hint never falls below an index whose entry matches
// ours): the match index is forgotten and the search starts from the hint,
// whatever the rejected index was. So does a rejection of the probe at or
// below the match index: the follower's log may be as long as before, but
// an older entry came back where it had acknowledged ours (a disk that lost
// its writes), and probing the same index again would be rejected for ever.
func (r *Raft) handleAppendRejected(m Message, pr *progress) {
	switch {
	case m.RejectHint < pr.match,
		pr.state != stateReplicate && m.Index == pr.next-1 && m.Index <= pr.match:
		r.followerLostEntries(pr, m.RejectHint)
	case pr.state == stateReplicate && m.Index <= pr.match,
		pr.state != stateReplicate && m.Index != pr.next-1:
		return // stale rejection
	}
	next := min(m.Index, m.RejectHint)
	for next > pr.match {
		t, ok := r.log.term(next)
		if !ok || t <= m.LogTerm {
			break
		}
		next--
	}
	pr.becomeProbe()
	pr.next = max(next+1, pr.match+1)
	r.sendAppend(m.From, false)
}

// followerLostEntries forgets what a follower acknowledged once it shows a
// log that ends at last, below its match index: the commit quorum no longer
// counts it for entries it does not hold, and probing starts after last.
// The commit index never moves back; only new commits need new acks.
func (r *Raft) followerLostEntries(pr *progress, last uint64) {
	pr.match = 0
	pr.becomeProbe()
	pr.next = min(last, r.log.lastIndex()) + 1
}

// maybeCommit advances the high-water mark to the highest index replicated
// on a quorum, if that entry is of the leader's own term (Raft §5.4.2: an
// earlier-term entry on a majority can still be overwritten, figure 8). The
// leader's own log counts only up to what it has made durable (stabled).
// It reports whether the commit index moved; if so, followers are told.
func (r *Raft) maybeCommit() bool {
	matches := make([]uint64, 0, len(r.peers))
	matches = append(matches, r.log.stabled)
	for _, pr := range r.progress {
		matches = append(matches, pr.match)
	}
	slices.Sort(matches)
	slices.Reverse(matches)
	index := matches[r.quorum-1]
	if index <= r.log.committed {
		return false
	}
	if term, _ := r.log.term(index); term != r.term {
		if !r.cfg.Unsafe.CommitOldGeneration {
			return false
		}
		// UNSAFE(commit-old-generation): commit an earlier term's entry
		// because a majority holds it. A later leader that lacks it can
		// still overwrite it (figure 8).
	}
	r.log.commitTo(index)
	r.reads.onCommit(r)
	for _, p := range r.peers {
		if p != r.id {
			r.sendAppend(p, true)
		}
	}
	return true
}

// committedInTerm reports whether the leader has committed an entry of its
// own term, i.e. whether its commit index is at least every committed index
// of earlier leaders.
func (r *Raft) committedInTerm() bool {
	t, ok := r.log.term(r.log.committed)
	return ok && t == r.term
}
