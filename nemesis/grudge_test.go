package nemesis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func nodeNames(n int) []string {
	nodes := make([]string, n)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("n%d", i+1)
	}
	return nodes
}

func sizes() []int { return []int{3, 5, 7} }

// seeds are enough draws to cover the random choices of each shape.
const seeds = 50

func testRand(seed int) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 1)) }

// components groups nodes by the view they have; for a grudge built by
// Complete, these are the components.
func components(nodes []string, grudge map[string][]string) [][]string {
	byView := map[string][]string{}
	for node, view := range Views(nodes, grudge) {
		byView[strings.Join(view, ",")] = append(byView[strings.Join(view, ",")], node)
	}
	var out [][]string
	for _, c := range byView {
		out = append(out, sortedSet(c))
	}
	slices.SortFunc(out, func(a, b []string) int { return len(a) - len(b) })
	return out
}

// assertNoSelfGrudge checks that no node drops its own traffic and that only
// cluster nodes appear.
func assertWellFormed(t *testing.T, nodes []string, grudge map[string][]string) {
	t.Helper()
	for node, drops := range grudge {
		assert.Contains(t, nodes, node)
		assert.NotContains(t, drops, node, "%s drops itself", node)
		assert.NotEmpty(t, drops, "%s maps to nothing: it should be left out", node)
		assert.True(t, slices.IsSorted(drops))
		for _, d := range drops {
			assert.Contains(t, nodes, d)
		}
	}
}

func TestComplete(t *testing.T) {
	tests := []struct {
		name       string
		components [][]string
		want       map[string][]string
	}{
		{"two sides", [][]string{{"a"}, {"b", "c"}}, map[string][]string{"a": {"b", "c"}, "b": {"a"}, "c": {"a"}}},
		{"three sides", [][]string{{"a"}, {"b"}, {"c"}}, map[string][]string{"a": {"b", "c"}, "b": {"a", "c"}, "c": {"a", "b"}}},
		{"one component cuts nothing", [][]string{{"a", "b"}}, map[string][]string{}},
		{"node outside every component is untouched", [][]string{{"a"}, {"b"}}, map[string][]string{"a": {"b"}, "b": {"a"}}},
		{"empty", nil, map[string][]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Complete(tt.components))
		})
	}
}

