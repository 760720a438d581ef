package checker

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/faultline/faultline/history"
)

// Phases of a run relative to its faults, as used by Stats.
const (
	// PhaseBefore is before the first fault started.
	PhaseBefore = "before"
	// PhaseDuring is inside a fault window.
	PhaseDuring = "during"
	// PhaseAfter is outside every fault window, after the first fault
	// started (between faults and after the final heal, final reads included).
	PhaseAfter = "after"
)

// TypeCounts counts completions of one op function by result type. An
// invoke that never completed counts as Info.
type TypeCounts struct {
	OK   int `json:"ok"`
	Fail int `json:"fail"`
	Info int `json:"info"`
}

// Total is the number of ops counted.
func (t TypeCounts) Total() int { return t.OK + t.Fail + t.Info }

func (t *TypeCounts) add(typ history.Type) {
	switch typ {
	case history.OK:
		t.OK++
	case history.Fail:
		t.Fail++
	default:
		t.Info++
	}
}

// Counts maps an op function (read, write, cas, append) to its counts.
type Counts map[string]TypeCounts

func (c Counts) add(f string, typ history.Type) {
	t := c[f]
	t.add(typ)
	c[f] = t
}

// StatsDetails is the Details of a stats Result.
type StatsDetails struct {
	Overall Counts `json:"overall"`
	// ByPhase holds Counts for PhaseBefore, PhaseDuring and PhaseAfter,
	// by invoke time.
	ByPhase map[string]Counts `json:"by_phase"`
	// NeverSucceeded lists op functions that were attempted and never ok.
	NeverSucceeded []string `json:"never_succeeded,omitempty"`
}

// Stats counts client ops by function and result type, overall and by phase.
// The verdict is unknown when some attempted op function never succeeded
// (e.g. no read was ever ok): the other checkers then had too little data.
type Stats struct{}

// Name returns "stats".
func (Stats) Name() string { return "stats" }

// Check counts the ops.
func (s Stats) Check(_ context.Context, in Input) Result {
	windows := in.History.FaultWindows()
	d := &StatsDetails{Overall: Counts{}, ByPhase: map[string]Counts{
		PhaseBefore: {}, PhaseDuring: {}, PhaseAfter: {},
	}}
	for _, p := range clientPairs(in.History) {
		typ := p.Outcome()
		d.Overall.add(p.Invoke.F, typ)
		d.ByPhase[phaseOf(windows, p.Invoke.Time)].add(p.Invoke.F, typ)
	}
	res := Result{Checker: s.Name(), Details: d}
	fs := make([]string, 0, len(d.Overall))
	total := 0
	for f, c := range d.Overall {
		fs = append(fs, f)
		total += c.Total()
		if c.OK == 0 {
			d.NeverSucceeded = append(d.NeverSucceeded, f)
		}
	}
	sort.Strings(fs)
	sort.Strings(d.NeverSucceeded)
	switch {
	case total == 0:
		res.Verdict, res.Reason = Unknown, "the history has no client operations"
	case len(d.NeverSucceeded) > 0:
		res.Verdict = Unknown
		res.Reason = fmt.Sprintf("no %s ever succeeded", strings.Join(d.NeverSucceeded, " or "))
	default:
		parts := make([]string, len(fs))
		for i, f := range fs {
			c := d.Overall[f]
			parts[i] = fmt.Sprintf("%s %d/%d ok", f, c.OK, c.Total())
		}
		res.Verdict = Valid
		res.Reason = fmt.Sprintf("%d ops: %s", total, strings.Join(parts, ", "))
	}
	return res
}

// phaseOf places time t relative to the fault windows.
func phaseOf(windows []history.Window, t int64) string {
	if inWindow(windows, t) {
		return PhaseDuring
	}
	for _, w := range windows {
		if w.Start <= t {
			return PhaseAfter
		}
	}
	return PhaseBefore
}

func inWindow(windows []history.Window, t int64) bool {
	for _, w := range windows {
		if w.Start <= t && t <= w.End {
			return true
		}
	}
	return false
}
