// Package checker turns a recorded history into a verdict: linearizability
// (porcupine, per key), set durability, op statistics, availability around
// faults and replica convergence. Each checker is a value implementing
// Checker; Run composes them into one Results, the content of results.json.
package checker

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/faultline/faultline/history"
)

// Verdict is the outcome of a check.
type Verdict string

const (
	// Valid means the checker found no violation and had enough data to say so.
	Valid Verdict = "valid"
	// Invalid means the checker found a violation.
	Invalid Verdict = "invalid"
	// Unknown means the checker could not decide: it timed out, the history
	// was malformed, or there was too little data.
	Unknown Verdict = "unknown"
)

// Result is what one checker says about a history. Details is a checker
// specific struct (LinearizabilityDetails, SetDetails, StatsDetails,
// AvailabilityDetails, ConvergenceDetails); Result.UnmarshalJSON restores the
// typed struct from results.json.
type Result struct {
	Checker string  `json:"checker"`
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	Details any     `json:"details,omitempty"`
	// FirstFlagged is the run time (history nanoseconds) of the first
	// operation this checker flags, when it found a violation and can point
	// at one; nil otherwise. See each checker for what it flags.
	FirstFlagged *int64 `json:"first_flagged_ns,omitempty"`
}

// Results is the composed verdict of a run, written as results.json.
type Results struct {
	Verdict  Verdict  `json:"verdict"`
	Reason   string   `json:"reason"`
	Checkers []Result `json:"checkers"`
	// FirstFlagged is the earliest FirstFlagged of the invalid checkers:
	// how soon in the run a violation was observable. Nil unless the
	// verdict is invalid and some invalid checker pointed at an op.
	FirstFlagged *int64 `json:"first_flagged_ns,omitempty"`
	// Skipped are checkers of the workload that did not run because the
	// history lacks what they judge (replica states, leader sightings, an
	// order the model needs). They do not count towards the verdict.
	Skipped []Skip `json:"skipped,omitempty"`
}

// Skip names a checker that did not run and why.
type Skip struct {
	Checker string `json:"checker"`
	Reason  string `json:"reason"`
}

// ReplicaState is what a replica reported about itself after healing.
// Err is set when the replica could not be asked.
type ReplicaState struct {
	Node         string `json:"node"`
	AppliedIndex uint64 `json:"applied_index"`
	Digest       string `json:"digest"`
	Err          string `json:"err,omitempty"`
	// Role, Leader, CommitIndex, LastLogIndex and Recovering say where a
	// replica that differs stands (a lagging one, or one that diverged);
	// they are not compared.
	Role         string `json:"role,omitempty"`
	Leader       string `json:"leader,omitempty"`
	CommitIndex  uint64 `json:"commit_index,omitempty"`
	LastLogIndex uint64 `json:"last_log_index,omitempty"`
	Recovering   bool   `json:"recovering,omitempty"`
}

// Input is everything the checkers look at.
type Input struct {
	History  history.History
	Replicas []ReplicaState
	// Leaders are the leaders the harness saw, per generation (nil when
	// they were not collected).
	Leaders []LeaderSighting
	// CheckTimeout bounds the linearizability search of the whole history;
	// zero means no limit. Running out of time gives Unknown, never Valid.
	CheckTimeout time.Duration
	// Truncated, when set, says why the history is incomplete (e.g. the
	// recorder's op limit was reached). A violation in the recorded prefix
	// is still a violation, but a clean prefix proves nothing about the rest,
	// so Run turns an overall Valid into Unknown with this reason.
	Truncated string
}

// Checker judges one aspect of a history. Check must not modify in.
type Checker interface {
	Name() string
	Check(ctx context.Context, in Input) Result
}

// HistoryCheckerName is the name of the result Run adds when the history is
// not well-formed.
const HistoryCheckerName = "history"

// Run validates the history and runs every checker in turn. A malformed
// history (history.Validate fails: e.g. overlapping ops of one process) gives
// an Unknown verdict without running the checkers, because pairing invokes
// with completions is meaningless then. A checker that panics is reported as
// Unknown with the panic text. The overall verdict is Invalid if any checker
// says Invalid, else Unknown if any says Unknown, else Valid; see
// Input.Truncated for an incomplete history.
func Run(ctx context.Context, in Input, checkers ...Checker) Results {
	if err := in.History.Validate(); err != nil {
		r := Result{Checker: HistoryCheckerName, Verdict: Unknown, Reason: fmt.Sprintf("history is malformed: %v", err)}
		return Results{Verdict: Unknown, Reason: r.Reason, Checkers: []Result{r}}
	}
	results := make([]Result, 0, len(checkers))
	for _, c := range checkers {
		results = append(results, runOne(ctx, c, in))
	}
	out := Compose(results)
	if in.Truncated != "" && out.Verdict == Valid {
		out.Verdict = Unknown
		out.Reason = fmt.Sprintf("the history is incomplete (%s); what was recorded is consistent", in.Truncated)
	}
	return out
}

// Compose combines checker results into the overall verdict and a one
// sentence reason naming the checkers that decided it.
func Compose(results []Result) Results {
	var invalid, unknown []Result
	for _, r := range results {
		switch r.Verdict {
		case Invalid:
			invalid = append(invalid, r)
		case Valid:
		default:
			unknown = append(unknown, r)
		}
	}
	out := Results{Checkers: results}
	switch {
	case len(invalid) > 0:
		out.Verdict = Invalid
		out.Reason = fmt.Sprintf("%s found a violation: %s", names(invalid), invalid[0].Reason)
		for _, r := range invalid {
			out.FirstFlagged = minTime(out.FirstFlagged, r.FirstFlagged)
		}
	case len(unknown) > 0:
		out.Verdict = Unknown
		out.Reason = fmt.Sprintf("%s could not decide: %s", names(unknown), unknown[0].Reason)
	case len(results) == 0:
		out.Verdict = Unknown
		out.Reason = "no checker ran"
	default:
		out.Verdict = Valid
		out.Reason = fmt.Sprintf("all %d checkers passed (%s)", len(results), names(results))
	}
	return out
}

func names(rs []Result) string {
	n := make([]string, len(rs))
	for i, r := range rs {
		n[i] = r.Checker
	}
	return strings.Join(n, ", ")
}

func runOne(ctx context.Context, c Checker, in Input) (r Result) {
	name := c.Name()
	defer func() {
		if p := recover(); p != nil {
			r = Result{Checker: name, Verdict: Unknown, Reason: fmt.Sprintf("checker panicked: %v", p)}
		}
	}()
	r = c.Check(ctx, in)
	if r.Checker == "" {
		r.Checker = name
	}
	if r.Verdict != Valid && r.Verdict != Invalid {
		r.Verdict = Unknown
	}
	return r
}

// minTime returns the earlier of two optional times; nil means "none".
func minTime(a, b *int64) *int64 {
	switch {
	case b == nil:
		return a
	case a == nil || *b < *a:
		t := *b
		return &t
	}
	return a
}

// boundedAppend appends s to list unless list already holds max entries.
func boundedAppend[T any](list []T, max int, s T) []T {
	if len(list) >= max {
		return list
	}
	return append(list, s)
}
