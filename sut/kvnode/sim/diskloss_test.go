package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
)

func TestKeepMajorityDisks(t *testing.T) {
	tests := []struct {
		name        string
		nodes       int
		recovering  []string
		drawn       []string
		wantKept    []string
		wantSkipped []string
	}{
		{"one of five", 5, nil, []string{"n1"}, []string{"n1"}, nil},
		{"a minority of five", 5, nil, []string{"n1", "n2"}, []string{"n1", "n2"}, nil},
		{"one of five still recovering", 5, []string{"n3"}, []string{"n1", "n2"}, []string{"n1"}, []string{"n2"}},
		{"the recovering node is not taken again", 5, []string{"n1"}, []string{"n1"}, nil, []string{"n1"}},
		{"a minority of five recovering", 5, []string{"n3", "n4"}, []string{"n1"}, nil, []string{"n1"}},
		{"one of three", 3, nil, []string{"n2"}, []string{"n2"}, nil},
		{"one of three recovering", 3, []string{"n1"}, []string{"n2"}, nil, []string{"n2"}},
		{"two nodes have no minority to lose", 2, nil, []string{"n1"}, nil, []string{"n1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kept, skipped := keepMajorityDisks(tt.nodes, tt.recovering, tt.drawn)
			assert.Equal(t, tt.wantKept, kept)
			assert.Equal(t, tt.wantSkipped, skipped)
		})
	}
}

// TestDiskLossRejoins: disk-loss faults of both actions happen in runs and
// are healed, every node that lost its disk caught up before the heal
// ended (recovery_ms.<node>, no caught_up.<node> = false), never more than
// a minority at once, and the runs are valid. Three-node clusters are in
// the table for the smallest minority.
func TestDiskLossRejoins(t *testing.T) {
	tests := []struct {
		nodes int
		seeds int64
	}{
		{nodes: 5, seeds: 4},
		{nodes: 3, seeds: 2},
	}
	actions := map[string]int{}
	for _, tt := range tests {
		for seed := range tt.seeds {
			res, err := Run(Config{Seed: seed, Nodes: tt.nodes, Duration: 10 * time.Second, Faults: []string{FaultDiskLoss}})
			require.NoError(t, err, "seed %d", seed)
			require.NoError(t, res.History.Validate())
			require.Equal(t, checker.Valid, res.Results.Verdict, "%d nodes, seed %d: %s", tt.nodes, seed, res.Results.Reason)
			var starts, stops int
			for _, op := range res.History {
				if !op.IsNemesis() || op.Type != history.OK || op.Fault.Kind != nemesis.KindDiskLoss {
					continue
				}
				f := op.Fault
				assert.LessOrEqual(t, len(f.Targets), (tt.nodes-1)/2, "a majority keeps its disks")
				if op.F == history.FStart {
					starts++
					actions[f.Action]++
					continue
				}
				stops++
				for _, n := range f.Targets {
					assert.Contains(t, f.Params, "recovery_ms."+n, "seed %d: %s caught up", seed, n)
					assert.NotContains(t, f.Params, "caught_up."+n)
				}
			}
			assert.Positive(t, starts, "%d nodes, seed %d", tt.nodes, seed)
			assert.Equal(t, starts, stops, "every disk loss healed")
		}
	}
	assert.Positive(t, actions[nemesis.DiskWipe])
	assert.Positive(t, actions[nemesis.DiskTornTail])
}

// TestMayTearWrites: a power cut keeps a torn write (which makes kvnode
// restart recovering) only while that leaves a majority of nodes that hold
// what they acknowledged.
func TestMayTearWrites(t *testing.T) {
	tests := []struct {
		name  string
		nodes int
		lost  []int // indexes of the nodes that lost their disk
		cut   int   // index of the node whose power is cut
		want  bool
	}{
		{"three nodes, none lost", 3, nil, 0, true},
		{"three nodes, another lost", 3, []int{1}, 0, false},
		{"three nodes, the cut node itself lost", 3, []int{0}, 0, true},
		{"five nodes, another lost", 5, []int{1}, 0, true},
		{"five nodes, two others lost", 5, []int{1, 2}, 0, false},
		{"one node has no minority", 1, nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &world{}
			for range tt.nodes {
				w.nodes = append(w.nodes, &node{w: w}) // down: no process
			}
			for _, i := range tt.lost {
				w.nodes[i].diskLost = true
			}
			assert.Equal(t, tt.want, w.mayTearWrites(w.nodes[tt.cut]))
		})
	}
}

// TestLateDiskLossGetsTheWholeWait: a node that lost its disk near the end
// of the main phase gets the heal's whole catch-up wait before the final
// reads begin. Seed 4738581182153 (set) wipes n2 at 26 s in a
// configuration that ships one entry per round trip, under delay and loss
// faults: it caught up 30 ms after the final reads used to begin, and the
// run was judged invalid for a node that never rejoined. The clients keep
// the short ids that seed ran with before the id length was drawn.
func TestLateDiskLossGetsTheWholeWait(t *testing.T) {
	res, err := Run(Config{Seed: 4738581182153, Workload: "set", Faults: FaultKinds(), Explore: true, ClientIDBytes: 1})
	require.NoError(t, err)
	require.Equal(t, checker.Valid, res.Results.Verdict, res.Results.Reason)
	var stop, firstFinal int64 = -1, -1
	for _, op := range res.History {
		if f := op.Fault; f != nil && f.Kind == FaultDiskLoss && op.F == history.FStop && slices.Contains(f.Targets, "n2") {
			stop = op.Time
			assert.NotEqual(t, "false", f.Params["caught_up.n2"])
		}
		if op.Final && firstFinal < 0 {
			firstFinal = op.Time
		}
	}
	require.Positive(t, stop, "n2's disk loss healed")
	assert.Less(t, stop, firstFinal, "the final reads begin after the heal")
}
