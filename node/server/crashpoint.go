package server

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
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
		replyJSON(w, http.StatusBadRequest, client.ErrorResponse{Error: "unknown crash point " + quote(cmd.Point) + ": use " + client.CrashAfterVote})
		return
	}
	s.log.Warn("crash point set", "point", cmd.Point, "armed", cmd.Armed)
	s.replyStatus(w, r)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// crashPoints lists the armed crash points for /status.
func (s *Server) crashPoints() []string {
	if s.crashAfterVote.Load() {
		return []string{client.CrashAfterVote}
	}
	return nil
}

// grantedVote returns the granted vote among msgs, if any.
func grantedVote(msgs []raft.Message) (raft.Message, bool) {
	for _, m := range msgs {
		if m.Type == raft.MsgVoteResp && !m.Reject {
			return m, true
		}
	}
	return raft.Message{}, false
}

// crashAfterSend exits the process once the transport has written (or
// dropped) every message it had taken for peer beyond the counts in
// before. The loop is blocked meanwhile, so nothing that arrives after the
// vote is handled, let alone made durable.
func (s *Server) crashAfterSend(peer string, before uint64, vote raft.Message) {
	deadline := time.Now().Add(crashFlushWait)
	for time.Now().Before(deadline) {
		st := s.transport.Stats()[peer]
		if st.Sent+st.Dropped > before && st.Queued == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s.log.Error("crash point reached: exiting", "point", client.CrashAfterVote,
		"voted_for", vote.To, "generation", vote.Term, "exit_code", CrashPointExitCode)
	os.Exit(CrashPointExitCode)
}
