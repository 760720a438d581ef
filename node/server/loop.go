package server

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/faultline/faultline/node/kv"
	"github.com/faultline/faultline/node/raft"
)

// The singular update queue. run is the only goroutine that touches the
// replication core (s.raft), the WAL (s.wal) and the state machine's write
// side (s.kv.Apply/Restore). Everything reaches it through the bounded
// channels below; a full channel answers 503 at once rather than queueing
// unbounded work.

// proposal is a client write waiting to be proposed and then applied.
type proposal struct {
	cmd  kv.Command
	data []byte
	// done receives exactly one result; buffered so the loop never blocks on
	// a handler that has already timed out.
	done chan writeResult
	// replied is closed once the handler has answered the client (or given
	// up); the after-commit crash point waits for it.
	replied chan struct{}
}

// waiter is a proposal that entered the log at (index, term).
type waiter struct {
	term uint64
	p    *proposal
	// answered is set when ack-before-quorum answered it early.
	answered bool
}

// statusRequest asks the loop for a consistent status (with a digest).
type statusRequest struct {
	done chan statusView
}

// run is the singular update queue. It returns when stop is closed, or with
// an error when persisting fails (the node must not continue: it could
// otherwise acknowledge what is not durable).
func (s *Server) run(stop <-chan struct{}) error {
	ticker := s.clock.NewTicker(s.cfg.Tick)
	defer ticker.Stop()
	inbound := s.transport.Receive()
	for {
		s.metrics.loopIterations.Add(1)
		// Block only when the core has nothing to hand over: after Advance a
		// leader may have committed (its own fsync completed a quorum), and
		// that must be applied now, not at the next input.
		if !s.raft.HasReady() {
			select {
			case <-stop:
				return nil
			case <-ticker.C():
				s.tick()
			case m, ok := <-inbound:
				if !ok {
					return nil // transport closed: shutting down
				}
				s.step(m)
			case p := <-s.proposals:
				s.propose(p)
			case r := <-s.reads:
				s.read(r)
			case q := <-s.statusReqs:
				q.done <- s.statusLocked(true)
			}
		} else {
			select {
			case <-stop:
				return nil
			case <-ticker.C():
				s.tick()
			default:
			}
		}
		// Batching: take whatever else is queued, without blocking, so that
		// one Ready (one fsync, one append per peer) carries all of it.
		s.drain(inbound)
		if err := s.process(); err != nil {
			return err
		}
	}
}

// process ends one loop iteration, after its inputs: it starts one read
// round for the reads collected, persists, sends and applies what the core
// has ready, and publishes the new state. An error is a persistence failure:
// the node must stop.
func (s *Server) process() error {
	s.startReadRound()
	if err := s.handleReady(); err != nil {
		return err
	}
	// Every iteration, not only with a Ready: a check-quorum step-down
	// changes no durable state and sends nothing.
	s.noteRoleChange()
	s.publish()
	return nil
}

// drain handles up to MaxBatch more queued inputs without blocking.
func (s *Server) drain(inbound <-chan raft.Message) {
	for range s.cfg.MaxBatch {
		select {
		case m, ok := <-inbound:
			if !ok {
				return
			}
			s.step(m)
		case p := <-s.proposals:
			s.propose(p)
		case r := <-s.reads:
			s.read(r)
		case q := <-s.statusReqs:
			q.done <- s.statusLocked(true)
		default:
			return
		}
	}
}

