package checker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/history"
)

// Availability measures how many ops succeeded inside and outside fault
// windows, and how long the store took to serve again after the final heal
// (end of the last fault window). Final reads are left out of the fractions
// (they run after the recovery wait) but count for the time to recover.
//
// The verdict is valid unless the last fault was never healed or no op
// succeeded after the final heal; those are unknown, since a store that never
// serves again leaves nothing for the other checkers to judge. A node that
// lost its disk and did not catch up within the nemesis's bounded wait
// (disk-loss's caught_up.<node> = false) is invalid: with a majority keeping
// its disks, a replica must rejoin.
type Availability struct{}

// Fraction is ops that succeeded out of ops attempted.
type Fraction struct {
	Ops      int     `json:"ops"`
	OK       int     `json:"ok"`
	Fraction float64 `json:"fraction"`
}

func (f *Fraction) add(ok bool) {
	f.Ops++
	if ok {
		f.OK++
	}
	f.Fraction = float64(f.OK) / float64(f.Ops)
}

// AvailabilityDetails is the Details of an availability Result. Times are
// run nanoseconds; a nil pointer means "never".
type AvailabilityDetails struct {
	InsideFaults  Fraction `json:"inside_faults"`
	OutsideFaults Fraction `json:"outside_faults"`
	Faults        int      `json:"faults"`
	// FinalHealTime is when the last fault window ended.
	FinalHealTime *int64 `json:"final_heal_time,omitempty"`
	// FirstOKWriteAfterHealNanos and FirstOKReadAfterHealNanos are the time
	// from the final heal to the completion of the first ok write (write,
	// cas or append) and read invoked after it.
	FirstOKWriteAfterHealNanos *int64 `json:"first_ok_write_after_heal_ns,omitempty"`
	FirstOKReadAfterHealNanos  *int64 `json:"first_ok_read_after_heal_ns,omitempty"`
	// WritesAfterHeal and ReadsAfterHeal count the ops invoked after the
	// final heal (final reads included).
	WritesAfterHeal int `json:"writes_after_heal"`
	ReadsAfterHeal  int `json:"reads_after_heal"`
	// Rejoins are the nodes that lost their disk, one per node and fault.
	Rejoins []Rejoin `json:"rejoins,omitempty"`
}

// Rejoin is one node's catch-up after a disk-loss fault.
type Rejoin struct {
	Node string `json:"node"`
	// FaultTime is when the fault started (run nanoseconds).
	FaultTime int64 `json:"fault_time"`
	// Action is how the disk was lost (wipe, torn-tail).
	Action string `json:"action"`
	// CaughtUp says whether the node caught up within the nemesis's wait;
	// RecoveryMillis is from its restart to then.
	CaughtUp       bool    `json:"caught_up"`
	RecoveryMillis float64 `json:"recovery_ms,omitempty"`
}

// rejoins reads the disk-loss faults' heal records.
func rejoins(windows []history.Window) []Rejoin {
	var out []Rejoin
	for _, w := range windows {
		if w.Kind != "disk-loss" || w.StopOp == nil || w.StopOp.Fault == nil {
			continue
		}
		f := w.StopOp.Fault
		for _, node := range f.Targets {
			r := Rejoin{Node: node, FaultTime: w.Start, Action: f.Action, CaughtUp: f.Params["caught_up."+node] != "false"}
			if ms, err := strconv.ParseFloat(f.Params["recovery_ms."+node], 64); err == nil {
				r.RecoveryMillis = ms
			}
			out = append(out, r)
		}
	}
	return out
}

// Name returns "availability".
func (Availability) Name() string { return "availability" }

// Check computes the fractions and recovery times.
func (a Availability) Check(_ context.Context, in Input) Result {
	windows := in.History.FaultWindows()
	d := &AvailabilityDetails{Faults: len(windows)}
	res := Result{Checker: a.Name(), Details: d}
	var heal int64 = -1
	for _, w := range windows {
		heal = max(heal, w.End)
	}
	if heal >= 0 {
		d.FinalHealTime = &heal
	}
	for _, p := range clientPairs(in.History) {
		ok := p.Outcome() == history.OK
		if !p.Invoke.Final {
			if inWindow(windows, p.Invoke.Time) {
				d.InsideFaults.add(ok)
			} else {
				d.OutsideFaults.add(ok)
			}
		}
		if heal < 0 || heal == infinity || p.Invoke.Time < heal {
			continue
		}
		target := &d.FirstOKWriteAfterHealNanos
		if p.Invoke.F == history.FRead {
			target = &d.FirstOKReadAfterHealNanos
			d.ReadsAfterHeal++
		} else {
			d.WritesAfterHeal++
		}
		if !ok {
			continue
		}
		since := p.Completion.Time - heal
		if *target == nil || since < **target {
			*target = &since
		}
	}
	d.Rejoins = rejoins(windows)
	var lagging []string
	for _, r := range d.Rejoins {
		if !r.CaughtUp {
			lagging = append(lagging, fmt.Sprintf("%s (%s at %s)", r.Node, r.Action, time.Duration(r.FaultTime).Round(time.Millisecond)))
		}
	}
	switch {
	case len(lagging) > 0:
		res.Verdict = Invalid
		res.Reason = fmt.Sprintf("after losing its disk, never caught up within the nemesis's wait: %s", strings.Join(lagging, ", "))
	case len(windows) == 0:
		res.Verdict = Valid
		res.Reason = fmt.Sprintf("no faults; %d of %d ops ok", d.OutsideFaults.OK, d.OutsideFaults.Ops)
	case heal == infinity:
		res.Verdict, res.Reason = Unknown, "the last fault was never healed"
	case d.FirstOKWriteAfterHealNanos == nil && d.FirstOKReadAfterHealNanos == nil:
		res.Verdict, res.Reason = Unknown, "no operation succeeded after the final heal"
	default:
		res.Verdict = Valid
		res.Reason = fmt.Sprintf("%.0f%% ok inside faults, %.0f%% outside; after the final heal: %s, %s",
			100*d.InsideFaults.Fraction, 100*d.OutsideFaults.Fraction,
			recovery("write", d.WritesAfterHeal, d.FirstOKWriteAfterHealNanos),
			recovery("read", d.ReadsAfterHeal, d.FirstOKReadAfterHealNanos))
	}
	return res
}

// recovery describes how soon the first ok op of a kind came after the heal.
func recovery(kind string, attempted int, ns *int64) string {
	switch {
	case attempted == 0:
		return "no " + kind + " attempted"
	case ns == nil:
		return fmt.Sprintf("no %s of %d succeeded", kind, attempted)
	}
	return fmt.Sprintf("first ok %s %s", kind, time.Duration(*ns).Round(time.Microsecond))
}
