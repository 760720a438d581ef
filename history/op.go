// Package history defines the record every part of faultline relies on: an
// operation (Op), a sequence of them (History), and their on-disk encoding as
// versioned JSON lines.
//
// Time is one clock: nanoseconds since the run started, read from Go's
// monotonic clock in the harness process. An operation is an invoke followed by
// at most one completion of the same process; [invoke.Time, completion.Time] is
// a closed interval during which the operation took effect, if it did.
package history

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Type is what an Op record says about an operation.
type Type string

const (
	// Invoke is the start of an operation.
	Invoke Type = "invoke"
	// OK means the operation took effect.
	OK Type = "ok"
	// Fail means the operation definitely did not take effect.
	Fail Type = "fail"
	// Info means the outcome is unknown: it may or may not have taken effect.
	Info Type = "info"
)

// Valid reports whether t is one of the four record types.
func (t Type) Valid() bool {
	switch t {
	case Invoke, OK, Fail, Info:
		return true
	}
	return false
}

// Operation functions used by the workloads and the nemesis.
const (
	FRead   = "read"
	FWrite  = "write"
	FCAS    = "cas"
	FAppend = "append"
	// FStart and FStop are nemesis functions: a fault begins or is healed.
	FStart = "start"
	FStop  = "stop"
)

// Process identifies a logical client. Client processes are numbered from 0;
// NemesisProcess is the fault injector. In JSON the nemesis is the string
// "nemesis" and every other process a number.
type Process int

// NemesisProcess is the process of fault injection ops.
const NemesisProcess Process = -1

// MarshalJSON encodes the nemesis as "nemesis" and clients as numbers.
func (p Process) MarshalJSON() ([]byte, error) {
	if p == NemesisProcess {
		return []byte(`"nemesis"`), nil
	}
	return strconv.AppendInt(nil, int64(p), 10), nil
}

// UnmarshalJSON accepts a non-negative number or "nemesis".
func (p *Process) UnmarshalJSON(b []byte) error {
	if string(b) == `"nemesis"` {
		*p = NemesisProcess
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 {
		return fmt.Errorf("process must be a non-negative number or \"nemesis\", got %s", b)
	}
	*p = Process(n)
	return nil
}

// String returns "nemesis" or the process number.
func (p Process) String() string {
	if p == NemesisProcess {
		return "nemesis"
	}
	return strconv.Itoa(int(p))
}

// Op is one record of a history.
//
// Values by function:
//   - read: invoke has no value; an ok completion has Value (nil means the key
//     was absent) or, for list keys, List.
//   - write: Value is the written value on both invoke and completion.
//   - cas: Expect is the expected value and Value the new one.
//   - append: Value is the element appended.
//   - start/stop (nemesis): Fault describes the fault exactly.
type Op struct {
	// Index is the position of the record in the history, from 0.
	Index int `json:"index"`
	// Time is nanoseconds since the run started (monotonic).
	Time    int64   `json:"time"`
	Type    Type    `json:"type"`
	Process Process `json:"process"`
	// Node is the node the client sent the request to, if any.
	Node   string  `json:"node,omitempty"`
	F      string  `json:"f"`
	Key    string  `json:"key,omitempty"`
	Value  *int64  `json:"value,omitempty"`
	Expect *int64  `json:"expect,omitempty"`
	List   []int64 `json:"list,omitempty"`
	// Final marks reads made in the final-read phase after healing.
	Final bool `json:"final,omitempty"`
	// Error is the error text of a fail or info completion.
	Error string `json:"error,omitempty"`
	Fault *Fault `json:"fault,omitempty"`
}

// Fault is the exact description of a nemesis action, enough to draw it in a
// report and to replay it by hand.
type Fault struct {
	// Kind is partition, kill, pause, clock, loss or delay.
	Kind string `json:"kind"`
	// Shape names how targets were chosen: one, leader, halves, minority, ...
	Shape   string   `json:"shape,omitempty"`
	Targets []string `json:"targets,omitempty"`
	// Grudge maps a node to the nodes it drops traffic from.
	Grudge map[string][]string `json:"grudge,omitempty"`
	// ClockOffsetsMillis is each node's clock offset after the action.
	ClockOffsetsMillis map[string]int64 `json:"clock_offsets_ms,omitempty"`
	// ClockRate is the clock rate set by a rate-skew action (1 = real time).
	ClockRate float64 `json:"clock_rate,omitempty"`
	// Action refines Kind (bump, strobe, rate, reset for clocks).
	Action string `json:"action,omitempty"`
	// LossPercent is the packet drop probability for loss faults.
	LossPercent float64 `json:"loss_percent,omitempty"`
	// Params holds anything else the fault needs to be replayed.
	Params map[string]string `json:"params,omitempty"`
}

// IntPtr returns a pointer to v, for building ops.
func IntPtr(v int64) *int64 { return &v }

// IsNemesis reports whether op was made by the fault injector.
func (op Op) IsNemesis() bool { return op.Process == NemesisProcess }

// String renders op compactly for logs and error messages.
func (op Op) String() string {
	b, _ := json.Marshal(op)
	return string(b)
}
