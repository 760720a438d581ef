// Package sut holds the words the harness and a store under test share: a
// node's status in terms every replicated store can give, the outcome of one
// client call, the commands of the fault hooks a store may offer, and the
// entries of a store's bug zoo. It is a leaf package like history: the
// harness, nemesis, checkers and backends speak it, and each store's adapter
// (sut/kvnode, sut/etcd) translates its own API into it.
package sut

import "fmt"

// Status is one node's own report about itself.
type Status struct {
	// Node is the harness's name of the node (n1..nN).
	Node string `json:"node,omitempty"`
	// Role is "leader", "follower", "candidate" or another role name the
	// store uses; "leader" is the one the harness looks for.
	Role string `json:"role"`
	// Generation is the leader's term, epoch or generation the node is in.
	Generation uint64 `json:"generation"`
	// Leader is the node the node believes leads (harness name), "" if none.
	Leader string `json:"leader"`
	// AppliedIndex is how far the node's state machine has applied the
	// replicated log; CommitIndex and LastLogIndex are the log's high-water
	// mark and end, where the store reports them.
	AppliedIndex uint64 `json:"applied_index"`
	CommitIndex  uint64 `json:"commit_index,omitempty"`
	LastLogIndex uint64 `json:"last_log_index,omitempty"`
	// GenerationStartIndex is, on a leader, the index its generation began
	// at (kvnode's no-op), 0 where the store does not say.
	GenerationStartIndex uint64 `json:"generation_start_index,omitempty"`
	// Digest identifies the state machine's contents at AppliedIndex (equal
	// digests at equal indexes mean equal states); "" when not asked for or
	// the store has none.
	Digest string `json:"digest,omitempty"`
	// Recovering: the node restarted with storage that may have lost what
	// it acknowledged and has not yet caught up from a leader.
	Recovering bool `json:"recovering,omitempty"`
	// ClockOffsetMillis and ClockRate are the node's clock hook state
	// (stores with a clock hook only).
	ClockOffsetMillis int64   `json:"clock_offset_ms,omitempty"`
	ClockRate         float64 `json:"clock_rate,omitempty"`
	// CrashPoints lists the crash points armed on the node.
	CrashPoints []string `json:"crash_points,omitempty"`
	// Unsafe lists the deliberately unsafe switches the node runs with.
	Unsafe []string `json:"unsafe,omitempty"`
	// LeaderTermUnknown: Generation is not the generation a leader leads
	// in. etcd reports the term of its last applied entry, which lags an
	// election until the new leader applies an entry of its own term, so
	// a new leader reads as leading the previous term. The leaders checker
	// cannot use such reports.
	LeaderTermUnknown bool `json:"leader_term_unknown,omitempty"`
}

// IsLeader reports whether the node claims to lead.
func (s Status) IsLeader() bool { return s.Role == RoleLeader }

// RoleLeader is the role name of a node that leads.
const RoleLeader = "leader"

// Outcome classifies what a client call tells about its operation.
type Outcome int

const (
	// OK: the operation took effect (a read returned a value or not-found).
	OK Outcome = iota
	// Fail: the operation definitely did not take effect.
	Fail
	// Info: the outcome is unknown; a write may or may not have taken effect.
	Info
)

// String returns "ok", "fail" or "info", the history's names.
func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Fail:
		return "fail"
	case Info:
		return "info"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Result is the answer to one client call. Found, Value and List are
// meaningful for OK reads; Err explains a Fail or Info. Mismatch marks a
// compare-and-set that failed because the value differed (a definite Fail).
type Result struct {
	Outcome  Outcome
	Found    bool
	Value    string
	List     []string
	Err      error
	Mismatch bool
}

// Clock actions of ClockCommand.
const (
	ClockBump   = "bump"
	ClockStrobe = "strobe"
	ClockRate   = "rate"
	ClockReset  = "reset"
)

// ClockCommand changes a node's clock through a store's clock hook: bump
// uses OffsetMillis; strobe DeltaMillis, PeriodMillis and DurationMillis;
// rate Rate; reset nothing.
type ClockCommand struct {
	Action         string  `json:"action"`
	OffsetMillis   int64   `json:"offset_ms,omitempty"`
	DeltaMillis    int64   `json:"delta_ms,omitempty"`
	PeriodMillis   int64   `json:"period_ms,omitempty"`
	DurationMillis int64   `json:"duration_ms,omitempty"`
	Rate           float64 `json:"rate,omitempty"`
}

// Crash points a store's crash-point hook may offer.
const (
	// CrashAfterVote: the node exits right after its next granted vote is
	// durable and sent, before it handles anything else.
	CrashAfterVote = "after-vote"
	// CrashAfterCommit: the node, the next time it advances the commit
	// index as leader past AboveIndex, answers the writes it committed and
	// exits before any follower hears of the commit.
	CrashAfterCommit = "after-commit"
)

// CrashPointCommand arms or disarms one crash point.
type CrashPointCommand struct {
	Point string `json:"point"`
	Armed bool   `json:"armed"`
	// AboveIndex (after-commit only): exit at the first commit past it.
	AboveIndex uint64 `json:"above_index,omitempty"`
}
