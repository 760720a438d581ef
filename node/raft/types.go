// Package raft is kvnode's replication core: leader and followers, the
// generation clock (term), heartbeats, quorum commit and the high-water mark.
//
// It is a pure state machine. The caller feeds it messages (Step), clock ticks
// (Tick) and client proposals (Propose, ReadIndex) and then collects a Ready
// value saying what to persist, what to send and what to apply. The core has
// no goroutines, sockets, files or clocks; its only randomness comes from the
// *rand.Rand in Config. One goroutine (the singular update queue) drives it.
package raft

import (
	"errors"
	"math/rand"
)

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
	MsgRecover
	MsgRecoverResp
)

var messageTypeNames = map[MessageType]string{
	MsgPreVote: "MsgPreVote", MsgPreVoteResp: "MsgPreVoteResp",
	MsgVote: "MsgVote", MsgVoteResp: "MsgVoteResp",
	MsgApp: "MsgApp", MsgAppResp: "MsgAppResp",
	MsgHeartbeat: "MsgHeartbeat", MsgHeartbeatResp: "MsgHeartbeatResp",
	MsgSnap: "MsgSnap", MsgRecover: "MsgRecover", MsgRecoverResp: "MsgRecoverResp",
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
//     rejected probe index (Reject). On a rejection, RejectHint is the largest
//     index at or below min(probe index, follower's last index) whose term is
//     at most the probe's LogTerm, and LogTerm is that entry's term: the
//     leader skips every index above it with a larger term (fast
//     backtracking). A MsgSnap is acknowledged with Index = snapshot index.
//   - MsgVote/MsgPreVote: Index/LogTerm are the candidate's last entry. A
//     pre-vote carries the term the candidate would campaign in.
//   - MsgHeartbeat: Commit is min(leader commit, follower match); Context is
//     the heartbeat round id, echoed by MsgHeartbeatResp, whose Index is the
//     follower's last index. A quorum of echoes
//     for a round confirms leadership as of its send tick (read index,
//     lease).
//   - MsgSnap: Snapshot is the leader's latest snapshot.
//   - MsgRecover: a recovering node asks for the receiver's term; Context is
//     the nonce of the sender's start. Its Term means nothing.
//   - MsgRecoverResp: Term is the answering node's term, Context the nonce
//     it answers. If it leads that term, Index/LogTerm are its last entry,
//     Commit its commit index and RejectHint the index its term began at;
//     otherwise all four are zero.
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

// Config configures one node's core. Zero values of the bounds are replaced
// by the defaults below; ID, Peers, ElectionTicks, HeartbeatTicks and Rand are
// required.
type Config struct {
	// ID is this node; Peers are all voters, including ID.
	ID    string
	Peers []string
	// ElectionTicks is the base election timeout. Each node draws its
	// timeout from [ElectionTicks, 2*ElectionTicks) after every reset, so
	// that candidates rarely collide. It is also the window of check-quorum
	// and of the vote lease (a follower that heard from a leader less than
	// ElectionTicks ago refuses to vote).
	ElectionTicks int
	// HeartbeatTicks is how often a leader sends heartbeats. It must be
	// well below ElectionTicks (typically a tenth) so a few lost heartbeats
	// do not start an election.
	HeartbeatTicks int
	// Rand is the only source of randomness (election timeouts).
	Rand *rand.Rand
	// MaxInflightAppends bounds the unacknowledged MsgApp per follower (the
	// request pipeline). Default 64: enough to keep a loopback or LAN link
	// busy while bounding what is re-sent after a rejection.
	MaxInflightAppends int
	// MaxEntriesPerAppend bounds the entries batched in one MsgApp.
	// Default 256.
	MaxEntriesPerAppend int
	// MaxUncommittedEntries bounds the entries a leader holds above its
	// commit index; Propose returns ErrProposalQueueFull beyond it.
	// Default 8192.
	MaxUncommittedEntries int
	// Unsafe enables deliberately broken behaviour for the bug zoo.
	Unsafe Unsafe
}

// Defaults for the zero values of Config's bounds.
const (
	DefaultMaxInflightAppends    = 64
	DefaultMaxEntriesPerAppend   = 256
	DefaultMaxUncommittedEntries = 8192
)

// Unsafe switches break the protocol on purpose so that the harness can show
// it catches the resulting anomalies. Each is marked in the code with an
// UNSAFE(name) comment at the one place it changes. All are off by default.
type Unsafe struct {
	// NoGenerationCheck: followers accept MsgApp (and heartbeats) from a
	// leader of an older term and adopt its entries.
	NoGenerationCheck bool
	// CommitOldGeneration: the leader commits entries of earlier terms by
	// counting replicas (the Raft paper's figure 8 bug).
	CommitOldGeneration bool
}

// Restore is the durable state a node restarts from, as read from storage.
// Entries must be contiguous and start right after Snapshot.Index (or at 1).
type Restore struct {
	HardState HardState
	Snapshot  *Snapshot
	Entries   []Entry
	// Recovering says the storage may have lost what the node once
	// acknowledged or voted: it started empty, a torn tail was cut off, or
	// an earlier recovery had not finished. Such a node may have counted
	// towards the quorum of entries it no longer holds, in a generation it
	// no longer remembers. It first asks its peers for their generations
	// (MsgRecover) and ignores leaders until a quorum of the others
	// answered; then, until its durable log holds whatever it may have
	// acknowledged before the loss, it grants no vote except to a
	// candidate whose log does, or whose log is empty (a new cluster's
	// first election), and starts no election unless its own log is empty.
	// See recovery.go, Status.Recovering and node/README.md.
	//
	// Config.Rand must differ between starts: it draws the nonce that
	// tells this start's answers from a previous one's.
	Recovering bool
}

// Ready is what the driver must do next, in this order: make HardState,
// Entries and Snapshot durable (one fsync), then send Messages, then apply
// Snapshot and CommittedEntries, serve ReadStates once applied reaches their
// index, fail DroppedReads, and finally call Advance with this value.
//
// Slices are shared with the core: the driver may keep them but must not
// modify them.
type Ready struct {
	// HardState is non-nil when term, vote or commit changed.
	HardState *HardState
	// Entries are appended to the WAL. Entries[0].Index may be at or below
	// the last index written: then it replaces that suffix.
	Entries []Entry
	// Snapshot was received from the leader: persist it and restore the
	// state machine from it before applying CommittedEntries.
	Snapshot *Snapshot
	// Messages are sent ONLY after the above is durable.
	Messages []Message
	// CommittedEntries are applied in order, after persisting.
	CommittedEntries []Entry
	// ReadStates are confirmed reads.
	ReadStates []ReadState
	// DroppedReads can no longer be confirmed (leadership lost): fail them.
	DroppedReads []uint64
}

// Status is a snapshot of the core's state for monitoring and for the
// server's decisions (where to forward, whether a lease is valid).
type Status struct {
	ID            string
	Role          Role
	Term          uint64
	Vote          string
	Leader        string
	Commit        uint64
	Applied       uint64
	SnapshotIndex uint64
	FirstIndex    uint64
	LastIndex     uint64
	// Elapsed is the number of ticks since New.
	Elapsed uint64
	// LastQuorumAckTick is, on a leader, the tick at which the latest
	// heartbeat round that a quorum acknowledged was sent (0 when none has
	// been acknowledged in this term). Using the send tick rather than the
	// receive tick is conservative: every follower in that quorum received
	// the heartbeat at or after this tick, and refuses to vote for
	// ElectionTicks after that.
	LastQuorumAckTick uint64
	// CommittedInTerm reports whether a leader has committed an entry of
	// its own term (its no-op), so its commit index is up to date.
	CommittedInTerm bool
	// TermStartIndex is, on a leader, the index of the no-op its term
	// began with: every entry before it is from an earlier term.
	TermStartIndex uint64
	// Recovering: the node restarted from storage that may have lost
	// entries (Restore.Recovering) and its log does not yet hold all it
	// may have acknowledged before. It ends once the node has learned, from
	// a quorum of the others, a floor at or above every term it took part
	// in, and durably holds an entry of a later term, or the log of the
	// floor term's leader up to the last index that leader reported
	// (recovery.go); or when the node wins an election.
	Recovering bool
}
