package checker

import (
	"context"
	"fmt"
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
// serves again leaves nothing for the other checkers to judge.
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
	switch {
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
