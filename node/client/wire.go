// Package client is the Go client of kvnode and the wire types of its HTTP
// API. The harness imports it without importing the server.
//
// Every call returns an Outcome that says honestly what is known: OK (took
// effect, or a read that returned), Fail (definitely did not take effect) or
// Info (indeterminate: it may or may not have taken effect).
package client

// Headers that identify a write for the idempotent receiver.
const (
	HeaderClientID = "X-Client-Id"
	HeaderSeq      = "X-Seq"
)

// Status is the body of GET /status (and of POST /admin/clock).
type Status struct {
	ID           string `json:"id"`
	Role         string `json:"role"`
	Generation   uint64 `json:"generation"`
	Leader       string `json:"leader"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	LowWaterMark uint64 `json:"low_water_mark"`
	LastLogIndex uint64 `json:"last_log_index"`
	// GenerationStartIndex is, on a leader, the index of the no-op its
	// generation began with.
	GenerationStartIndex uint64   `json:"generation_start_index,omitempty"`
	Digest               string   `json:"digest"`
	ReadMode             string   `json:"read_mode"`
	Unsafe               []string `json:"unsafe"`
	ClockOffsetMillis    int64    `json:"clock_offset_ms"`
	ClockRate            float64  `json:"clock_rate"`
	// CrashPoints lists the armed fault-hook crash points.
	CrashPoints []string `json:"crash_points,omitempty"`
	// Recovering: the node restarted from storage that may have lost what
	// it acknowledged (an empty or repaired data dir) and has not yet
	// caught up from a leader; until then it does not vote.
	Recovering bool `json:"recovering,omitempty"`
}

// Clock actions of ClockCommand.
const (
	ClockBump   = "bump"
	ClockStrobe = "strobe"
	ClockRate   = "rate"
	ClockReset  = "reset"
)

// ClockCommand is the body of POST /admin/clock (only with
// --enable-fault-hooks). Bump uses OffsetMillis; strobe uses DeltaMillis,
// PeriodMillis and DurationMillis; rate uses Rate; reset uses nothing.
type ClockCommand struct {
	Action         string  `json:"action"`
	OffsetMillis   int64   `json:"offset_ms,omitempty"`
	DeltaMillis    int64   `json:"delta_ms,omitempty"`
	PeriodMillis   int64   `json:"period_ms,omitempty"`
	DurationMillis int64   `json:"duration_ms,omitempty"`
	Rate           float64 `json:"rate,omitempty"`
}

// Crash points accepted by POST /admin/crash-point.
const (
	// CrashAfterVote: once armed, the node exits at once after its next
	// granted vote is durable and on the wire, before it handles anything
	// else, so the candidate counts the vote but the voter never hears
	// from it as leader.
	CrashAfterVote = "after-vote"
	// CrashAfterCommit: once armed, the node, the next time it advances the
	// commit index as leader (past the command's AboveIndex), applies what it committed, answers the writes
	// waiting for those entries and exits, before anything else leaves it:
	// the appends that would carry the new commit index and the rest of its
	// log to the followers are lost with the process.
	CrashAfterCommit = "after-commit"
)

// CrashPoints lists the crash points POST /admin/crash-point accepts.
var CrashPoints = []string{CrashAfterVote, CrashAfterCommit}

// CrashPointCommand is the body of POST /admin/crash-point (only with
// --enable-fault-hooks): it arms or disarms one crash point.
type CrashPointCommand struct {
	Point string `json:"point"`
	Armed bool   `json:"armed"`
	// AboveIndex (after-commit only): exit at the first commit that
	// reaches past this index; 0 means at the next commit.
	AboveIndex uint64 `json:"above_index,omitempty"`
}

// PutRequest is the body of PUT /kv/{key}.
type PutRequest struct {
	Value string `json:"value"`
}

// CASRequest is the body of POST /kv/{key}/cas.
type CASRequest struct {
	Expect string `json:"expect"`
	Value  string `json:"value"`
}

// AppendRequest is the body of POST /kv/{key}/append.
type AppendRequest struct {
	Element string `json:"element"`
}

// KVResponse is the body of every /kv response. A string value sets Value, a
// list sets List; Error explains a non-2xx answer.
type KVResponse struct {
	Found bool     `json:"found"`
	Value string   `json:"value,omitempty"`
	List  []string `json:"list,omitempty"`
	Error string   `json:"error,omitempty"`
}

// ErrorResponse is the body of a non-2xx answer outside /kv.
type ErrorResponse struct {
	Error string `json:"error"`
}