// tick turns the time elapsed since the last tick event into core ticks.
//
// The ticker only wakes the loop up. It drops events when the loop is busy
// (a long fsync) or the process was paused, and a core that counted only
// delivered events would think less time had passed than really did: its
// lease would outlast the followers' election timeout. So elapsed time is
// measured on the base clock (the monotonic clock in production) and missed
// ticks are made up here, at most two election timeouts' worth at once
// (enough to expire any lease and start an election).
//
// The node's skewable clock (bumps, strobes and rate changes through
// /admin/clock) models its wall clock and never reaches the tick count: a
// real node's monotonic clock cannot be set, and hardware clocks drift by
// parts per million, far inside the lease margin. Only the unsafe
// lease-wallclock mode trusts the skewable clock.
func (s *Server) tick() {
	now := s.baseClock.Now()
	if s.lastTickAt.IsZero() {
		s.lastTickAt = now
		s.raft.Tick()
		return
	}
	elapsed := now.Sub(s.lastTickAt)
	s.lastTickAt = now
	if elapsed < 0 {
		elapsed = 0
	}
	s.tickDebt += elapsed
	ticks := int(s.tickDebt / s.cfg.Tick)
	s.tickDebt -= time.Duration(ticks) * s.cfg.Tick
	for range min(ticks, 2*s.cfg.electionTicks()) {
		s.raft.Tick()
	}
}

func (s *Server) step(m raft.Message) {
	if err := s.raft.Step(m); err != nil {
		s.log.Debug("step rejected", "type", m.Type, "from", m.From, "err", err)
	}
	s.noteQuorumAck()
}

func (s *Server) propose(p *proposal) {
	index, term, err := s.raft.Propose(p.data)
	if err != nil {
		// Rejected before entering any log: definitely not applied.
		p.done <- errorResult(http.StatusServiceUnavailable, fmt.Errorf("propose: %w", err))
		return
	}
	s.metrics.proposalsBatch.Add(1)
	if old, ok := s.waiters[index]; ok && !old.answered {
		// The entry this waiter was at was replaced in our own log, but
		// another node may still hold it and commit it as a later leader:
		// only a different committed entry proves it lost. Outcome unknown.
		old.p.done <- errorResult(http.StatusGatewayTimeout, errors.New("write displaced from this leader's log; outcome unknown"))
	}
	s.waiters[index] = &waiter{term: term, p: p}
}

// handleReady persists, sends, applies and advances.
//
// The order is "persist before you speak", with two refinements that keep
// its guarantee while overlapping the slow part (the fsync) with useful work,
// as etcd's server does:
//
//   - The leader's replication messages (appends, heartbeats, snapshots) go
//     out before its own fsync, so followers write to their disks while the
//     leader writes to its own (Raft thesis 10.2.1). They acknowledge
//     nothing: the core counts the leader's own log towards the commit quorum
//     only after Advance, i.e. after the fsync below, and the commit index
//     they carry was computed that way. They carry the term, so when this
//     Ready changes term or vote they wait like everything else.
//   - Committed entries are applied, and confirmed reads served, before the
//     fsync of this Ready's new entries: committed means durable on a quorum
//     already, so answering a client cannot depend on the new entries. A
//     received snapshot keeps the strict order (persist, restore, apply).
//
// Votes, append acknowledgements and every other reply are sent only after
// the fsync.
func (s *Server) handleReady() error {
	if !s.raft.HasReady() {
		return nil
	}
	rd := s.raft.Ready()
	s.metrics.readyBatches.Add(1)
	if s.crashAfterCommit.Load() {
		s.maybeCrashAtCommit(rd)
	}

	hs := rd.HardState
	if hs != nil && s.cfg.Unsafe.On(UnsafeForgetVote) {
		// UNSAFE(forget-vote): the vote is persisted as empty, so after a
		// restart this node can grant a second vote in the same generation.
		forgot := *hs
		forgot.Vote = ""
		hs = &forgot
	}
	termOrVoteChanged := hs != nil && (hs.Term != s.persisted.Term || hs.Vote != s.persisted.Vote)

	later := rd.Messages
	if !termOrVoteChanged {
		later = s.sendReplication(rd.Messages)
	}
	if rd.Snapshot == nil {
		s.applyCommitted(rd)
	}

	if err := s.persist(rd, hs, termOrVoteChanged); err != nil {
		return err
	}
	s.ackBeforeQuorum(rd.Entries)
	s.sendOrCrash(later)

	if rd.Snapshot != nil {
		if err := s.installSnapshot(*rd.Snapshot); err != nil {
			return err
		}
		s.applyCommitted(rd)
	}

	s.raft.Advance(rd)
	if err := s.maybeEndRecovery(); err != nil {
		return err
	}
	return s.maybeSnapshot()
}

