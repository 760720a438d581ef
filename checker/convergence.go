package checker

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Convergence checks that after healing every replica reports the same
// applied index and state digest. The harness collects Input.Replicas (with a
// bounded wait for them to catch up). No replicas gives unknown ("not
// collected"); a replica that could not be asked gives unknown, since failing
// to reach a node after healing is a harness or environment problem rather
// than evidence about the store; replicas that answer with different states
// give invalid, naming the ones that differ from the largest group.
type Convergence struct{}

// ReplicaGroup is a set of replicas reporting the same state.
type ReplicaGroup struct {
	AppliedIndex uint64   `json:"applied_index"`
	Digest       string   `json:"digest"`
	Nodes        []string `json:"nodes"`
}

// ConvergenceDetails is the Details of a convergence Result.
type ConvergenceDetails struct {
	Replicas    []ReplicaState `json:"replicas"`
	Groups      []ReplicaGroup `json:"groups,omitempty"`
	Unreachable []string       `json:"unreachable,omitempty"`
	// Differing are the replicas outside the largest group.
	Differing []string `json:"differing,omitempty"`
	// Lagging are the differing replicas that applied less than the
	// largest group: they did not catch up (as opposed to diverging).
	Lagging []string `json:"lagging,omitempty"`
}

// Name returns "convergence".
func (Convergence) Name() string { return "convergence" }

// Check compares the replicas.
func (c Convergence) Check(_ context.Context, in Input) Result {
	d := &ConvergenceDetails{Replicas: in.Replicas}
	res := Result{Checker: c.Name(), Details: d}
	if len(in.Replicas) == 0 {
		res.Verdict, res.Reason = Unknown, "replica states were not collected"
		return res
	}
	type state struct {
		applied uint64
		digest  string
	}
	groups := map[state]*ReplicaGroup{}
	for _, r := range in.Replicas {
		if r.Err != "" {
			d.Unreachable = append(d.Unreachable, r.Node)
			continue
		}
		s := state{r.AppliedIndex, r.Digest}
		g := groups[s]
		if g == nil {
			g = &ReplicaGroup{AppliedIndex: r.AppliedIndex, Digest: r.Digest}
			groups[s] = g
		}
		g.Nodes = append(g.Nodes, r.Node)
	}
	for _, g := range groups {
		sort.Strings(g.Nodes)
		d.Groups = append(d.Groups, *g)
	}
	// Largest group first; ties by higher applied index, then digest.
	sort.Slice(d.Groups, func(i, j int) bool {
		a, b := d.Groups[i], d.Groups[j]
		if len(a.Nodes) != len(b.Nodes) {
			return len(a.Nodes) > len(b.Nodes)
		}
		if a.AppliedIndex != b.AppliedIndex {
			return a.AppliedIndex > b.AppliedIndex
		}
		return a.Digest < b.Digest
	})
	byNode := map[string]ReplicaState{}
	for _, r := range in.Replicas {
		byNode[r.Node] = r
	}
	var differ []string
	for _, g := range d.Groups[min(1, len(d.Groups)):] {
		for _, n := range g.Nodes {
			d.Differing = append(d.Differing, n)
			if g.AppliedIndex < d.Groups[0].AppliedIndex {
				d.Lagging = append(d.Lagging, n)
				differ = append(differ, "lagging "+describeReplica(byNode[n]))
			} else {
				differ = append(differ, fmt.Sprintf("%s (applied %d, digest %s)", n, g.AppliedIndex, g.Digest))
			}
		}
	}
	sort.Strings(d.Differing)
	sort.Strings(d.Lagging)
	switch {
	case len(d.Differing) > 0:
		ref := d.Groups[0]
		res.Verdict = Invalid
		res.Reason = fmt.Sprintf("replicas differ from %s (applied %d, digest %s): %s",
			strings.Join(ref.Nodes, ","), ref.AppliedIndex, ref.Digest, strings.Join(differ, "; "))
		if leader, ok := leaderOf(in.Replicas); ok && len(d.Lagging) > 0 {
			res.Reason += "; leader " + describeReplica(leader)
		}
	case len(d.Unreachable) > 0:
		res.Verdict = Unknown
		res.Reason = fmt.Sprintf("could not read the state of %s after healing", strings.Join(d.Unreachable, ", "))
	default:
		res.Verdict = Valid
		res.Reason = fmt.Sprintf("all %d replicas applied %d with digest %s", len(in.Replicas), d.Groups[0].AppliedIndex, d.Groups[0].Digest)
	}
	return res
}

// describeReplica names a replica with the indexes that say how far it got.
func describeReplica(r ReplicaState) string {
	s := fmt.Sprintf("%s (applied %d, commit %d, last log %d", r.Node, r.AppliedIndex, r.CommitIndex, r.LastLogIndex)
	if r.Role != "" {
		s += ", " + r.Role
	}
	if r.Recovering {
		s += ", recovering"
	}
	return s + ")"
}

// leaderOf returns the replica that reported itself leader, if one did.
func leaderOf(replicas []ReplicaState) (ReplicaState, bool) {
	for _, r := range replicas {
		if r.Err == "" && strings.EqualFold(r.Role, "leader") {
			return r, true
		}
	}
	return ReplicaState{}, false
}
