package server

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
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
	default:
		replyJSON(w, http.StatusBadRequest, client.ErrorResponse{Error: "unknown crash point " + strconv.Quote(cmd.Point) + ": use " + client.CrashAfterVote})
		return
	}
	s.log.Warn("crash point set", "point", cmd.Point, "armed", cmd.Armed)
	s.replyStatus(w, r)
}

// crashPoints lists the armed crash points for /status.
func (s *Server) crashPoints() []string {
	if s.crashAfterVote.Load() {
		return []string{client.CrashAfterVote}
	}
	return nil
}

// sendOrCrash hands msgs to the transport. If they grant a vote and the
// after-vote crash point is armed, it then waits until the transport has
// written (or dropped) everything it holds for the candidate, the vote
// included, and exits the process. The update loop is blocked meanwhile, so
// nothing that arrives after the vote is handled, let alone made durable.
func (s *Server) sendOrCrash(msgs []raft.Message) {
	i := slices.IndexFunc(msgs, func(m raft.Message) bool { return m.Type == raft.MsgVoteResp && !m.Reject })
	if i < 0 || !s.crashAfterVote.Load() {
		s.transport.Send(msgs)
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
	s.log.Error("crash point reached: exiting", "point", client.CrashAfterVote,
		"voted_for", vote.To, "generation", vote.Term, "exit_code", CrashPointExitCode)
	os.Exit(CrashPointExitCode)
}
