package nemesis

import (
	"math/rand/v2"
	"slices"
)

// A grudge maps a node to the nodes it drops traffic from. Asymmetric grudges
// are allowed: a may drop b's packets while b still hears a. A node absent
// from the map (or mapped to nothing) hears everyone.
//
// The shape functions below are pure: given the same node list and a *rand.Rand
// in the same state they return the same grudge. Every list in a returned
// grudge is sorted, and nodes that drop nothing are left out of the map.

// Partition shape names, recorded in history.Fault.Shape.
const (
	ShapeOne            = "one"
	ShapeLeader         = "leader"
	ShapeHalves         = "halves"
	ShapeRandomHalves   = "random-halves"
	ShapeMinorityThird  = "minority-third"
	ShapeMajoritiesRing = "majorities-ring"
	ShapeBridge         = "bridge"
)

// PartitionShapes lists the partition shapes that make sense for a cluster of
// n nodes, in a fixed order. With fewer than two nodes nothing can be cut;
// majorities-ring needs at least three nodes (with two, both would see the
// same majority).
func PartitionShapes(n int) []string {
	if n < 2 {
		return nil
	}
	shapes := []string{ShapeOne, ShapeLeader, ShapeHalves, ShapeRandomHalves, ShapeMinorityThird}
	if n >= 3 {
		shapes = append(shapes, ShapeMajoritiesRing, ShapeBridge)
	}
	return shapes
}

// Complete builds the grudge in which every node drops traffic from every node
// outside its own component. Components are assumed disjoint; a node that
// appears in no component is left alone.
func Complete(components [][]string) map[string][]string {
	grudge := map[string][]string{}
	for i, component := range components {
		var others []string
		for j, other := range components {
			if j != i {
				others = append(others, other...)
			}
		}
		if len(others) == 0 {
			continue
		}
		for _, node := range component {
			grudge[node] = sortedSet(append(grudge[node], others...))
		}
	}
	return grudge
}

// One isolates a node chosen at random from the rest.
func One(nodes []string, rng *rand.Rand) map[string][]string {
	if len(nodes) < 2 {
		return map[string][]string{}
	}
	return Isolate(nodes, nodes[rng.IntN(len(nodes))])
}

// Isolate cuts node off from every other node in both directions. It is the
// leader shape once the leader is known.
func Isolate(nodes []string, node string) map[string][]string {
	return Complete([][]string{{node}, without(nodes, node)})
}

// Halves cuts the nodes, in the given order, into a first half of
// floor(n/2) nodes and the rest (for five nodes: the first two against the
// last three, as Jepsen's bisect).
func Halves(nodes []string) map[string][]string {
	first, rest := bisect(nodes)
	return Complete([][]string{first, rest})
}

// RandomHalves is Halves over a random permutation of the nodes.
func RandomHalves(nodes []string, rng *rand.Rand) map[string][]string {
	return Halves(shuffled(nodes, rng))
}

// MinorityThirdSize is the number of nodes the minority-third shape cuts off:
// about a third of n, at least one, and always a strict minority when n > 2.
func MinorityThirdSize(n int) int {
	size := min((n+2)/3, (n-1)/2)
	return max(size, 1)
}

// MinorityThird cuts a random minority of about a third of the nodes off from
// the rest.
func MinorityThird(nodes []string, rng *rand.Rand) map[string][]string {
	if len(nodes) < 2 {
		return map[string][]string{}
	}
	s := shuffled(nodes, rng)
	k := MinorityThirdSize(len(s))
	return Complete([][]string{s[:k], s[k:]})
}