// sendReplication sends the leader-to-follower messages (MsgApp,
// MsgHeartbeat, MsgSnap) in msgs now and returns the others, in order.
// The slices reuse the server's scratch arrays (PeerSender.Send keeps no
// slice): later is valid until the next call.
func (s *Server) sendReplication(msgs []raft.Message) (later []raft.Message) {
	now, later := s.sendNow[:0], s.sendLater[:0]
	for _, m := range msgs {
		switch m.Type {
		case raft.MsgApp, raft.MsgHeartbeat, raft.MsgSnap:
			now = append(now, m)
		default:
			later = append(later, m)
		}
	}
	s.peers.Send(now)
	clear(now) // hold no entries or snapshot alive
	s.sendNow, s.sendLater = now[:0], later[:0]
	return later
}

// persist makes the snapshot, hard state and entries of rd durable with one
// fsync (group commit).
func (s *Server) persist(rd raft.Ready, hs *raft.HardState, termOrVoteChanged bool) error {
	if rd.Snapshot != nil {
		if err := s.wal.InstallSnapshot(*rd.Snapshot); err != nil {
			return fmt.Errorf("save received snapshot at index %d: %w", rd.Snapshot.Index, err)
		}
	}
	if hs == nil && len(rd.Entries) == 0 {
		return nil
	}
	start := time.Now()
	if err := s.wal.Append(hs, rd.Entries); err != nil {
		return fmt.Errorf("append to wal: %w", err)
	}
	if hs != nil {
		s.persisted = *hs
	}
	// A commit-index-only change needs no fsync: the commit index is
	// recomputed from a quorum after a restart.
	if len(rd.Entries) == 0 && rd.Snapshot == nil && !termOrVoteChanged {
		return nil
	}
	if err := s.wal.Sync(); err != nil {
		return fmt.Errorf("sync wal: %w", err)
	}
	s.metrics.syncs.Add(1)
	s.metrics.observeSync(len(rd.Entries), time.Since(start))
	return nil
}

// applyCommitted applies rd's committed entries, then answers the reads
// whose index is now applied and fails the reads the core dropped.
func (s *Server) applyCommitted(rd raft.Ready) {
	for _, e := range rd.CommittedEntries {
		s.apply(e)
	}
	for _, rs := range rd.ReadStates {
		if batch, ok := s.readRounds[rs.RequestID]; ok {
			delete(s.readRounds, rs.RequestID)
			s.readyReads = append(s.readyReads, pendingRead{index: rs.Index, reads: batch})
		}
	}
	for _, id := range rd.DroppedReads {
		if batch, ok := s.readRounds[id]; ok {
			delete(s.readRounds, id)
			for _, r := range batch {
				r.done <- errorResult(http.StatusServiceUnavailable, errors.New("leadership lost before the read was confirmed"))
			}
		}
	}
	s.serveReadyReads()
}

// ackBeforeQuorum answers writes as soon as they are in the leader's own
// durable log. Only with the ack-before-quorum unsafe switch.
func (s *Server) ackBeforeQuorum(entries []raft.Entry) {
	if !s.cfg.Unsafe.On(UnsafeAckBeforeQuorum) {
		return
	}
	for _, e := range entries {
		w, ok := s.waiters[e.Index]
		if !ok || w.term != e.Term || w.answered {
			continue
		}
		// UNSAFE(ack-before-quorum): the write is only in this node's log; a
		// new leader may never have seen it, yet the client is told it took
		// effect, with the result it would have had.
		w.answered = true
		w.p.done <- expectedResult(w.p.cmd)
	}
}

