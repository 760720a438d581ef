package nemesis

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFaults(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "none", want: []string{}},
		{in: "", want: []string{}},
		{in: "partition", want: []string{KindPartition}},
		{in: "kill,partition", want: []string{KindPartition, KindKill}},
		{in: " pause , clock ", want: []string{KindPause, KindClock}},
		{in: "loss,loss", want: []string{KindLoss}},
		{in: "all", want: []string{KindPartition, KindKill, KindPause, KindClock, KindLoss, KindDiskLoss}},
		{in: "all,delay", want: []string{KindPartition, KindKill, KindPause, KindClock, KindLoss, KindDiskLoss, KindDelay}},
		{in: "delay", want: []string{KindDelay}},
		{in: "Partition,KILL", want: []string{KindPartition, KindKill}},
		{in: "partiton", wantErr: `unknown fault "partiton"; valid: partition, kill, pause, clock, loss, disk-loss, delay, stale-leader, skewed-leader, voter-crash, figure-8, all, none`},
		{in: "kill,", wantErr: `unknown fault ""`},
		{in: "none,kill", wantErr: "none cannot be combined"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFaults(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func scheduleOptions(seed int64) Options {
	return Options{Faults: AllKinds, Interval: 10 * time.Second, Seed: seed}
}

func TestScheduleDeterministic(t *testing.T) {
	nodes := nodeNames(5)
	a, err := Schedule(nodes, scheduleOptions(42), 100)
	require.NoError(t, err)
	b, err := Schedule(nodes, scheduleOptions(42), 100)
	require.NoError(t, err)
	assert.Equal(t, a, b, "same seed, different schedule")

	c, err := Schedule(nodes, scheduleOptions(43), 100)
	require.NoError(t, err)
	assert.NotEqual(t, a, c, "different seeds, same schedule")

	// A prefix is the same whatever count is asked for.
	prefix, err := Schedule(nodes, scheduleOptions(42), 10)
	require.NoError(t, err)
	assert.Equal(t, a[:10], prefix)
}

func TestScheduleCoversEveryKindAndShape(t *testing.T) {
	nodes := nodeNames(5)
	opts := scheduleOptions(7)
	opts.Faults = Kinds
	steps, err := Schedule(nodes, opts, 1000)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, s := range steps {
		f := s.Fault
		seen[f.Kind] = true
		seen[f.Kind+"/"+f.Shape+f.Action] = true
		assert.GreaterOrEqual(t, s.Quiet, opts.Interval/4)
		assert.Less(t, s.Quiet, opts.Interval*3/4)
		assert.GreaterOrEqual(t, s.Hold, opts.Interval/4)
		assert.Less(t, s.Hold, opts.Interval*3/4)
		assert.Contains(t, nodes, s.Fallback)
		if f.Shape == ShapeLeader {
			assert.Empty(t, f.Targets, "leader targets are resolved at start time")
			continue
		}
		assert.NotEmpty(t, f.Targets, "step %+v", s)
		assert.True(t, slices.IsSorted(f.Targets))
		switch f.Kind {
		case KindPartition, KindLoss, KindDelay:
			assert.NotEmpty(t, f.Grudge)
			assertWellFormed(t, nodes, f.Grudge)
		case KindKill:
			want := map[string]int{TargetOne: 1, TargetMinority: 2, TargetMajority: 3, TargetAll: 5}[f.Shape]
			assert.Len(t, f.Targets, want, "kill %s", f.Shape)
		case KindPause:
			assert.NotEqual(t, TargetAll, f.Shape)
			assert.NotEqual(t, TargetMajority, f.Shape)
		case KindClock:
			switch f.Action {
			case ClockBump:
				for _, node := range f.Targets {
					delta, err := strconv.ParseInt(f.Params["delta_ms."+node], 10, 64)
					require.NoError(t, err)
					assert.GreaterOrEqual(t, max(delta, -delta), int64(11))
					assert.LessOrEqual(t, max(delta, -delta), int64(300_000))
				}
			case ClockStrobe:
				assert.Equal(t, strconv.FormatInt(s.Hold.Milliseconds(), 10), f.Params["duration_ms"])
			case ClockRate:
				assert.Contains(t, clockRates, f.ClockRate)
			}
		}
		if f.Kind == KindLoss {
			assert.Contains(t, lossPercents, f.LossPercent)
		}
	}
	for _, k := range Kinds {
		assert.True(t, seen[k], "kind %s never drawn", k)
	}
	for _, shape := range PartitionShapes(5) {
		assert.True(t, seen[KindPartition+"/"+shape], "partition shape %s never drawn", shape)
	}
	for _, shape := range killShapes {
		assert.True(t, seen[KindKill+"/"+shape], "kill shape %s never drawn", shape)
	}
	for _, action := range clockActions {
		assert.True(t, seen[KindClock+"/"+action], "clock action %s never drawn", action)
	}
}

func TestScheduleOnlyEnabledKinds(t *testing.T) {
	for _, kind := range Kinds {
		opts := scheduleOptions(1)
		opts.Faults = []string{kind}
		steps, err := Schedule(nodeNames(3), opts, 50)
		require.NoError(t, err)
		for _, s := range steps {
			assert.Equal(t, kind, s.Fault.Kind)
		}
	}
}

func TestScheduleRejectsBadOptions(t *testing.T) {
	tests := []struct {
		nodes   []string
		opts    Options
		wantErr string
	}{
		{nil, scheduleOptions(1), "no nodes"},
		{nodeNames(3), Options{Faults: []string{"flood"}, Interval: time.Second}, `unknown fault "flood"`},
		{nodeNames(3), Options{Faults: []string{KindKill}}, "interval must be positive"},
		{nodeNames(1), Options{Faults: []string{KindPartition}, Interval: time.Second}, "partition needs at least 2 nodes"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, err := Schedule(tt.nodes, tt.opts, 1)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
