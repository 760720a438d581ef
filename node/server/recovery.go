package server

import (
	"fmt"

	"github.com/faultline/faultline/node/wal"
)

// Recovery after storage loss: see raft.Restore.Recovering for the rule and
// node/README.md ("A node that lost its disk") for the operator's view.
//
// The node cannot tell a new cluster's first start from a disk that was
// wiped under it: both show an empty data dir. It treats both alike, which
// costs a new cluster nothing (its first leader's log is empty, and an empty
// candidate may still be elected), and keeps a wiped node from voting for a
// log that lacks entries it once acknowledged.

// startRecovery decides, before the core starts, whether the node is
// recovering, and makes that durable with the WAL's recovering mark.
func (s *Server) startRecovery(rec wal.Recovered) error {
	var reason string
	switch {
	case rec.Marked:
		reason = "an earlier start had not caught up from a leader"
	case rec.Empty():
		reason = "the data dir is empty (a new cluster, or a lost disk)"
	case rec.TornTailCut:
		reason = "a torn tail was cut off the log"
	default:
		return nil
	}
	s.recovering = true
	if !rec.Marked {
		if err := s.wal.MarkRecovering(); err != nil {
			return fmt.Errorf("mark %s as recovering: %w", s.cfg.DataDir, err)
		}
	}
	s.log.Warn("recovering: this node votes only for an empty log until a leader has caught it up",
		"reason", reason, "last_index", lastIndex(rec))
	return nil
}

// maybeEndRecovery clears the recovering mark once the core says the node
// caught up. The core decides that in Advance, after the log that proves it
// was made durable, so the mark never goes before the entries it guards.
func (s *Server) maybeEndRecovery() error {
	if !s.recovering {
		return nil
	}
	st := s.raft.Status()
	if st.Recovering {
		return nil
	}
	if err := s.wal.ClearRecovering(); err != nil {
		return err
	}
	s.recovering = false
	s.log.Info("recovered: caught up from the leader, voting again",
		"leader", st.Leader, "term", st.Term, "commit", st.Commit, "last_index", st.LastIndex)
	return nil
}

func lastIndex(rec wal.Recovered) uint64 {
	if n := len(rec.Entries); n > 0 {
		return rec.Entries[n-1].Index
	}
	if rec.Snapshot != nil {
		return rec.Snapshot.Index
	}
	return 0
}