// apply applies one committed entry and answers the proposal waiting at its
// index, if any.
func (s *Server) apply(e raft.Entry) {
	if e.Index <= s.applied {
		return // already in the state machine (restored from a snapshot)
	}
	var res writeResult
	if e.Type == raft.EntryNormal && len(e.Data) > 0 {
		cmd, err := kv.Decode(e.Data)
		if err != nil {
			// Every replica decodes the same bytes; a bad command is a bug in
			// the writer. Crash loudly rather than diverge.
			panic(fmt.Sprintf("apply entry %d: %v", e.Index, err))
		}
		res = resultFor(s.kv.Apply(e.Index, cmd))
	} else {
		s.kv.ApplyNoop(e.Index)
	}
	s.applied = e.Index
	s.appliedTerm = e.Term
	s.sinceSnapshot++
	s.metrics.commits.Add(1)

	w, ok := s.waiters[e.Index]
	if !ok {
		return
	}
	delete(s.waiters, e.Index)
	if w.answered {
		return
	}
	if w.term != e.Term {
		// Another leader's entry was committed at this index, so ours never
		// will be: it definitely did not take effect.
		w.p.done <- errorResult(http.StatusServiceUnavailable, errors.New("write lost to a leader change; not applied"))
		return
	}
	w.p.done <- res
}

// installSnapshot restores the state machine from a snapshot received from
// the leader. Proposals waiting at or below its index can no longer be
// matched to an entry: their outcome is unknown.
func (s *Server) installSnapshot(snap raft.Snapshot) error {
	if snap.Index <= s.applied {
		return nil
	}
	if err := s.kv.Restore(snap.Data); err != nil {
		return fmt.Errorf("restore snapshot at index %d: %w", snap.Index, err)
	}
	s.applied = snap.Index
	s.appliedTerm = snap.Term
	s.sinceSnapshot = 0
	s.metrics.snapshotsRecvd.Add(1)
	// In index order, so that the answers leave in the same order every time.
	for _, index := range slices.Sorted(maps.Keys(s.waiters)) {
		w := s.waiters[index]
		if index <= snap.Index {
			delete(s.waiters, index)
			if !w.answered {
				w.p.done <- errorResult(http.StatusGatewayTimeout, errors.New("replaced by a snapshot; outcome unknown"))
			}
		}
	}
	s.log.Info("installed snapshot", "index", snap.Index, "term", snap.Term, "bytes", len(snap.Data))
	return nil
}

// maybeSnapshot takes a snapshot every SnapshotEntries applied entries and
// lets the WAL and the core drop the log below it (the low-water mark).
func (s *Server) maybeSnapshot() error {
	if s.sinceSnapshot < s.cfg.SnapshotEntries || s.applied == 0 {
		return nil
	}
	start := time.Now()
	data, err := s.kv.Snapshot()
	if err != nil {
		return fmt.Errorf("snapshot state machine: %w", err)
	}
	snap := raft.Snapshot{Index: s.applied, Term: s.appliedTerm, Data: data}
	if err := s.wal.SaveSnapshot(snap); err != nil {
		return fmt.Errorf("save snapshot at index %d: %w", snap.Index, err)
	}
	if err := s.raft.Compact(snap); err != nil {
		return fmt.Errorf("compact log at index %d: %w", snap.Index, err)
	}
	s.sinceSnapshot = 0
	s.metrics.snapshots.Add(1)
	s.log.Debug("snapshot", "index", snap.Index, "bytes", len(data), "low_water_mark", s.wal.LowWaterMark(),
		"duration", time.Since(start))
	return nil
}

// noteRoleChange counts elections and leader changes for /metrics and logs them.
func (s *Server) noteRoleChange() {
	st := s.raft.Status()
	if st.Role == raft.Candidate && st.Term != s.lastCampaignTerm {
		s.lastCampaignTerm = st.Term
		s.metrics.elections.Add(1)
	}
	if st.Leader != s.lastLeader {
		s.metrics.leaderChanges.Add(1)
		s.log.Info("leader changed", "leader", st.Leader, "term", st.Term, "role", st.Role.String())
		s.lastLeader = st.Leader
	}
}
