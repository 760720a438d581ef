package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/node/raft"
)

// Reads as the update loop serves them. The handler picks the path from the
// read mode; index and lease reads are answered only once the state machine
// has applied the index they were confirmed at.

// readRequest is a client read waiting for its turn.
type readRequest struct {
	key  string
	path readPath
	done chan writeResult
}

// readPath is how one read is confirmed.
type readPath uint8

const (
	// readLocalPath serves whatever is applied now (read-mode local, or the
	// stale-read unsafe switch).
	readLocalPath readPath = iota
	// readIndexPath confirms leadership with a quorum round first.
	readIndexPath
	// readLeasePath serves on the leader while its lease holds, else falls
	// back to a read-index round.
	readLeasePath
)

// pendingRead is a batch of reads behind one read-index round, or behind a
// lease check; they are served once applied >= index.
type pendingRead struct {
	index uint64
	reads []*readRequest
}

// read takes one read request from the handlers.
func (s *Server) read(r *readRequest) {
	switch r.path {
	case readLocalPath:
		s.serveRead(r)
	case readLeasePath:
		// Bring the core's tick count up to date first: after a pause or a
		// long fsync the ticker has not fired yet, and the lease must be
		// judged on the time that really passed.
		s.tick()
		if s.leaseValid() {
			// The commit index of a leader with a valid lease is at least the
			// last write acknowledged anywhere; serve once it is applied.
			st := s.raft.Status()
			s.readyReads = append(s.readyReads, pendingRead{index: st.Commit, reads: []*readRequest{r}})
			s.serveReadyReads()
			return
		}
		s.readBatch = append(s.readBatch, r)
	default:
		s.readBatch = append(s.readBatch, r)
	}
}

// startReadRound puts every read collected in this iteration behind one
// read-index round (one quorum heartbeat for the whole batch).
func (s *Server) startReadRound() {
	if len(s.readBatch) == 0 {
		return
	}
	s.nextReadID++
	id := s.nextReadID
	batch := s.readBatch
	s.readBatch = nil
	if err := s.raft.ReadIndex(id); err != nil {
		for _, r := range batch {
			r.done <- errorResult(http.StatusServiceUnavailable, fmt.Errorf("read index: %w", err))
		}
		return
	}
	s.metrics.readIndexes.Add(1)
	s.readRounds[id] = batch
}

// serveReadyReads answers every confirmed read whose index is applied.
func (s *Server) serveReadyReads() {
	kept := s.readyReads[:0]
	for _, pr := range s.readyReads {
		if pr.index > s.applied {
			kept = append(kept, pr)
			continue
		}
		for _, r := range pr.reads {
			s.serveRead(r)
		}
	}
	clear(s.readyReads[len(kept):])
	s.readyReads = kept
}

// serveRead answers a read from the applied state.
func (s *Server) serveRead(r *readRequest) {
	v, found := s.kv.Get(r.key)
	r.done <- readResult(v, found)
}

// leaseValid reports whether this node may serve a lease read now.
func (s *Server) leaseValid() bool {
	if s.cfg.Unsafe.On(UnsafeLeaseWallclock) {
		// UNSAFE(lease-wallclock): the lease is judged on the skewable
		// wall clock alone, with no drift margin: serve while Now() < last
		// quorum ack + election timeout, in the generation of that ack.
		// The role is not asked: on a true clock such a lease ends before
		// the check-quorum round that deposes a cut-off leader, so a node
		// keeps it until it hears a later generation. A clock that jumps
		// back keeps a deposed leader serving.
		until := s.wallLeaseUntil()
		return !until.IsZero() && s.clock.Now().Before(until)
	}
	return s.raft.LeaseValid(s.cfg.leaseMarginTicks())
}

// wallLeaseUntil is when the lease of the lease-wallclock unsafe mode ends
// on the node's skewable clock; zero if it holds none in its generation.
func (s *Server) wallLeaseUntil() time.Time {
	if s.lastQuorumAckWall.IsZero() || s.raft.Status().Term != s.lastQuorumAckTerm {
		return time.Time{}
	}
	return s.lastQuorumAckWall.Add(s.cfg.ElectionTimeout)
}

// noteQuorumAck records the wall-clock reading when the core's last quorum
// acknowledgement moved; only the lease-wallclock unsafe mode uses it.
func (s *Server) noteQuorumAck() {
	if !s.cfg.Unsafe.On(UnsafeLeaseWallclock) {
		return
	}
	st := s.raft.Status()
	if st.Term != s.lastQuorumAckTerm {
		// A new generation: acknowledgements of the old one do not count.
		s.lastQuorumAckTerm = st.Term
		s.lastQuorumAckTick = 0
		s.lastQuorumAckWall = time.Time{}
	}
	if st.Role == raft.Leader && st.LastQuorumAckTick != 0 && st.LastQuorumAckTick != s.lastQuorumAckTick {
		s.lastQuorumAckTick = st.LastQuorumAckTick
		s.lastQuorumAckWall = s.clock.Now()
	}
}
