package nemesis

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

func TestPlanDiskLoss(t *testing.T) {
	for _, size := range []int{3, 5} {
		steps, err := Schedule(nodeNames(size), Options{Faults: []string{KindDiskLoss}, Interval: time.Second, Seed: 7}, 200)
		require.NoError(t, err)
		actions := map[string]int{}
		for _, s := range steps {
			f := s.Fault
			actions[f.Action]++
			assert.LessOrEqual(t, len(f.Targets), (size-1)/2, "a majority keeps its disks: %+v", f)
			assert.NotEmpty(t, f.Targets)
			if f.Action == DiskTornTail {
				assert.NotEmpty(t, f.Params["cut_bytes"])
			}
		}
		assert.Positive(t, actions[DiskWipe], "size %d", size)
		assert.Positive(t, actions[DiskTornTail], "size %d", size)
	}
	_, err := Schedule(nodeNames(2), Options{Faults: []string{KindDiskLoss}, Interval: time.Second}, 1)
	assert.ErrorContains(t, err, "needs at least 3 nodes")
}

// TestDiskLossKeepsAMajority: nodes still recovering from an earlier loss
// count against the minority, so a fault never leaves a majority without its
// disks; the heal measures each target's catch-up and notes one that never
// catches up.
func TestDiskLossKeepsAMajority(t *testing.T) {
	for _, tc := range []struct {
		name        string
		stuck       []string // recovering for ever before the fault
		targets     []string
		wantTargets []string
		wantSkipped string
	}{
		{"minority, none recovering", nil, []string{"n2", "n4"}, []string{"n2", "n4"}, ""},
		{"one still recovering", []string{"n5"}, []string{"n2", "n4"}, []string{"n2"}, "n4"},
		{"minority still recovering", []string{"n1", "n5"}, []string{"n3"}, nil, "n3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newMemCluster(5)
			for _, node := range tc.stuck {
				c.recovering[node] = -1
			}
			n, err := New(c, &history.Recorder{}, Options{Faults: []string{KindDiskLoss}, Interval: time.Second})
			require.NoError(t, err)
			fault := history.Fault{Kind: KindDiskLoss, Action: DiskWipe, Targets: tc.targets, Params: map[string]string{}}
			ctx := context.Background()
			require.NoError(t, n.apply(ctx, &fault))
			assert.Equal(t, tc.wantTargets, fault.Targets)
			assert.Equal(t, tc.wantSkipped, fault.Params["skipped"])
			assert.Len(t, c.diskLosses, len(tc.wantTargets))
			for _, node := range tc.wantTargets {
				assert.False(t, c.killed[node], "%s restarted", node)
			}
			require.NoError(t, n.heal(ctx, &fault))
			for _, node := range tc.wantTargets {
				assert.NotEmpty(t, fault.Params["recovery_ms."+node], node)
				assert.Empty(t, fault.Params["caught_up."+node], node)
			}
		})
	}
}

func TestDiskLossHealNotesANodeThatNeverCatchesUp(t *testing.T) {
	c := newMemCluster(3)
	n, err := New(c, &history.Recorder{}, Options{Faults: []string{KindDiskLoss}, Interval: time.Second})
	require.NoError(t, err)
	fault := history.Fault{Kind: KindDiskLoss, Action: DiskTornTail, Targets: []string{"n2"}, Params: map[string]string{"cut_bytes": "100"}}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	require.NoError(t, n.apply(ctx, &fault))
	assert.Equal(t, []string{"n2 torn-tail 100"}, c.diskLosses)
	c.mu.Lock()
	c.recovering["n2"] = -1
	c.mu.Unlock()
	require.NoError(t, n.heal(ctx, &fault)) // ends at the context's deadline
	assert.Equal(t, "false", fault.Params["caught_up.n2"])
	assert.Empty(t, fault.Params["recovery_ms"])
}
