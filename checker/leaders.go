package checker

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// LeaderSighting is one node seen reporting that it leads a generation: the
// first time the harness saw it, in run time (history nanoseconds).
type LeaderSighting struct {
	Node       string `json:"node"`
	Generation uint64 `json:"generation"`
	FirstSeen  int64  `json:"first_seen_ns"`
}

// Leaders checks election safety from the nodes' own reports: no generation
// may have two leaders. The harness polls every node's status while the run
// goes on and records each (node, generation) it sees leading; two nodes
// leading the same generation is a violation however briefly it lasted, and
// whether or not any client saw its effects. It is flagged at the moment the
// second leader was seen. Polling can miss a short-lived leader, so a valid
// verdict only says that no second leader was seen.
type Leaders struct{}

// LeadersDetails is the Details of a leaders Result.
type LeadersDetails struct {
	Sightings   int `json:"sightings"`
	Generations int `json:"generations"`
	// Conflicts lists every generation led by more than one node.
	Conflicts []GenerationConflict `json:"conflicts,omitempty"`
}

// GenerationConflict is a generation that more than one node led.
type GenerationConflict struct {
	Generation uint64           `json:"generation"`
	Leaders    []LeaderSighting `json:"leaders"`
}

// Name returns "leaders".
func (Leaders) Name() string { return "leaders" }

// Check looks for generations with more than one leader.
func (c Leaders) Check(_ context.Context, in Input) Result {
	d := &LeadersDetails{Sightings: len(in.Leaders)}
	res := Result{Checker: c.Name(), Details: d}
	if in.Leaders == nil {
		res.Verdict, res.Reason = Unknown, "leader sightings were not collected"
		return res
	}
	byGen := map[uint64][]LeaderSighting{}
	for _, s := range in.Leaders {
		i := slices.IndexFunc(byGen[s.Generation], func(o LeaderSighting) bool { return o.Node == s.Node })
		switch {
		case i < 0:
			byGen[s.Generation] = append(byGen[s.Generation], s)
		case s.FirstSeen < byGen[s.Generation][i].FirstSeen:
			byGen[s.Generation][i] = s
		}
	}
	d.Generations = len(byGen)
	for gen, seen := range byGen {
		if len(seen) < 2 {
			continue
		}
		slices.SortFunc(seen, func(a, b LeaderSighting) int { return cmp.Compare(a.FirstSeen, b.FirstSeen) })
		d.Conflicts = append(d.Conflicts, GenerationConflict{Generation: gen, Leaders: seen})
		res.FirstFlagged = minTime(res.FirstFlagged, &seen[1].FirstSeen)
	}
	if len(d.Conflicts) == 0 {
		res.Verdict = Valid
		res.Reason = fmt.Sprintf("one leader per generation (%d generations led, %d sightings)", d.Generations, d.Sightings)
		return res
	}
	slices.SortFunc(d.Conflicts, func(a, b GenerationConflict) int { return cmp.Compare(a.Generation, b.Generation) })
	first := d.Conflicts[0]
	var names []string
	for _, s := range first.Leaders {
		names = append(names, s.Node)
	}
	res.Verdict = Invalid
	res.Reason = fmt.Sprintf("%d generations had two leaders; generation %d was led by %s", len(d.Conflicts), first.Generation, strings.Join(names, " and "))
	return res
}
