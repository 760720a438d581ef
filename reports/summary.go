package reports

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/faultline/faultline/history"
)

// Phase is when an operation was invoked relative to the faults of its run.
type Phase string

// Phases in the order they happen.
const (
	// PhaseBefore is before the first fault started.
	PhaseBefore Phase = "before faults"
	// PhaseDuring is inside a fault window.
	PhaseDuring Phase = "during faults"
	// PhaseBetween is outside every fault window once the first fault has
	// started (between faults and after the last heal).
	PhaseBetween Phase = "between/after faults"
	// PhaseFinal is the final reads made after healing.
	PhaseFinal Phase = "final reads"
)

var phaseOrder = []Phase{PhaseBefore, PhaseDuring, PhaseBetween, PhaseFinal}

// PhaseOf classifies an operation by its invoke time against the fault
// windows. Final reads are their own phase whatever the time.
func PhaseOf(invoke history.Op, windows []history.Window) Phase {
	if invoke.Final {
		return PhaseFinal
	}
	if len(windows) == 0 {
		return PhaseBefore
	}
	first := windows[0].Start
	for _, w := range windows {
		first = min(first, w.Start)
		if invoke.Time >= w.Start && invoke.Time <= w.End {
			return PhaseDuring
		}
	}
	if invoke.Time < first {
		return PhaseBefore
	}
	return PhaseBetween
}

// Counts are completions by result. Info includes operations that never
// completed.
type Counts struct {
	OK   int
	Fail int
	Info int
}

// Total is the number of operations counted.
func (c Counts) Total() int { return c.OK + c.Fail + c.Info }

func (c *Counts) add(t history.Type) {
	switch t {
	case history.OK:
		c.OK++
	case history.Fail:
		c.Fail++
	default:
		c.Info++
	}
}

// CountTable is client operation counts by function and phase.
type CountTable struct {
	// Phases lists the phases that have at least one operation, in order.
	Phases []Phase
	// Rows has one row per function (reads first, then writes, cas, append,
	// then any other in name order) and a last row "all".
	Rows []CountRow
}

// CountRow is one function's counts overall and per phase.
type CountRow struct {
	F     string
	Total Counts
	// ByPhase is aligned with CountTable.Phases.
	ByPhase []Counts
}

// CountOps counts client operations by function, result and phase.
func CountOps(pairs []history.Pair, windows []history.Window) CountTable {
	type cell struct {
		f     string
		phase Phase
	}
	cells := map[cell]*Counts{}
	seenPhase := map[Phase]bool{}
	seenF := map[string]bool{}
	for _, p := range pairs {
		if p.Invoke.IsNemesis() {
			continue
		}
		ph := PhaseOf(p.Invoke, windows)
		seenPhase[ph] = true
		seenF[p.Invoke.F] = true
		for _, c := range []cell{{p.Invoke.F, ph}, {"all", ph}} {
			if cells[c] == nil {
				cells[c] = &Counts{}
			}
			cells[c].add(p.Outcome())
		}
	}
	var t CountTable
	for _, ph := range phaseOrder {
		if seenPhase[ph] {
			t.Phases = append(t.Phases, ph)
		}
	}
	fs := sortedFunctions(seenF)
	if len(fs) > 0 {
		fs = append(fs, "all")
	}
	for _, f := range fs {
		row := CountRow{F: f, ByPhase: make([]Counts, len(t.Phases))}
		for i, ph := range t.Phases {
			if c := cells[cell{f, ph}]; c != nil {
				row.ByPhase[i] = *c
				row.Total.OK += c.OK
				row.Total.Fail += c.Fail
				row.Total.Info += c.Info
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

var functionOrder = []string{history.FRead, history.FWrite, history.FCAS, history.FAppend}

// sortedFunctions orders function names: the known ones first, in
// functionOrder, then the rest by name.
func sortedFunctions(seen map[string]bool) []string {
	var out []string
	for _, f := range functionOrder {
		if seen[f] {
			out = append(out, f)
		}
	}
	var rest []string
	for f := range seen {
		if !slices.Contains(functionOrder, f) {
			rest = append(rest, f)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// Quantiles summarise a set of latencies.
type Quantiles struct {
	Count int
	P50   time.Duration
	P95   time.Duration
	P99   time.Duration
	Max   time.Duration
}

// Quantile returns the nearest-rank q-quantile (0 < q <= 1) of sorted, the
// smallest value with at least q of the values at or below it.
func Quantile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// QuantilesOf computes p50, p95, p99 and max of latencies in nanoseconds. It
// sorts latencies in place.
func QuantilesOf(latencies []int64) Quantiles {
	slices.Sort(latencies)
	if len(latencies) == 0 {
		return Quantiles{}
	}
	return Quantiles{
		Count: len(latencies),
		P50:   time.Duration(Quantile(latencies, 0.50)),
		P95:   time.Duration(Quantile(latencies, 0.95)),
		P99:   time.Duration(Quantile(latencies, 0.99)),
		Max:   time.Duration(latencies[len(latencies)-1]),
	}
}

// LatencyRow is the latency quantiles of one function and result.
type LatencyRow struct {
	F      string
	Result history.Type
	Quantiles
}

// Latency returns the latency of a completed operation in nanoseconds, and
// false when it never completed.
func Latency(p history.Pair) (int64, bool) {
	if p.Completion == nil {
		return 0, false
	}
	return p.Completion.Time - p.Invoke.Time, true
}

// LatencyTable computes latency quantiles of completed client operations by
// function and result (ok, fail, info), skipping empty combinations.
func LatencyTable(pairs []history.Pair) []LatencyRow {
	type cell struct {
		f string
		t history.Type
	}
	lat := map[cell][]int64{}
	seenF := map[string]bool{}
	for _, p := range pairs {
		l, ok := Latency(p)
		if !ok || p.Invoke.IsNemesis() {
			continue
		}
		seenF[p.Invoke.F] = true
		c := cell{p.Invoke.F, p.Completion.Type}
		lat[c] = append(lat[c], l)
	}
	var rows []LatencyRow
	for _, f := range sortedFunctions(seenF) {
		for _, t := range []history.Type{history.OK, history.Fail, history.Info} {
			if ls := lat[cell{f, t}]; len(ls) > 0 {
				rows = append(rows, LatencyRow{F: f, Result: t, Quantiles: QuantilesOf(ls)})
			}
		}
	}
	return rows
}

// runEnd is the time of the last record, at least 1 ns so that plots have a
// non-empty range.
func runEnd(h history.History) int64 {
	var end int64 = 1
	for _, op := range h {
		end = max(end, op.Time)
	}
	return end
}
