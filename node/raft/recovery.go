package raft

// Recovery after storage loss (Restore.Recovering): what a node that lost
// what it acknowledged or voted must learn before its log counts again.
//
// Such a node may have counted toward the quorum of entries it no longer
// holds, in a generation it no longer remembers. Holding a committed entry of
// the leader it now follows is not enough to end recovery:
//
//   - That leader may be stale: the node may have acknowledged entries of a
//     later generation, which the stale leader lacks, before the loss. Caught
//     up from it, the node would vote it (or a log like its) into a new
//     generation without them.
//   - Leader completeness covers only earlier generations: the node may have
//     acknowledged entries of the leader's own generation beyond the commit
//     it now catches up to (a snapshot, or a commit index that lags), and a
//     leader elected with its vote then lacks them.
//
// So a recovering node first learns a floor (as Viewstamped Replication's
// recovery protocol does, Liskov and Cowling 2012, §4.3): it asks every peer
// for its generation with a nonce of its own, and takes the highest
// generation among the first answers of a quorum of the other nodes. Every
// generation in which it acknowledged an entry or granted a winning vote
// before the loss is at or below that floor: its leader was elected by a
// quorum, whose other members were in that generation or later before the
// loss, and one of them is among the answers, all sent after the loss. (A
// voter that itself lost its generation since could answer lower; that takes
// a second loss, in the quorum of the first loss's generation, overlapping
// it.) Until it knows the floor, the node ignores leaders: it could not tell a
// stale one, and whatever it answered would count toward that leader's
// quorums (commits, reads, leases). Once it knows the floor it adopts it as
// its generation, so a stale leader is refused and told to step down.
//
// Its log then covers what it may have acknowledged once it durably holds
//
//   - an entry of a generation above the floor: by log matching it holds that
//     generation's leader's log up to there, and by leader completeness that
//     log holds every entry committed in an earlier generation, which
//     includes every entry this node acknowledged before the loss; or
//   - an entry of the floor's generation at or after the last index the leader
//     of that generation reported in an answer: it acknowledged nothing of
//     that generation beyond what its leader held after the loss.
//
// It then ends recovery. Before that, it grants a vote or pre-vote to a
// candidate whose last entry covers the same (the candidate's log holds all
// this node may have acknowledged), so a cluster whose leader dies during a
// catch-up still elects one, and, as before, to an empty candidate: a new
// cluster's first election (see Restore.Recovering).

// recovery is what a recovering node has learned from its probes.
type recovery struct {
	// nonce is echoed by answers to this start's probes: an answer without
	// it may have been sent before the loss.
	nonce uint64
	// answered holds the generation of each peer's first answer.
	answered map[string]uint64
	// floor is known once a quorum of the other nodes answered (or the
	// leader of a generation that began at index 1 did): at or above every
	// generation this node took part in before the loss.
	floor      uint64
	floorKnown bool
	// emptyLeader: a leader answered that won with an empty log and has
	// committed nothing since (a new cluster's first leader).
	emptyLeader bool
	// leaderLast maps a generation to the last index its leader reported.
	leaderLast map[uint64]uint64
	// probeElapsed counts ticks since the last probes went out.
	probeElapsed int
	// probedLeader is the generation whose leader was asked for its last
	// index on first contact (the tick repeats it if the answer is lost).
	probedLeader uint64
	// heard is the last leader that sent us anything, in generation heardTerm.
	heard     string
	heardTerm uint64
}

// beginRecovery makes the node recovering and asks every peer for its
// generation.
func (r *Raft) beginRecovery() {
	nonce := r.cfg.Rand.Uint64()
	for nonce == 0 {
		nonce = r.cfg.Rand.Uint64()
	}
	r.recovering = true
	r.rec = &recovery{nonce: nonce, answered: map[string]uint64{}, leaderLast: map[uint64]uint64{}}
	r.learnFloor() // a single-node cluster has nobody to ask
	for _, p := range r.peers {
		if p != r.id {
			r.probe(p)
		}
	}
}

func (r *Raft) probe(to string) {
	r.send(Message{Type: MsgRecover, To: to, Context: r.rec.nonce})
}

// tickRecovery repeats the probes that were not answered: to the peers that
// have not answered, and to the last leader heard from, while the floor is
// unknown; then to the leader of the floor's generation while its last
// index is needed.
func (r *Raft) tickRecovery() {
	r.rec.probeElapsed++
	if r.rec.probeElapsed < r.cfg.HeartbeatTicks {
		return
	}
	r.rec.probeElapsed = 0
	if !r.rec.floorKnown {
		for _, p := range r.peers {
			if _, ok := r.rec.answered[p]; (!ok || p == r.rec.heard && r.needsLeaderLast(r.rec.heardTerm)) && p != r.id {
				r.probe(p)
			}
		}
		return
	}
	if r.leader != "" && r.term == r.rec.floor && r.needsLeaderLast(r.term) {
		r.probe(r.leader)
	}
}

