package checker

import (
	"context"
	"fmt"
	"sort"

	"github.com/faultline/faultline/history"
)

// DefaultMaxElements bounds each element list in SetDetails; the counts are
// always complete.
const DefaultMaxElements = 50

// Set checks durability of appends against the final reads (ops with
// Final=true, made after healing, typically one per node and key):
//   - lost: an acknowledged append absent from every final read of its key;
//   - unexpected: an element present that was never attempted on that key;
//   - failed-present: an element whose append definitely failed, yet present;
//   - duplicated: an element present more than once in one final read;
//   - recovered: an indeterminate append that is present (fine, reported);
//   - stale: a final read missing elements another final read of the same
//     key has (reported; the linearizability checker judges read freshness).
//
// The verdict is invalid if anything is lost, unexpected, failed-present or
// duplicated; unknown if a key with acknowledged appends has no successful
// final read; else valid. An invalid Result's FirstFlagged is the earliest of:
// the completion of an acknowledged append that is lost, and the invoke of a
// final read showing an unexpected, failed or duplicated element.
type Set struct {
	// MaxElements bounds the lists in the details; 0 means DefaultMaxElements.
	MaxElements int
}

// ElementList is a bounded list of element ids with the full count.
type ElementList struct {
	Count    int     `json:"count"`
	Elements []int64 `json:"elements,omitempty"`
}

// StaleRead is a final read that lacks elements another final read of the
// same key returned.
type StaleRead struct {
	Key     string      `json:"key"`
	Node    string      `json:"node,omitempty"`
	Index   int         `json:"index"`
	Missing ElementList `json:"missing"`
}

// SetDetails is the Details of a set Result.
type SetDetails struct {
	Keys          int         `json:"keys"`
	Attempted     int         `json:"attempted"`
	Acknowledged  int         `json:"acknowledged"`
	Indeterminate int         `json:"indeterminate"`
	FinalReads    int         `json:"final_reads"`
	Lost          ElementList `json:"lost"`
	Unexpected    ElementList `json:"unexpected"`
	FailedPresent ElementList `json:"failed_present"`
	Duplicated    ElementList `json:"duplicated"`
	Recovered     ElementList `json:"recovered"`
	// KeysWithoutFinalRead are keys with acknowledged appends and no
	// successful final read.
	KeysWithoutFinalRead []string    `json:"keys_without_final_read,omitempty"`
	StaleReads           []StaleRead `json:"stale_reads,omitempty"`
	StaleReadCount       int         `json:"stale_read_count"`
}

// Name returns "set".
func (s Set) Name() string { return "set" }

type setKey struct {
	outcome    map[int64]history.Type // element -> outcome of its append
	ackTime    map[int64]int64        // element -> completion time of its acknowledged append
	finalReads []history.Op           // ok final read completions
	readCalls  []int64                // invoke time of each final read, as finalReads
}

