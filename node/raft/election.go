package raft

// Elections: pre-vote, then vote (Raft §5.2 with the pre-vote extension of
// Ongaro's thesis §9.6).
//
// A follower whose election timeout expires first becomes a pre-candidate
// and asks whether it could win in term+1 without changing any durable
// state. Only when a quorum says yes does it increment its term and ask for
// real votes. A node cut off by a partition therefore keeps its term while
// isolated, and cannot force a healthy leader to step down when it rejoins.
//
// Persist before speak: a granted vote (and a candidate's vote for itself)
// changes HardState.Vote; the response leaves in the same Ready, which the
// driver sends only after making that HardState durable. A restarted node
// reads its vote back in Restore and cannot vote twice in one term.

// preCampaign starts a pre-vote round.
func (r *Raft) preCampaign() {
	if r.recovering && r.log.lastIndex() > 0 {
		// Our log may lack entries we acknowledged before the storage
		// lost them: a vote for ourselves could elect a log without them.
		// Wait for a leader to catch us up.
		r.resetTimers()
		return
	}
	r.role = PreCandidate
	r.leader = ""
	r.votes = map[string]bool{r.id: true}
	r.resetTimers()
	if r.tallyVotes() {
		r.campaign()
		return
	}
	for _, p := range r.peers {
		if p != r.id {
			r.send(Message{Type: MsgPreVote, To: p, Term: r.term + 1, Index: r.log.lastIndex(), LogTerm: r.log.lastTerm()})
		}
	}
}

// campaign starts a real election in the next term.
func (r *Raft) campaign() {
	if r.role == Leader {
		return
	}
	r.setTerm(r.term + 1)
	r.role = Candidate
	r.leader = ""
	r.vote = r.id
	r.votes = map[string]bool{r.id: true}
	r.resetTimers()
	if r.tallyVotes() {
		r.becomeLeader()
		return
	}
	for _, p := range r.peers {
		if p != r.id {
			r.send(Message{Type: MsgVote, To: p, Index: r.log.lastIndex(), LogTerm: r.log.lastTerm()})
		}
	}
}

// handleVoteRequest answers a MsgPreVote or MsgVote whose term is not below
// ours (a higher-term MsgVote has already moved us to its term).
func (r *Raft) handleVoteRequest(m Message) {
	pre := m.Type == MsgPreVote
	respType := MsgVoteResp
	if pre {
		respType = MsgPreVoteResp
	}
	var canVote bool
	if pre {
		// Would we vote for it in the term it asks about? Only if no
		// leader was heard from recently, and only for a term ahead of
		// ours or for ours while we have neither voted nor heard of a
		// leader in it: the answer a real request would get.
		canVote = (m.Term > r.term || m.Term == r.term && r.vote == "" && r.leader == "") && !r.inLease()
	} else {
		canVote = r.vote == m.From || (r.vote == "" && r.leader == "")
	}
	if r.recovering && m.Index > 0 && !r.covers(m.Index, m.LogTerm) {
		// We may have lost entries we acknowledged: our log proves
		// nothing about the candidate's. Only a candidate whose log holds
		// whatever we may have acknowledged (recovery.go), or an empty one
		// (a new cluster's first election), gets a vote.
		canVote = false
	}
	if !canVote || !r.log.isUpToDate(m.Index, m.LogTerm) {
		r.send(Message{Type: respType, To: m.From, Reject: true})
		return
	}
	if pre {
		// Answer in the term asked about so the pre-candidate counts it.
		r.send(Message{Type: respType, To: m.From, Term: m.Term})
		return
	}
	r.vote = m.From
	r.electionElapsed = 0 // granting a vote defers our own candidacy
	r.send(Message{Type: respType, To: m.From})
}

// handleVoteResponse counts a MsgPreVoteResp or MsgVoteResp.
func (r *Raft) handleVoteResponse(m Message) {
	switch {
	case m.Type == MsgPreVoteResp && r.role == PreCandidate:
		// Grants carry term+1; a rejection carries the voter's term.
		if !m.Reject && m.Term != r.term+1 {
			return
		}
	case m.Type == MsgVoteResp && r.role == Candidate:
	default:
		return // stale response to an earlier round
	}
	r.votes[m.From] = !m.Reject
	if r.tallyVotes() {
		if r.role == PreCandidate {
			r.campaign()
		} else {
			r.becomeLeader()
		}
		return
	}
	if r.lostElection() {
		r.becomeFollower(r.term, "")
	}
}

func (r *Raft) tallyVotes() bool {
	granted := 0
	for _, g := range r.votes {
		if g {
			granted++
		}
	}
	return granted >= r.quorum
}

func (r *Raft) lostElection() bool {
	rejected := 0
	for _, g := range r.votes {
		if !g {
			rejected++
		}
	}
	return rejected >= r.quorum
}