// MajoritiesRing places the nodes on a random ring and lets each node hear
// only a window of its ring neighbours, so that every node sees a majority
// (itself included) and no two nodes see the same set. This is Jepsen's
// majorities-ring: every node can form a quorum, yet no two nodes agree on
// which one.
//
// Where it can, each node sees k neighbours on each side, which makes the
// grudge symmetric; with three nodes that window would cover everyone, so
// each node instead sees itself and the node before it (an asymmetric ring).
// With fewer than three nodes no such grudge exists and the result is empty.
func MajoritiesRing(nodes []string, rng *rand.Rand) map[string][]string {
	n := len(nodes)
	if n < 3 {
		return map[string][]string{}
	}
	ring := shuffled(nodes, rng)
	majority := n/2 + 1
	before, after := majority/2, majority/2 // a symmetric window of 2k+1 >= majority nodes
	if before+after+1 >= n {
		before, after = majority-1, 0
	}
	grudge := map[string][]string{}
	for i, node := range ring {
		seen := map[string]bool{}
		for d := -before; d <= after; d++ {
			seen[ring[((i+d)%n+n)%n]] = true
		}
		var drops []string
		for _, other := range ring {
			if !seen[other] {
				drops = append(drops, other)
			}
		}
		if len(drops) > 0 {
			grudge[node] = sortedSet(drops)
		}
	}
	return grudge
}

// Bridge splits a random permutation of the nodes into two halves and keeps
// one node, the first of the second half, connected to both: the halves drop
// each other's traffic but not the bridge's, and the bridge hears everyone.
// With five nodes each side of the bridge still sees a majority through it.
func Bridge(nodes []string, rng *rand.Rand) map[string][]string {
	if len(nodes) < 3 {
		return map[string][]string{}
	}
	first, rest := bisect(shuffled(nodes, rng))
	// rest[0] is the bridge: it belongs to no component, so it drops
	// nothing and nobody drops it.
	return Complete([][]string{first, rest[1:]})
}

// BridgeNode returns the node of a bridge grudge that every node hears and
// that hears every node, or "" if the grudge has no such node.
func BridgeNode(nodes []string, grudge map[string][]string) string {
	for _, node := range nodes {
		if len(grudge[node]) > 0 {
			continue
		}
		heard := true
		for _, drops := range grudge {
			if slices.Contains(drops, node) {
				heard = false
				break
			}
		}
		if heard {
			return node
		}
	}
	return ""
}

// Views returns, for each node, the sorted list of nodes it hears (itself
// included) under grudge.
func Views(nodes []string, grudge map[string][]string) map[string][]string {
	views := make(map[string][]string, len(nodes))
	for _, node := range nodes {
		var view []string
		for _, other := range nodes {
			if !slices.Contains(grudge[node], other) {
				view = append(view, other)
			}
		}
		views[node] = sortedSet(view)
	}
	return views
}

// Symmetric reports whether a drops b's traffic exactly when b drops a's.
func Symmetric(grudge map[string][]string) bool {
	for node, drops := range grudge {
		for _, other := range drops {
			if !slices.Contains(grudge[other], node) {
				return false
			}
		}
	}
	return true
}

// Invert turns a grudge (node -> nodes it drops traffic from) into the map
// node -> nodes that drop its traffic.
func Invert(grudge map[string][]string) map[string][]string {
	inverted := map[string][]string{}
	for node, drops := range grudge {
		for _, other := range drops {
			inverted[other] = append(inverted[other], node)
		}
	}
	for node, list := range inverted {
		inverted[node] = sortedSet(list)
	}
	return inverted
}

// bisect splits nodes into the first floor(n/2) and the rest.
func bisect(nodes []string) (first, rest []string) {
	half := len(nodes) / 2
	return slices.Clone(nodes[:half]), slices.Clone(nodes[half:])
}

func shuffled(nodes []string, rng *rand.Rand) []string {
	s := slices.Clone(nodes)
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

func without(nodes []string, drop ...string) []string {
	var out []string
	for _, node := range nodes {
		if !slices.Contains(drop, node) {
			out = append(out, node)
		}
	}
	return out
}

func sortedSet(list []string) []string {
	s := slices.Clone(list)
	slices.Sort(s)
	return slices.Compact(s)
}
