// Package raft is kvnode's replication core: leader and followers, the
// generation clock (term), heartbeats, quorum commit and the high-water mark.
//
// It is a pure state machine. The caller feeds it messages (Step), clock ticks
// (Tick) and client proposals (Propose, ReadIndex) and then collects a Ready
// value saying what to persist, what to send and what to apply. The core has
// no goroutines, sockets, files or clocks; its only randomness comes from the
// *rand.Rand in Config. One goroutine (the singular update queue) drives it.
package raft

import "errors"

// EntryType says what an entry carries.
type EntryType uint8

const (
	// EntryNormal carries a state machine command.
	EntryNormal EntryType = iota
	// EntryNoop is appended by a new leader so that it can commit entries of
	// its own generation (and with them every earlier entry).
	EntryNoop
)

// Entry is one record of the replicated log.
type Entry struct {
	Term  uint64
	Index uint64
	Type  EntryType
	Data  []byte
}

// HardState is what must be durable before any message that depends on it is
// sent: the generation (term), the vote cast in it, and the commit index.
type HardState struct {
	Term   uint64
	Vote   string
	Commit uint64
}

// IsEmpty reports whether hs is the zero value.
func (hs HardState) IsEmpty() bool { return hs == HardState{} }

// Snapshot is the state machine at an applied index: everything at or below
// Index is represented by Data, so log entries up to Index can be discarded
// (the low-water mark).
type Snapshot struct {
	Index uint64
	Term  uint64
	Data  []byte
}

// MessageType is the kind of a peer message.
type MessageType uint8

const (
	MsgPreVote MessageType = iota + 1
	MsgPreVoteResp
	MsgVote
	MsgVoteResp
	MsgApp
	MsgAppResp
	MsgHeartbeat
	MsgHeartbeatResp
	MsgSnap
)

var messageTypeNames = map[MessageType]string{
	MsgPreVote: "MsgPreVote", MsgPreVoteResp: "MsgPreVoteResp",
	MsgVote: "MsgVote", MsgVoteResp: "MsgVoteResp",
	MsgApp: "MsgApp", MsgAppResp: "MsgAppResp",
	MsgHeartbeat: "MsgHeartbeat", MsgHeartbeatResp: "MsgHeartbeatResp",
	MsgSnap: "MsgSnap",
}

func (t MessageType) String() string {
	if s, ok := messageTypeNames[t]; ok {
		return s
	}
	return "MsgUnknown"
}

// Message is sent between peers. Field meanings by type:
//   - MsgApp: Index/LogTerm identify the entry preceding Entries; Commit is
//     the leader's high-water mark.
//   - MsgAppResp: Index is the highest index known to match (accept) or the
//     rejected index (Reject), with RejectHint the follower's last index.
//   - MsgVote/MsgPreVote: Index/LogTerm are the candidate's last entry. A
//     pre-vote carries the term the candidate would campaign in.
//   - MsgHeartbeat: Commit is min(leader commit, follower match); Context is
//     the read-index round being confirmed, echoed by MsgHeartbeatResp.
//   - MsgSnap: Snapshot is the leader's latest snapshot.
type Message struct {
	Type       MessageType
	From       string
	To         string
	Term       uint64
	LogTerm    uint64
	Index      uint64
	Entries    []Entry
	Commit     uint64
	Reject     bool
	RejectHint uint64
	Context    uint64
	Snapshot   *Snapshot
}

// ReadState says that a read requested with RequestID may be served once the
// state machine has applied Index: leadership was confirmed by a quorum after
// the request arrived, and Index was the commit index at that moment.
type ReadState struct {
	RequestID uint64
	Index     uint64
}

// Role is a node's role in the current generation.
type Role uint8

const (
	Follower Role = iota
	PreCandidate
	Candidate
	Leader
)

func (r Role) String() string {
	switch r {
	case Follower:
		return "follower"
	case PreCandidate:
		return "pre-candidate"
	case Candidate:
		return "candidate"
	case Leader:
		return "leader"
	}
	return "unknown"
}

// Sentinel errors callers act on.
var (
	// ErrNotLeader: the proposal was rejected before it entered any log; it
	// definitely was not applied.
	ErrNotLeader = errors.New("not the leader")
	// ErrProposalQueueFull: too many uncommitted entries; definitely not applied.
	ErrProposalQueueFull = errors.New("too many uncommitted proposals")
)
