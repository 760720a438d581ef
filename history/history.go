package history

import (
	"fmt"
	"math"
)

// History is a sequence of records in the order they were written.
type History []Op

// Pair is an invoke with its completion. Completion is nil when the operation
// never completed (the run ended or crashed first); such an operation is
// indeterminate.
type Pair struct {
	Invoke     Op
	Completion *Op
}

// Outcome is the completion type, Info when the operation never completed.
func (p Pair) Outcome() Type {
	if p.Completion == nil {
		return Info
	}
	return p.Completion.Type
}

// ReturnTime is the completion time, or math.MaxInt64 when the outcome is
// indeterminate: an indeterminate operation may take effect at any later time.
func (p Pair) ReturnTime() int64 {
	if p.Completion == nil || p.Completion.Type == Info {
		return math.MaxInt64
	}
	return p.Completion.Time
}

// Pairs matches every invoke with its completion, in invoke order. It assumes
// a well-formed history (see Validate).
func (h History) Pairs() []Pair {
	open := make(map[Process]int)
	var pairs []Pair
	for i := range h {
		op := h[i]
		if op.Type == Invoke {
			open[op.Process] = len(pairs)
			pairs = append(pairs, Pair{Invoke: op})
			continue
		}
		if at, ok := open[op.Process]; ok {
			c := op
			pairs[at].Completion = &c
			delete(open, op.Process)
		}
	}
	return pairs
}

// ClientPairs is Pairs without nemesis operations.
func (h History) ClientPairs() []Pair {
	var out []Pair
	for _, p := range h.Pairs() {
		if !p.Invoke.IsNemesis() {
			out = append(out, p)
		}
	}
	return out
}

// Window is a time interval during which a fault was active.
type Window struct {
	Kind  string `json:"kind"`
	Start int64  `json:"start"`
	// End is the time the fault was healed, or math.MaxInt64 if never.
	End int64 `json:"end"`
	// StartOp and StopOp are the nemesis records bounding the window; StopOp
	// is nil when the fault was never healed.
	StartOp *Op `json:"-"`
	StopOp  *Op `json:"-"`
}

// FaultWindows returns the interval of every fault: from the invoke of its
// start op to the completion of the matching stop op of the same kind. A
// fault never stopped lasts until math.MaxInt64.
func (h History) FaultWindows() []Window {
	var windows []Window
	open := map[string]int{}
	for i := range h {
		op := h[i]
		if !op.IsNemesis() || op.Fault == nil {
			continue
		}
		kind := op.Fault.Kind
		switch {
		case op.F == FStart && op.Type == Invoke:
			open[kind] = len(windows)
			o := op
			windows = append(windows, Window{Kind: kind, Start: op.Time, End: math.MaxInt64, StartOp: &o})
		case op.F == FStop && op.Type != Invoke:
			if at, ok := open[kind]; ok {
				o := op
				windows[at].End = op.Time
				windows[at].StopOp = &o
				delete(open, kind)
			}
		}
	}
	return windows
}

// Validate checks that h is well-formed: indexes are positions, times never
// go backwards, record types are known, every completion follows an invoke of
// the same process with the same function, a process never has two
// operations open at once, and a client process that saw an indeterminate
// result never invokes again.
func (h History) Validate() error {
	open := make(map[Process]Op)
	retired := make(map[Process]bool)
	var last int64
	for i, op := range h {
		if op.Index != i {
			return fmt.Errorf("op %d: index is %d, want %d", i, op.Index, i)
		}
		if op.Time < last {
			return fmt.Errorf("op %d: time %d is before the previous op's %d", i, op.Time, last)
		}
		last = op.Time
		if !op.Type.Valid() {
			return fmt.Errorf("op %d: unknown type %q", i, op.Type)
		}
		if op.F == "" {
			return fmt.Errorf("op %d: missing f", i)
		}
		inv, isOpen := open[op.Process]
		if op.Type == Invoke {
			if retired[op.Process] && op.Process != NemesisProcess {
				return fmt.Errorf("op %d: process %s invoked %s after an indeterminate result; it should have retired", i, op.Process, op.F)
			}
			if isOpen {
				return fmt.Errorf("op %d: process %s invoked %s while op %d is still open", i, op.Process, op.F, inv.Index)
			}
			open[op.Process] = op
			continue
		}
		if !isOpen {
			return fmt.Errorf("op %d: %s completion for process %s, which has no open invoke", i, op.Type, op.Process)
		}
		if inv.F != op.F {
			return fmt.Errorf("op %d: completion f %q does not match invoke %d f %q", i, op.F, inv.Index, inv.F)
		}
		delete(open, op.Process)
		if op.Type == Info {
			retired[op.Process] = true
		}
	}
	return nil
}