// heardLeader notes a message from the leader of term, and asks it for its
// last index once per generation if recovery may need it: to set the floor
// (a new cluster's first leader), or to cover the floor's generation.
func (r *Raft) heardLeader(leader string, term uint64) {
	if !r.recovering || leader == r.id {
		return
	}
	r.rec.heard, r.rec.heardTerm = leader, term
	if r.rec.floorKnown && term != r.rec.floor {
		return
	}
	if r.needsLeaderLast(term) && r.rec.probedLeader != term {
		r.rec.probedLeader = term
		r.probe(leader)
	}
}

func (r *Raft) needsLeaderLast(term uint64) bool {
	_, ok := r.rec.leaderLast[term]
	return !ok
}

// handleRecover answers a probe, whatever the generations: with ours, and,
// if we lead it, with our last index. It changes nothing here.
func (r *Raft) handleRecover(m Message) {
	resp := Message{Type: MsgRecoverResp, To: m.From, Context: m.Context}
	if r.role == Leader {
		resp.Index, resp.LogTerm = r.log.lastIndex(), r.log.lastTerm()
		resp.Commit, resp.RejectHint = r.log.committed, r.termStart
	}
	r.send(resp)
}

// handleRecoverResp records an answer to one of this start's probes.
func (r *Raft) handleRecoverResp(m Message) {
	if !r.recovering || m.Context != r.rec.nonce {
		return // stale, or we are done
	}
	if m.Index > 0 && m.LogTerm == m.Term {
		// The leader of m.Term (only it holds entries of its generation
		// while in it): everything this node acknowledged in that
		// generation is at or below m.Index. The first answer is the
		// lowest such bound.
		if _, ok := r.rec.leaderLast[m.Term]; !ok {
			r.rec.leaderLast[m.Term] = m.Index
		}
		r.rec.emptyLeader = r.rec.emptyLeader || m.RejectHint == 1 && m.Commit == 0
	}
	if _, ok := r.rec.answered[m.From]; !ok {
		r.rec.answered[m.From] = m.Term
	}
	r.learnFloor()
}

// learnFloor sets the floor once a quorum of the other nodes answered (all
// of them in a cluster of two), and adopts it as our generation.
//
// The answer of a leader that won with an empty log (its generation began
// at index 1) and has committed nothing yet sets it too, whoever else
// answered: only a majority of empty logs elects an empty candidate, so
// nothing committed before its generation survives (the premise of the
// empty-candidate vote, Restore.Recovering), and what this node may have
// acknowledged in that generation is below the last index the leader
// reported. A new cluster's nodes all start recovering, and without this
// one node that never answers (down, or refused by its peers) would keep
// the others from ever committing: the first leader needs them to. What it
// cannot rule out is such a leader that is already stale: a first leader
// that never committed anything while a later generation, with this node,
// did, and that still led when this node came back.
func (r *Raft) learnFloor() {
	if r.rec.floorKnown || (len(r.rec.answered) < min(r.quorum, len(r.peers)-1) && !r.rec.emptyLeader) {
		return
	}
	r.rec.floorKnown = true
	for _, t := range r.rec.answered {
		r.rec.floor = max(r.rec.floor, t)
	}
	if r.rec.floor > r.term {
		r.becomeFollower(r.rec.floor, "")
	}
}

// ignoresLeaders reports whether leader traffic is dropped: recovering
// without a floor, the node cannot tell a stale leader.
func (r *Raft) ignoresLeaders() bool {
	return r.recovering && !r.rec.floorKnown
}

// covers reports whether a log whose last entry is (index, term) holds
// everything this recovering node may have acknowledged before the loss.
func (r *Raft) covers(index, term uint64) bool {
	if r.rec == nil || !r.rec.floorKnown || index == 0 {
		return false
	}
	if term > r.rec.floor {
		return true
	}
	last, ok := r.rec.leaderLast[term]
	return ok && term == r.rec.floor && index >= last
}

// maybeEndRecovery ends recovery once our durable log covers what we may
// have acknowledged before the loss (covers). From then on our log is as
// good as any replica's for votes and quorums. A node also ends recovery by
// winning an election (becomeLeader).
func (r *Raft) maybeEndRecovery() {
	if !r.recovering || r.pendingSnapshot != nil {
		return
	}
	i := r.log.stabled
	if t, ok := r.log.term(i); ok && r.covers(i, t) {
		r.recovering = false
		r.rec = nil
	}
}
