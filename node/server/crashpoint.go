package server

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/raft"
)

// Crash points are fault hooks (registered only with --enable-fault-hooks)
// that make the process exit at one precise step of the protocol, where a
// kill from outside lands only by luck: a vote is granted and the
// candidate's first append arrives within a millisecond of each other. The
// crash is real: the process exits without closing anything, and a restart
// finds only what was durable.

// CrashPointExitCode is the exit status of a node that reached an armed
// crash point.
const CrashPointExitCode = 86

// crashFlushWait bounds how long a crash point waits for the message it
// follows to be written to its connection.
const crashFlushWait = time.Second

// crashReplyLinger is how long a crash point lets what it flushed travel
// before it exits: the after-commit point's answers, on the way to the
// client, may pass a proxy (Docker's port mapping) that must read them
// before the exiting process's sockets are torn down, or the teardown's
// reset discards them; the after-vote point's vote shares its connection
// with the candidate's messages (sendOrCrash).
const crashReplyLinger = 100 * time.Millisecond

// handleCrashPoint arms or disarms a crash point.
func (s *Server) handleCrashPoint(w http.ResponseWriter, r *http.Request) {
	var cmd client.CrashPointCommand
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&cmd); err != nil {
		replyJSON(w, http.StatusBadRequest, client.ErrorResponse{Error: "decode crash point command: " + err.Error()})
		return
	}
	switch cmd.Point {
	case client.CrashAfterVote:
		s.crashAfterVote.Store(cmd.Armed)
	case client.CrashAfterCommit:
		s.crashCommitAbove.Store(cmd.AboveIndex)
		s.crashAfterCommit.Store(cmd.Armed)
	default:
		replyJSON(w, http.StatusBadRequest, client.ErrorResponse{Error: "unknown crash point " + strconv.Quote(cmd.Point) + ": use one of " + strings.Join(client.CrashPoints, ", ")})
		return
	}
	s.log.Warn("crash point set", "point", cmd.Point, "armed", cmd.Armed, "above_index", cmd.AboveIndex)
	s.replyStatus(w, r)
}

// crashPoints lists the armed crash points for /status.
func (s *Server) crashPoints() []string {
	var armed []string
	if s.crashAfterVote.Load() {
		armed = append(armed, client.CrashAfterVote)
	}
	if s.crashAfterCommit.Load() {
		armed = append(armed, client.CrashAfterCommit)
	}
	return armed
}

// sendOrCrash hands msgs to the transport. If they grant a vote and the
// after-vote crash point is armed, it then waits until the transport has
// written (or dropped) everything it holds for the candidate, the vote
// included, and exits the process. The update loop is blocked meanwhile, so
// nothing that arrives after the vote is handled, let alone made durable.
func (s *Server) sendOrCrash(msgs []raft.Message) {
	i := slices.IndexFunc(msgs, func(m raft.Message) bool { return m.Type == raft.MsgVoteResp && !m.Reject })
	if i < 0 || !s.crashAfterVote.Load() || s.transport == nil {
		s.peers.Send(msgs)
		return
	}
	vote := msgs[i]
	st := s.transport.Stats()[vote.To]
	before := st.Sent + st.Dropped + uint64(st.Queued)
	s.transport.Send(msgs)
	deadline := time.Now().Add(crashFlushWait)
	for time.Now().Before(deadline) {
		st := s.transport.Stats()[vote.To]
		if st.Sent+st.Dropped > before && st.Queued == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// Written to the socket is not yet received: the connection to the
	// candidate also carries its messages to us, and a process that exits
	// with some of them unread makes the kernel reset the connection,
	// discarding what it has not yet sent, the vote included. Give the
	// vote the same time the after-commit point gives its answers.
	time.Sleep(crashReplyLinger)
	s.log.Error("crash point reached: exiting", "point", client.CrashAfterVote,
		"voted_for", vote.To, "generation", vote.Term, "exit_code", CrashPointExitCode)
	os.Exit(CrashPointExitCode)
}

// maybeCrashAtCommit is the after-commit crash point: if rd advances this
// leader's commit index (past the armed AboveIndex), it applies the
// committed entries, waits until the writes they commit have been answered (each answer flushed to its
// connection), and exits. Nothing of rd is sent or made durable: the
// process dies after deciding the commit and telling its clients, before
// its appends (carrying the new commit index, and whatever of its log the
// followers still lack) leave it, as messages queued for the transport's
// writers are lost when a process dies. A leader that may commit an
// earlier generation's entry on its own shows it here: its clients were
// told, no follower knows.
func (s *Server) maybeCrashAtCommit(rd raft.Ready) {
	n := len(rd.CommittedEntries)
	if n == 0 || rd.CommittedEntries[n-1].Index <= s.crashCommitAbove.Load() || rd.Snapshot != nil {
		return
	}
	st := s.raft.Status()
	if st.Role != raft.Leader {
		return
	}
	// The writes whose client still waits: a handler that gave up before
	// the commit has no one to answer.
	var answering []*proposal
	for _, e := range rd.CommittedEntries {
		w, ok := s.waiters[e.Index]
		if !ok || w.term != e.Term || w.answered {
			continue
		}
		select {
		case <-w.p.replied:
		default:
			answering = append(answering, w.p)
		}
	}
	s.applyCommitted(rd)
	deadline := time.After(crashFlushWait)
	var replied []string
wait:
	for _, p := range answering {
		select {
		case <-p.replied:
			replied = append(replied, p.cmd.Op+" "+p.cmd.Key+" "+p.cmd.Value)
		case <-deadline:
			break wait
		}
	}
	time.Sleep(crashReplyLinger)
	first, last := rd.CommittedEntries[0], rd.CommittedEntries[n-1]
	s.log.Error("crash point reached: exiting", "point", client.CrashAfterCommit,
		"committed_from", first.Index, "committed_to", last.Index, "first_generation", first.Term,
		"generation", st.Term, "writes_answered", replied, "exit_code", CrashPointExitCode)
	os.Exit(CrashPointExitCode)
}