// Check compares appends with final reads.
func (s Set) Check(_ context.Context, in Input) Result {
	res := Result{Checker: s.Name()}
	if err := in.History.Validate(); err != nil {
		res.Verdict, res.Reason = Unknown, fmt.Sprintf("history is malformed: %v", err)
		return res
	}
	maxElems := s.MaxElements
	if maxElems <= 0 {
		maxElems = DefaultMaxElements
	}
	keys := map[string]*setKey{}
	get := func(k string) *setKey {
		sk := keys[k]
		if sk == nil {
			sk = &setKey{outcome: map[int64]history.Type{}, ackTime: map[int64]int64{}}
			keys[k] = sk
		}
		return sk
	}
	d := &SetDetails{}
	res.Details = d
	for _, p := range clientPairs(in.History) {
		switch p.Invoke.F {
		case history.FAppend:
			if p.Invoke.Value == nil {
				continue
			}
			o := p.Outcome()
			sk := get(p.Invoke.Key)
			sk.outcome[*p.Invoke.Value] = o
			d.Attempted++
			switch o {
			case history.OK:
				d.Acknowledged++
				sk.ackTime[*p.Invoke.Value] = p.Completion.Time
			case history.Info:
				d.Indeterminate++
			}
		case history.FRead:
			if p.Outcome() == history.OK && (p.Invoke.Final || p.Completion.Final) {
				sk := get(p.Invoke.Key)
				r := *p.Completion
				if r.Node == "" {
					r.Node = p.Invoke.Node
				}
				sk.finalReads = append(sk.finalReads, r)
				sk.readCalls = append(sk.readCalls, p.Invoke.Time)
				d.FinalReads++
			}
		}
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	d.Keys = len(names)
	add := func(l *ElementList, e int64) {
		l.Count++
		l.Elements = boundedAppend(l.Elements, maxElems, e)
	}
	var flagged *int64
	flag := func(t int64) { flagged = minTime(flagged, &t) }
	for _, k := range names {
		sk := keys[k]
		present := map[int64]bool{}
		firstSeen := map[int64]int64{} // element -> invoke of the earliest final read showing it
		for i, r := range sk.finalReads {
			call := sk.readCalls[i]
			seen := map[int64]bool{}
			for _, e := range r.List {
				if seen[e] {
					add(&d.Duplicated, e)
					flag(call)
				}
				seen[e] = true
				present[e] = true
				if t, ok := firstSeen[e]; !ok || call < t {
					firstSeen[e] = call
				}
			}
		}
		for _, e := range sortedElements(present) {
			o, attempted := sk.outcome[e]
			switch {
			case !attempted:
				add(&d.Unexpected, e)
				flag(firstSeen[e])
			case o == history.Fail:
				add(&d.FailedPresent, e)
				flag(firstSeen[e])
			case o == history.Info:
				add(&d.Recovered, e)
			}
		}
		acked := false
		for _, e := range sortedElements(sk.outcome) {
			if sk.outcome[e] == history.OK {
				acked = true
				if len(sk.finalReads) > 0 && !present[e] {
					add(&d.Lost, e)
					flag(sk.ackTime[e])
				}
			}
		}
		if acked && len(sk.finalReads) == 0 {
			d.KeysWithoutFinalRead = boundedAppend(d.KeysWithoutFinalRead, maxElems, k)
		}
		for _, r := range sk.finalReads {
			has := map[int64]bool{}
			for _, e := range r.List {
				has[e] = true
			}
			var missing ElementList
			for _, e := range sortedElements(present) {
				if !has[e] {
					add(&missing, e)
				}
			}
			if missing.Count > 0 {
				d.StaleReadCount++
				d.StaleReads = boundedAppend(d.StaleReads, maxElems, StaleRead{Key: k, Node: r.Node, Index: r.Index, Missing: missing})
			}
		}
	}
	switch {
	case d.Lost.Count+d.Unexpected.Count+d.FailedPresent.Count+d.Duplicated.Count > 0:
		res.Verdict = Invalid
		res.FirstFlagged = flagged
		res.Reason = fmt.Sprintf("%d lost, %d unexpected, %d failed but present, %d duplicated elements", d.Lost.Count, d.Unexpected.Count, d.FailedPresent.Count, d.Duplicated.Count)
	case len(d.KeysWithoutFinalRead) > 0:
		res.Verdict = Unknown
		res.Reason = fmt.Sprintf("no final read succeeded for key %q, which has acknowledged appends", d.KeysWithoutFinalRead[0])
	case d.Acknowledged == 0:
		res.Verdict = Unknown
		res.Reason = "no append was acknowledged"
	default:
		res.Verdict = Valid
		res.Reason = fmt.Sprintf("all %d acknowledged appends are present in the final reads of %d keys (%d indeterminate recovered)", d.Acknowledged, d.Keys, d.Recovered.Count)
	}
	return res
}

func sortedElements[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