func TestGrudgeShapes(t *testing.T) {
	type check func(t *testing.T, nodes []string, grudge map[string][]string)
	// cut asserts the grudge is a symmetric two-way split with a side of
	// wantSmall nodes.
	cut := func(wantSmall func(n int) int) check {
		return func(t *testing.T, nodes []string, grudge map[string][]string) {
			assert.True(t, Symmetric(grudge), "grudge %v", grudge)
			cs := components(nodes, grudge)
			require.Len(t, cs, 2, "components of %v", grudge)
			assert.Len(t, cs[0], wantSmall(len(nodes)))
			assert.Len(t, cs[1], len(nodes)-wantSmall(len(nodes)))
			for _, a := range cs[0] {
				assert.ElementsMatch(t, cs[1], grudge[a], "%s must drop exactly the other side", a)
			}
		}
	}
	tests := []struct {
		shape string
		make  func(nodes []string, rng *rand.Rand) map[string][]string
		check check
	}{
		{ShapeOne, One, cut(func(int) int { return 1 })},
		{ShapeLeader, func(nodes []string, _ *rand.Rand) map[string][]string { return Isolate(nodes, nodes[1]) },
			func(t *testing.T, nodes []string, grudge map[string][]string) {
				cut(func(int) int { return 1 })(t, nodes, grudge)
				assert.ElementsMatch(t, without(nodes, nodes[1]), grudge[nodes[1]])
			}},
		{ShapeHalves, func(nodes []string, _ *rand.Rand) map[string][]string { return Halves(nodes) },
			func(t *testing.T, nodes []string, grudge map[string][]string) {
				cut(func(n int) int { return n / 2 })(t, nodes, grudge)
				// The first half, in order, is the smaller side.
				assert.ElementsMatch(t, nodes[len(nodes)/2:], grudge[nodes[0]])
			}},
		{ShapeRandomHalves, RandomHalves, cut(func(n int) int { return n / 2 })},
		{ShapeMinorityThird, MinorityThird, cut(MinorityThirdSize)},
		{ShapeMajoritiesRing, MajoritiesRing, func(t *testing.T, nodes []string, grudge map[string][]string) {
			views := Views(nodes, grudge)
			seen := map[string]string{}
			for _, node := range nodes {
				view := views[node]
				assert.Contains(t, view, node)
				assert.Greater(t, len(view), len(nodes)/2, "%s sees %v: not a majority", node, view)
				assert.Less(t, len(view), len(nodes), "%s sees everyone", node)
				key := strings.Join(view, ",")
				assert.NotContains(t, seen, key, "%s and %s have the same view %v", node, seen[key], view)
				seen[key] = node
			}
			if len(nodes) >= 5 {
				assert.True(t, Symmetric(grudge), "ring of %d should be symmetric: %v", len(nodes), grudge)
			}
		}},
		{ShapeBridge, Bridge, func(t *testing.T, nodes []string, grudge map[string][]string) {
			assert.True(t, Symmetric(grudge))
			bridge := BridgeNode(nodes, grudge)
			require.NotEmpty(t, bridge, "no bridge node in %v", grudge)
			views := Views(nodes, grudge)
			assert.ElementsMatch(t, nodes, views[bridge], "the bridge sees everyone")
			// Exactly one node sees both halves; the rest split in two.
			var seesAll []string
			for _, node := range nodes {
				if len(views[node]) == len(nodes) {
					seesAll = append(seesAll, node)
				}
			}
			assert.Equal(t, []string{bridge}, seesAll)
			sides := components(without(nodes, bridge), grudge)
			require.Len(t, sides, 2)
			assert.Len(t, sides[0], len(nodes)/2)
			for _, a := range sides[0] {
				for _, b := range sides[1] {
					assert.Contains(t, grudge[a], b)
					assert.Contains(t, grudge[b], a)
				}
			}
		}},
	}
	for _, tt := range tests {
		for _, n := range sizes() {
			t.Run(fmt.Sprintf("%s/%d", tt.shape, n), func(t *testing.T) {
				nodes := nodeNames(n)
				assert.Contains(t, PartitionShapes(n), tt.shape)
				for seed := range seeds {
					grudge := tt.make(nodes, testRand(seed))
					assertWellFormed(t, nodes, grudge)
					tt.check(t, nodes, grudge)
					assert.Equal(t, grudge, tt.make(nodes, testRand(seed)), "not a pure function of the rand")
				}
			})
		}
	}
}

func TestShapesAreRandomized(t *testing.T) {
	nodes := nodeNames(5)
	for name, shape := range map[string]func([]string, *rand.Rand) map[string][]string{
		ShapeOne: One, ShapeRandomHalves: RandomHalves, ShapeMinorityThird: MinorityThird,
		ShapeMajoritiesRing: MajoritiesRing, ShapeBridge: Bridge,
	} {
		distinct := map[string]bool{}
		for seed := range seeds {
			distinct[fmt.Sprint(shape(nodes, testRand(seed)))] = true
		}
		assert.Greater(t, len(distinct), 2, "%s gave %d distinct grudges in %d seeds", name, len(distinct), seeds)
	}
}

func TestMinorityThirdSize(t *testing.T) {
	for n, want := range map[int]int{2: 1, 3: 1, 4: 1, 5: 2, 6: 2, 7: 3, 9: 3, 10: 4} {
		assert.Equal(t, want, MinorityThirdSize(n), "n=%d", n)
		assert.Less(t, MinorityThirdSize(n), n)
	}
}

func TestSmallClusters(t *testing.T) {
	rng := testRand(1)
	assert.Empty(t, One([]string{"a"}, rng))
	assert.Empty(t, MajoritiesRing([]string{"a", "b"}, rng))
	assert.Empty(t, Bridge([]string{"a", "b"}, rng))
	assert.Nil(t, PartitionShapes(1))
	assert.NotContains(t, PartitionShapes(2), ShapeMajoritiesRing)
	assert.Equal(t, map[string][]string{"a": {"b"}, "b": {"a"}}, One([]string{"a", "b"}, rng))
}

func TestInvertAndSymmetric(t *testing.T) {
	oneWay := map[string][]string{"a": {"b", "c"}}
	assert.False(t, Symmetric(oneWay))
	assert.Equal(t, map[string][]string{"b": {"a"}, "c": {"a"}}, Invert(oneWay))
	assert.True(t, Symmetric(Halves(nodeNames(4))))
}
