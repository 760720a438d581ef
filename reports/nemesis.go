package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/faultline/faultline/history"
)

// FaultInterval is one fault of the nemesis timeline: what it was, on which
// nodes, and when it started and was healed.
type FaultInterval struct {
	Kind   string
	Action string
	Shape  string
	// Targets are the nodes the fault was applied to.
	Targets []string
	// Start is the invoke time of the start op; End the completion time of
	// the matching stop op (run-clock nanoseconds). End is math.MaxInt64
	// when the fault was never healed.
	Start int64
	End   int64
	// Params are the exact fault parameters (grudge, loss, clock offsets),
	// in a fixed order, for display and replay by hand.
	Params []Param
	// Error is set when the start or stop op did not complete ok.
	Error string
}

// Param is one named fault parameter.
type Param struct {
	Name  string
	Value string
}

// Healed reports whether a stop op ended the fault.
func (f FaultInterval) Healed() bool { return f.End != math.MaxInt64 }

// Duration is End-Start, or until runEnd when the fault was never healed.
func (f FaultInterval) Duration(runEnd int64) int64 {
	if !f.Healed() {
		return max(0, runEnd-f.Start)
	}
	return f.End - f.Start
}

// Label is the short name drawn on plots: the kind and, if any, the action
// or shape ("partition halves", "clock bump").
func (f FaultInterval) Label() string {
	switch {
	case f.Action != "":
		return f.Kind + " " + f.Action
	case f.Shape != "":
		return f.Kind + " " + f.Shape
	}
	return f.Kind
}

// FaultIntervals extracts the nemesis timeline from a history: one interval
// per fault window (history.FaultWindows), described by its start op. The
// completion of the start op is preferred over its invoke when it carries the
// fault, because only then are targets chosen at run time (the leader) and
// the resulting clock offsets known.
func FaultIntervals(h history.History) []FaultInterval {
	windows := h.FaultWindows()
	out := make([]FaultInterval, 0, len(windows))
	for _, w := range windows {
		fi := FaultInterval{Kind: w.Kind, Start: w.Start, End: w.End}
		fault := w.StartOp.Fault
		if done := completionOf(h, *w.StartOp); done != nil {
			if done.Fault != nil {
				fault = mergeFault(fault, done.Fault)
			}
			if done.Type != history.OK {
				fi.Error = fmt.Sprintf("start %s: %s", done.Type, done.Error)
			}
		}
		if w.StopOp != nil && w.StopOp.Type != history.OK {
			fi.Error = strings.TrimPrefix(fi.Error+"; ", "; ") + fmt.Sprintf("stop %s: %s", w.StopOp.Type, w.StopOp.Error)
		}
		fi.Action, fi.Shape = fault.Action, fault.Shape
		fi.Targets = append([]string(nil), fault.Targets...)
		fi.Params = faultParams(fault)
		out = append(out, fi)
	}
	return out
}

// completionOf finds the completion of a nemesis invoke: the next nemesis op
// of the same function that is not an invoke.
func completionOf(h history.History, invoke history.Op) *history.Op {
	for i := invoke.Index + 1; i < len(h); i++ {
		op := h[i]
		if op.Process != invoke.Process {
			continue
		}
		if op.Type == history.Invoke {
			return nil
		}
		if op.F == invoke.F {
			return &h[i]
		}
		return nil
	}
	return nil
}

// mergeFault overlays the non-empty fields of b on a.
func mergeFault(a, b *history.Fault) *history.Fault {
	m := *a
	if b.Shape != "" {
		m.Shape = b.Shape
	}
	if len(b.Targets) > 0 {
		m.Targets = b.Targets
	}
	if len(b.Grudge) > 0 {
		m.Grudge = b.Grudge
	}
	if len(b.ClockOffsetsMillis) > 0 {
		m.ClockOffsetsMillis = b.ClockOffsetsMillis
	}
	if b.ClockRate != 0 {
		m.ClockRate = b.ClockRate
	}
	if b.Action != "" {
		m.Action = b.Action
	}
	if b.LossPercent != 0 {
		m.LossPercent = b.LossPercent
	}
	if len(b.Params) > 0 {
		m.Params = b.Params
	}
	return &m
}

// faultParams renders a fault's parameters: grudge, loss, clock offsets and
// rate, then the free-form params in key order.
func faultParams(f *history.Fault) []Param {
	var ps []Param
	if len(f.Grudge) > 0 {
		var parts []string
		for _, n := range sortedKeys(f.Grudge) {
			from := append([]string(nil), f.Grudge[n]...)
			sort.Strings(from)
			parts = append(parts, n+" drops "+strings.Join(from, ","))
		}
		ps = append(ps, Param{"grudge", strings.Join(parts, "; ")})
	}
	if f.LossPercent != 0 {
		ps = append(ps, Param{"loss", strconv.FormatFloat(f.LossPercent, 'f', -1, 64) + "%"})
	}
	if len(f.ClockOffsetsMillis) > 0 {
		var parts []string
		for _, n := range sortedKeys(f.ClockOffsetsMillis) {
			parts = append(parts, fmt.Sprintf("%s %+d ms", n, f.ClockOffsetsMillis[n]))
		}
		ps = append(ps, Param{"clock offsets", strings.Join(parts, ", ")})
	}
	if f.ClockRate != 0 {
		ps = append(ps, Param{"clock rate", strconv.FormatFloat(f.ClockRate, 'f', -1, 64)})
	}
	for _, k := range sortedKeys(f.Params) {
		ps = append(ps, Param{k, f.Params[k]})
	}
	return ps
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ClockSeries is one node's clock offset over the run, a step function.
type ClockSeries struct {
	Node   string
	Points []ClockPoint
}

// ClockPoint is a node's clock offset from Time on.
type ClockPoint struct {
	Time         int64
	OffsetMillis int64
}

// ClockOffsets collects every node's clock offset from the nemesis ops that
// carry Fault.ClockOffsetsMillis (a bump, strobe or reset reports the offsets
// after it). Every node starts at offset 0 at time 0, which is how kvnode
// starts its clock. It returns nil when no op carried offsets.
func ClockOffsets(h history.History) []ClockSeries {
	byNode := map[string][]ClockPoint{}
	for _, op := range h {
		if !op.IsNemesis() || op.Fault == nil || len(op.Fault.ClockOffsetsMillis) == 0 {
			continue
		}
		for node, off := range op.Fault.ClockOffsetsMillis {
			if byNode[node] == nil {
				byNode[node] = []ClockPoint{{Time: 0, OffsetMillis: 0}}
			}
			byNode[node] = append(byNode[node], ClockPoint{Time: op.Time, OffsetMillis: off})
		}
	}
	if len(byNode) == 0 {
		return nil
	}
	out := make([]ClockSeries, 0, len(byNode))
	for _, n := range sortedKeys(byNode) {
		out = append(out, ClockSeries{Node: n, Points: byNode[n]})
	}
	return out
}

// formatSeconds renders run-clock nanoseconds as seconds since the start.
func formatSeconds(ns int64) string {
	if ns == math.MaxInt64 {
		return "never"
	}
	return strconv.FormatFloat(float64(ns)/1e9, 'f', 3, 64) + " s"
}
