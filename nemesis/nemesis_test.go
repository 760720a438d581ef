package nemesis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nemesisOps returns the nemesis ops of h with the given f and type.
func nemesisOps(h history.History, f string, typ history.Type) []history.Op {
	var out []history.Op
	for _, op := range h {
		if op.IsNemesis() && op.F == f && op.Type == typ {
			out = append(out, op)
		}
	}
	return out
}

// requireHealedHistory asserts that h is well-formed and that every fault
// started was stopped.
func requireHealedHistory(t *testing.T, h history.History) {
	t.Helper()
	require.NoError(t, h.Validate())
	starts := nemesisOps(h, history.FStart, history.Invoke)
	stops := nemesisOps(h, history.FStop, history.Invoke)
	assert.Len(t, stops, len(starts), "every start needs a stop")
	for _, w := range h.FaultWindows() {
		assert.NotNil(t, w.StopOp, "fault %s started at op %d was never stopped", w.Kind, w.StartOp.Index)
	}
	for _, op := range h {
		require.True(t, op.IsNemesis())
		require.NotNil(t, op.Fault, "op %d", op.Index)
		assert.NotEmpty(t, op.Fault.Kind)
	}
}

// runUntil runs n until at least starts faults have started, cancels it and
// waits for Run to return.
func runUntil(t *testing.T, n *Nemesis, rec *history.Recorder, starts int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	require.Eventually(t, func() bool {
		return len(nemesisOps(rec.History(), history.FStart, history.Invoke)) >= starts
	}, 20*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

func TestRunThenHealAllLeavesACleanCluster(t *testing.T) {
	cases := append([][]string{AllKinds, Kinds}, [][]string{{KindPartition}, {KindKill}, {KindPause}, {KindClock}, {KindLoss}, {KindDelay}}...)
	for _, faults := range cases {
		t.Run(fmt.Sprint(faults), func(t *testing.T) {
			c := newMemCluster(5)
			c.netem = true
			rec := history.NewMemoryRecorder()
			n, err := New(c, rec, Options{Faults: faults, Interval: 2 * time.Millisecond, Seed: 3})
			require.NoError(t, err)
			n.newLeaderWait = 5 * time.Millisecond // nobody is ever elected here
			runUntil(t, n, rec, 12)

			require.NoError(t, n.HealAll(context.Background()))
			assert.Empty(t, c.dirt())
			assert.Empty(t, n.Active())
			h := rec.History()
			requireHealedHistory(t, h)
			for _, op := range h {
				if op.Type != history.Invoke {
					assert.Equal(t, history.OK, op.Type, "op %s", op)
				}
			}

			// HealAll again: nothing to stop, nothing recorded, still clean.
			require.NoError(t, n.HealAll(context.Background()))
			assert.Len(t, rec.History(), len(h))
			assert.Empty(t, c.dirt())
		})
	}
}

func TestHealAllDuringRun(t *testing.T) {
	for seed := range int64(10) {
		t.Run(strconv.FormatInt(seed, 10), func(t *testing.T) {
			c := newMemCluster(5)
			c.callDelay = 200 * time.Microsecond
			rec := history.NewMemoryRecorder()
			n, err := New(c, rec, Options{Faults: AllKinds, Interval: time.Millisecond, Seed: seed})
			require.NoError(t, err)

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- n.Run(ctx) }()
			require.Eventually(t, func() bool { return n.Active() != "" }, 10*time.Second, 10*time.Microsecond)

			// A HealAll in the middle of the schedule heals what is active;
			// Run carries on with the next fault.
			require.NoError(t, n.HealAll(context.Background()))
			require.Eventually(t, func() bool { return n.Active() != "" }, 10*time.Second, 10*time.Microsecond)

			// Cancel and heal at once, as the harness does on Ctrl-C: Run
			// may still be applying a fault when HealAll starts.
			cancel()
			var wg sync.WaitGroup
			var healErr error
			wg.Go(func() { healErr = n.HealAll(context.Background()) })
			wg.Wait()
			require.NoError(t, <-done)
			require.NoError(t, healErr)

			assert.Empty(t, c.dirt())
			assert.Empty(t, n.Active())
			requireHealedHistory(t, rec.History())
		})
	}
}

func TestRunFollowsTheSchedule(t *testing.T) {
	c := newMemCluster(5)
	rec := history.NewMemoryRecorder()
	n, err := New(c, rec, Options{Faults: AllKinds, Interval: time.Millisecond, Seed: 99})
	require.NoError(t, err)
	runUntil(t, n, rec, 20)
	require.NoError(t, n.HealAll(context.Background()))

	starts := nemesisOps(rec.History(), history.FStart, history.Invoke)
	plan := n.Schedule(len(starts))
	for i, op := range starts {
		want := plan[i].Fault
		assert.Equal(t, want.Kind, op.Fault.Kind, "fault %d", i)
		assert.Equal(t, want.Shape, op.Fault.Shape, "fault %d", i)
		assert.Equal(t, want.Action, op.Fault.Action, "fault %d", i)
		if want.Shape != ShapeLeader {
			assert.Equal(t, want.Targets, op.Fault.Targets, "fault %d", i)
			assert.Equal(t, want.Grudge, op.Fault.Grudge, "fault %d", i)
		}
	}
}

// newStepNemesis builds a nemesis whose faults the test starts and stops by
// hand, one step at a time.
func newStepNemesis(t *testing.T, c *memCluster, faults ...string) (*Nemesis, *history.Recorder) {
	t.Helper()
	rec := history.NewMemoryRecorder()
	n, err := New(c, rec, Options{Faults: faults, Interval: time.Second, Seed: 1})
	require.NoError(t, err)
	return n, rec
}

// lastCompletion returns the last nemesis completion with function f.
func lastCompletion(t *testing.T, rec *history.Recorder, f string) history.Op {
	t.Helper()
	h := rec.History()
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].F == f && h[i].Type != history.Invoke {
			return h[i]
		}
	}
	t.Fatalf("no %s completion in %v", f, h)
	return history.Op{}
}

func TestPartitionRecordsTheGrudgeItSets(t *testing.T) {
	c := newMemCluster(5)
	n, rec := newStepNemesis(t, c, KindPartition)
	ctx := context.Background()
	steps := n.Schedule(30)
	for _, step := range steps {
		seq, ok := n.start(ctx, step)
		require.True(t, ok)
		op := lastCompletion(t, rec, history.FStart)
		require.Equal(t, history.OK, op.Type)
		assert.Equal(t, c.grudges[len(c.grudges)-1], op.Fault.Grudge, "recorded grudge differs from the one set")
		assert.Contains(t, op.Fault.Params, "apply_ms")
		n.stop(ctx, seq)
		stop := lastCompletion(t, rec, history.FStop)
		assert.Equal(t, op.Fault.Grudge, stop.Fault.Grudge)
		assert.Contains(t, stop.Fault.Params, "heal_ms")
		assert.NotContains(t, stop.Fault.Params, "apply_ms")
		assert.Empty(t, c.dirt())
	}
	requireHealedHistory(t, rec.History())
}

func TestLeaderShapesResolveAtStart(t *testing.T) {
	for _, kind := range []string{KindPartition, KindKill, KindPause} {
		t.Run(kind, func(t *testing.T) {
			c := newMemCluster(5)
			c.leader = "n4"
			n, rec := newStepNemesis(t, c, kind)
			ctx := context.Background()
			step := Step{Fault: history.Fault{Kind: kind, Shape: ShapeLeader}, Fallback: "n2"}

			seq, _ := n.start(ctx, step)
			op := lastCompletion(t, rec, history.FStart)
			require.Equal(t, history.OK, op.Type, op.Error)
			assert.Equal(t, []string{"n4"}, op.Fault.Targets)
			switch kind {
			case KindPartition:
				assert.Equal(t, Isolate(c.nodes, "n4"), c.grudge)
				assert.Equal(t, c.grudge, op.Fault.Grudge)
			case KindKill:
				assert.Equal(t, []string{"killed n4"}, c.dirt())
			case KindPause:
				assert.Equal(t, []string{"paused n4"}, c.dirt())
			}
			n.stop(ctx, seq)
			assert.Empty(t, c.dirt())

			// No leader (n4 is killed by hand, as during an election): the
			// planned fallback is hit and the op says so.
			c.leader = ""
			n.start(ctx, step)
			op = lastCompletion(t, rec, history.FStart)
			assert.Equal(t, []string{"n2"}, op.Fault.Targets)
			assert.Equal(t, "true", op.Fault.Params["leader_unknown"])
			require.NoError(t, n.HealAll(ctx))
			assert.Empty(t, c.dirt())
			requireHealedHistory(t, rec.History())
		})
	}
}

func TestKillMeasuresRecovery(t *testing.T) {
	c := newMemCluster(5)
	n, rec := newStepNemesis(t, c, KindKill)
	ctx := context.Background()
	seq, _ := n.start(ctx, Step{Fault: history.Fault{Kind: KindKill, Shape: TargetAll, Targets: c.nodes}})
	assert.Len(t, c.dirt(), 5)
	start := lastCompletion(t, rec, history.FStart)
	for _, node := range c.nodes {
		assert.Contains(t, start.Fault.Params, "apply_ms."+node)
	}
	n.stop(ctx, seq)
	assert.Empty(t, c.dirt())
	stop := lastCompletion(t, rec, history.FStop)
	require.Equal(t, history.OK, stop.Type)
	assert.Contains(t, stop.Fault.Params, "recovery_ms")
	for _, node := range c.nodes {
		ms, err := strconv.ParseFloat(stop.Fault.Params["recovery_ms."+node], 64)
		require.NoError(t, err, "recovery_ms.%s", node)
		assert.GreaterOrEqual(t, ms, 0.0)
	}
}

func TestClockRecordsOffsetsAndResets(t *testing.T) {
	c := newMemCluster(3)
	n, rec := newStepNemesis(t, c, KindClock)
	ctx := context.Background()
	fault := history.Fault{Kind: KindClock, Action: ClockBump, Targets: []string{"n1", "n3"},
		Params: map[string]string{"delta_ms.n1": "-250", "delta_ms.n3": "90000"}}
	seq, _ := n.start(ctx, Step{Fault: fault})
	op := lastCompletion(t, rec, history.FStart)
	require.Equal(t, history.OK, op.Type, op.Error)
	assert.Equal(t, map[string]int64{"n1": -250, "n3": 90000}, op.Fault.ClockOffsetsMillis)
	assert.Equal(t, "clock bump n1,n3", n.Active())

	n.stop(ctx, seq)
	stop := lastCompletion(t, rec, history.FStop)
	assert.Equal(t, ClockReset, stop.Fault.Action)
	assert.Equal(t, map[string]int64{"n1": 0, "n3": 0}, stop.Fault.ClockOffsetsMillis)
	assert.Empty(t, c.dirt())
	assert.Empty(t, n.Active())

	// Rate skew is recorded and reset by HealAll on every node.
	n.start(ctx, Step{Fault: history.Fault{Kind: KindClock, Action: ClockRate, ClockRate: 2, Targets: []string{"n2"}}})
	assert.Equal(t, []string{"clock n2 rate 2"}, c.dirt())
	require.NoError(t, n.HealAll(ctx))
	assert.Empty(t, c.dirt())
	calls := c.callLog()
	for _, node := range c.nodes {
		assert.Contains(t, calls, "Clock "+node, "HealAll must reset every node's clock")
	}
	requireHealedHistory(t, rec.History())
}

func TestLossAppliesPercentBetweenChosenNodes(t *testing.T) {
	c := newMemCluster(5)
	n, rec := newStepNemesis(t, c, KindLoss)
	ctx := context.Background()
	grudge := Complete([][]string{{"n1"}, {"n2"}})
	seq, _ := n.start(ctx, Step{Fault: history.Fault{Kind: KindLoss, Shape: LinkPair, Targets: []string{"n1", "n2"}, Grudge: grudge, LossPercent: 60}})
	assert.Equal(t, map[string]map[string]float64{"n1": {"n2": 60}, "n2": {"n1": 60}}, c.loss)
	assert.Equal(t, "loss pair 60% n1,n2", n.Active())
	n.stop(ctx, seq)
	assert.Empty(t, c.dirt())
	requireHealedHistory(t, rec.History())
}

func TestFailedApplyIsInfoAndStillHealed(t *testing.T) {
	c := newMemCluster(5)
	n, rec := newStepNemesis(t, c, KindPartition, KindPause)
	ctx := context.Background()

	c.failOnce("SetGrudge")
	n.start(ctx, Step{Fault: history.Fault{Kind: KindPartition, Shape: ShapeHalves, Grudge: Halves(c.nodes)}})
	op := lastCompletion(t, rec, history.FStart)
	assert.Equal(t, history.Info, op.Type)
	assert.Contains(t, op.Error, "set grudge")

	require.NoError(t, n.HealAll(ctx))
	assert.Contains(t, c.callLog(), "HealNetwork ")

	// A pause that failed is resumed anyway; its resume error is not a
	// HealAll error, since the node was most likely never paused.
	c.failOnce("Pause")
	n.start(ctx, Step{Fault: history.Fault{Kind: KindPause, Shape: TargetOne, Targets: []string{"n3"}}})
	assert.Equal(t, history.Info, lastCompletion(t, rec, history.FStart).Type)
	require.NoError(t, n.HealAll(ctx))

	// A failed heal is reported; HealAll's sweep retries it at once, and
	// the next HealAll retries what is still left.
	n.start(ctx, Step{Fault: history.Fault{Kind: KindPause, Shape: TargetOne, Targets: []string{"n3"}}})
	c.failOnce("Resume")
	require.ErrorIs(t, n.HealAll(ctx), errInjected)
	assert.Equal(t, history.Info, lastCompletion(t, rec, history.FStop).Type)
	assert.Empty(t, c.dirt(), "the sweep retries the resume")

	n.start(ctx, Step{Fault: history.Fault{Kind: KindPause, Shape: TargetOne, Targets: []string{"n3"}}})
	c.failTimes("Resume", 2)
	require.ErrorIs(t, n.HealAll(ctx), errInjected)
	assert.Equal(t, []string{"paused n3"}, c.dirt())
	require.NoError(t, n.HealAll(ctx))
	assert.Empty(t, c.dirt())
	requireHealedHistory(t, rec.History())
}

func TestNewDelayNeedsNetem(t *testing.T) {
	c := newMemCluster(3)
	_, err := New(c, history.NewMemoryRecorder(), Options{Faults: []string{KindDelay}, Interval: time.Second})
	require.ErrorIs(t, err, ErrNoNetem)
	assert.Equal(t, "the kernel lacks netem: --nemesis delay cannot run here", err.Error())

	c.netem = true
	_, err = New(c, history.NewMemoryRecorder(), Options{Faults: []string{KindDelay}, Interval: time.Second})
	require.NoError(t, err)

	// A backend with netem but no way to delay cannot pretend to.
	_, err = New(struct{ Cluster }{c}, history.NewMemoryRecorder(), Options{Faults: []string{KindDelay}, Interval: time.Second})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot delay packets")
}

func TestNoFaults(t *testing.T) {
	c := newMemCluster(3)
	rec := history.NewMemoryRecorder()
	n, err := New(c, rec, Options{Faults: []string{}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, n.Run(ctx))
	require.NoError(t, n.HealAll(context.Background()))
	assert.Empty(t, c.callLog())
	assert.Empty(t, rec.History())
	assert.Empty(t, n.Schedule(10))
}

func TestStaleLeaderThawsTheOldLeaderCutOffFromTheNewOne(t *testing.T) {
	c := newMemCluster(5)
	c.leader, c.successor, c.electAfter = "n2", "n4", 6
	n, rec := newStepNemesis(t, c, KindStaleLeader)
	ctx := context.Background()
	step := n.Schedule(1)[0]
	require.Equal(t, ShapeLeader, step.Fault.Shape)
	require.Empty(t, step.Fault.Targets, "the leader is resolved at start")

	seq, _ := n.start(ctx, step)
	op := lastCompletion(t, rec, history.FStart)
	require.Equal(t, history.OK, op.Type, op.Error)
	// Frozen, then nobody sends to it; once n4 leads, only n4 stays silent
	// towards it, the two leaders are cut apart, and it is thawed.
	calls := c.callLog()
	pauseAt, resumeAt := slices.Index(calls, "Pause n2"), slices.Index(calls, "Resume n2")
	silenceAt := slices.Index(calls, "SetSilence ")
	require.True(t, pauseAt >= 0 && silenceAt > pauseAt && resumeAt > silenceAt, "freeze, silence, thaw: %v", calls)
	require.Len(t, c.silences, 2)
	assert.Equal(t, map[string][]string{"n1": {"n2"}, "n3": {"n2"}, "n4": {"n2"}, "n5": {"n2"}}, c.silences[0])
	assert.Equal(t, map[string][]string{"n4": {"n2"}}, c.silences[1])
	want := map[string][]string{"n2": {"n4"}, "n4": {"n2"}}
	assert.Equal(t, []map[string][]string{want}, c.grudges)
	assert.Equal(t, want, op.Fault.Grudge)
	assert.Empty(t, c.paused, "the old leader is thawed by the start")
	assert.Equal(t, []string{"n2", "n4"}, op.Fault.Targets)
	assert.Equal(t, "n4", op.Fault.Params["new_leader"])
	assert.Contains(t, op.Fault.Params, "new_leader_ms")
	assert.Contains(t, op.Fault.Params, "frozen_ms")
	assert.Equal(t, "stale-leader leader n2,n4", n.Active())

	n.stop(ctx, seq)
	assert.Empty(t, c.dirt())
	requireHealedHistory(t, rec.History())
}

func TestStaleLeaderWithoutElectionIsThawedAnyway(t *testing.T) {
	c := newMemCluster(3)
	c.leader = "n1"
	n, rec := newStepNemesis(t, c, KindStaleLeader)
	n.newLeaderWait = 100 * time.Millisecond
	ctx := context.Background()
	n.start(ctx, Step{Fault: history.Fault{Kind: KindStaleLeader, Shape: ShapeLeader}, Fallback: "n3"})
	op := lastCompletion(t, rec, history.FStart)
	require.Equal(t, history.OK, op.Type, op.Error)
	assert.Equal(t, "none", op.Fault.Params["new_leader"])
	assert.Contains(t, op.Fault.Params["new_leader_error"], "no new leader within 100ms")
	assert.Equal(t, map[string][]string{"n2": {"n1"}, "n3": {"n1"}}, c.silence, "thawed, its peers still silent")
	assert.Empty(t, c.paused)
	assert.Equal(t, []string{"n1"}, op.Fault.Targets)
	require.NoError(t, n.HealAll(ctx))
	assert.Empty(t, c.dirt())
	requireHealedHistory(t, rec.History())
}

func TestTargetedFaultFailedStepIsInfoAndHealed(t *testing.T) {
	for _, tt := range []struct{ kind, method, wantErr string }{
		{KindStaleLeader, "Pause", "pause n1"},
		{KindVoterCrash, "SetCrashPoint", "arm the after-vote crash point"},
		{KindFigure8, "SetGrudge", "cut n1 off"},
		{KindFigure8, "SetCrashPoint", "arm the after-vote crash point"},
	} {
		t.Run(tt.kind+" "+tt.method, func(t *testing.T) {
			c := newMemCluster(3)
			n, rec := newStepNemesis(t, c, tt.kind)
			c.failOnce(tt.method)
			ctx := context.Background()
			n.start(ctx, Step{Fault: history.Fault{Kind: tt.kind, Shape: ShapeLeader}, Fallback: "n3"})
			op := lastCompletion(t, rec, history.FStart)
			assert.Equal(t, history.Info, op.Type)
			assert.Contains(t, op.Error, tt.wantErr)
			require.NoError(t, n.HealAll(ctx))
			assert.Empty(t, c.dirt())
			requireHealedHistory(t, rec.History())
		})
	}
}

func TestTargetedFaultsNeedThreeNodes(t *testing.T) {
	for _, kind := range []string{KindStaleLeader, KindVoterCrash, KindFigure8} {
		_, err := New(newMemCluster(2), history.NewMemoryRecorder(), Options{Faults: []string{kind}, Interval: time.Second})
		require.ErrorContains(t, err, kind+" needs at least 3 nodes")
	}
}

func TestSkewedLeaderJumpsTheClockAfterTheCut(t *testing.T) {
	c := newMemCluster(3)
	c.leader, c.successor, c.electAfter = "n3", "n1", 2
	n, rec := newStepNemesis(t, c, KindSkewedLeader)
	ctx := context.Background()
	step := n.Schedule(1)[0]
	delta, err := strconv.ParseInt(step.Fault.Params["delta_ms"], 10, 64)
	require.NoError(t, err)
	require.LessOrEqual(t, delta, int64(-10_000), "the jump must dwarf any election timeout")

	seq, _ := n.start(ctx, step)
	op := lastCompletion(t, rec, history.FStart)
	require.Equal(t, history.OK, op.Type, op.Error)
	assert.Equal(t, Isolate(c.nodes, "n3"), c.grudge)
	assert.Equal(t, map[string]int64{"n3": delta}, op.Fault.ClockOffsetsMillis)
	calls := c.callLog()
	grudgeAt, clockAt := slices.Index(calls, "SetGrudge "), slices.Index(calls, "Clock n3")
	require.True(t, grudgeAt >= 0 && clockAt > grudgeAt, "cut first, then jump: %v", calls)
	assert.Equal(t, "n1", op.Fault.Params["new_leader"], "the fault holds from the election on")

	n.stop(ctx, seq)
	stop := lastCompletion(t, rec, history.FStop)
	require.Equal(t, history.OK, stop.Type, stop.Error)
	assert.Equal(t, map[string]int64{"n3": 0}, stop.Fault.ClockOffsetsMillis)
	assert.Empty(t, c.dirt())
	requireHealedHistory(t, rec.History())
}

func TestVoterCrashRestartsAllButTheWinnerCutOff(t *testing.T) {
	c := newMemCluster(3)
	c.leader, c.successor, c.electAfter = "n1", "n2", 4
	c.then, c.electEvery = []string{"n1"}, 3 // the old leader wins again
	n, rec := newStepNemesis(t, c, KindVoterCrash)
	ctx := context.Background()
	step := n.Schedule(1)[0]
	require.Equal(t, ShapeLeader, step.Fault.Shape)

	seq, _ := n.start(ctx, step)
	op := lastCompletion(t, rec, history.FStart)
	require.Equal(t, history.OK, op.Type, op.Error)
	calls := c.callLog()
	armN2, armN3 := slices.Index(calls, "SetCrashPoint n2 after-vote true"), slices.Index(calls, "SetCrashPoint n3 after-vote true")
	killOld, disarmWinner := slices.Index(calls, "Kill n1"), slices.Index(calls, "SetCrashPoint n2 after-vote false")
	killVoter, cut := slices.Index(calls, "Kill n3"), slices.Index(calls, "SetGrudge ")
	startOld, startVoter := slices.Index(calls, "Start n1"), slices.Index(calls, "Start n3")
	require.True(t, armN2 >= 0 && armN3 >= 0 && killOld > max(armN2, armN3), "arm the others, then kill the leader: %v", calls)
	require.True(t, disarmWinner > killOld && killVoter > killOld && cut > killVoter, "after the election: %v", calls)
	require.True(t, startVoter > cut && startOld > startVoter, "once the winner is cut off, the voter, then the old leader: %v", calls)
	assert.Equal(t, Isolate(c.nodes, "n2"), c.grudge)
	assert.Equal(t, op.Fault.Grudge, c.grudge)
	assert.Empty(t, c.killed, "old leader and voter restarted within the start")
	assert.Empty(t, c.armed, "the winner is disarmed, the others restarted clean")
	assert.Equal(t, []string{"n1", "n2"}, op.Fault.Targets)
	assert.Equal(t, "n2", op.Fault.Params["new_leader"])
	assert.Equal(t, "n3", op.Fault.Params["restarted"])
	assert.Contains(t, op.Fault.Params, "restart_ms.n1")
	assert.Contains(t, op.Fault.Params, "restart_ms.n3")
	assert.Equal(t, "n1", op.Fault.Params["next_leader"], "the start lasts until the election it sets up")
	assert.Contains(t, op.Fault.Params, "next_leader_ms")
	assert.Equal(t, "voter-crash leader n1,n2", n.Active())

	n.stop(ctx, seq)
	require.Equal(t, history.OK, lastCompletion(t, rec, history.FStop).Type)
	assert.Empty(t, c.dirt())
	requireHealedHistory(t, rec.History())
}

func TestFigure8CutsLeaderThenWinnerAndKeepsCrashedLeaderDown(t *testing.T) {
	c := newMemCluster(3)
	c.leader, c.successor, c.electAfter = "n1", "n2", 4
	c.then, c.electEvery = []string{"n1", "n3"}, 3 // n1 leads again (and crashes), then n3
	n, rec := newStepNemesis(t, c, KindFigure8)
	ctx := context.Background()
	step := n.Schedule(1)[0]
	require.Equal(t, ShapeLeader, step.Fault.Shape)

	seq, _ := n.start(ctx, step)
	op := lastCompletion(t, rec, history.FStart)
	require.Equal(t, history.OK, op.Type, op.Error)
	calls := c.callLog()
	at := func(call string) int {
		i := slices.Index(calls, call)
		require.GreaterOrEqual(t, i, 0, "no %q in %v", call, calls)
		return i
	}
	arm := max(at("SetCrashPoint n2 after-vote true"), at("SetCrashPoint n3 after-vote true"))
	grudges := c.grudges
	require.Len(t, grudges, 2)
	assert.Equal(t, Isolate(c.nodes, "n1"), grudges[0], "the leader cut off first")
	assert.Equal(t, Isolate(c.nodes, "n2"), grudges[1], "then the winner")
	cutOld := at("SetGrudge ")
	disarmWinner, killVoter := at("SetCrashPoint n2 after-vote false"), at("Kill n3")
	armOld, startVoter := at("SetCrashPoint n1 after-commit true"), at("Start n3")
	killOld, heal := at("Kill n1"), at("HealNetwork ")
	require.True(t, arm > cutOld && disarmWinner > arm && killVoter > arm, "cut the leader, arm, then act on the election: %v", calls)
	require.True(t, armOld > killVoter && startVoter > armOld, "the old leader armed before the voter is back: %v", calls)
	require.True(t, killOld > startVoter && heal > killOld, "the network heals once the old leader is down: %v", calls)
	assert.Empty(t, c.grudge)
	assert.Equal(t, map[string]bool{"n1": true}, c.killed, "the crashed leader stays down until the heal")
	assert.Empty(t, c.armed)
	assert.Equal(t, []string{"n1", "n2"}, op.Fault.Targets)
	assert.Equal(t, "n2", op.Fault.Params["new_leader"])
	assert.Equal(t, "n3", op.Fault.Params["restarted"])
	assert.NotEqual(t, "none", op.Fault.Params["crashed_after_commit_ms"])
	assert.Equal(t, "n3", op.Fault.Params["last_leader"])
	assert.Equal(t, "figure-8 leader n1,n2", n.Active())

	n.stop(ctx, seq)
	require.Equal(t, history.OK, lastCompletion(t, rec, history.FStop).Type)
	assert.Empty(t, c.dirt())
	requireHealedHistory(t, rec.History())
}

func TestFigure8WithoutCrashDisarmsTheOldLeader(t *testing.T) {
	c := newMemCluster(3)
	c.leader, c.successor, c.electAfter = "n1", "n2", 2
	c.then, c.electEvery = []string{"n3"}, 2 // n1 never leads again
	n, rec := newStepNemesis(t, c, KindFigure8)
	n.newLeaderWait = 200 * time.Millisecond
	ctx := context.Background()
	n.start(ctx, Step{Fault: history.Fault{Kind: KindFigure8, Shape: ShapeLeader}, Fallback: "n3"})
	op := lastCompletion(t, rec, history.FStart)
	require.Equal(t, history.OK, op.Type, op.Error)
	assert.Equal(t, "none", op.Fault.Params["crashed_after_commit_ms"])
	assert.Empty(t, c.killed)
	assert.Empty(t, c.armed)
	assert.Empty(t, c.grudge)
	require.NoError(t, n.HealAll(ctx))
	assert.Empty(t, c.dirt())
	requireHealedHistory(t, rec.History())
}

func TestCrashFaultHealRestartsAVoterThatExitedDuringAFailedStart(t *testing.T) {
	// The step after arming fails: killing the leader, or cutting it off.
	for kind, method := range map[string]string{KindVoterCrash: "Kill", KindFigure8: "SetGrudge"} {
		t.Run(kind, func(t *testing.T) {
			c := newMemCluster(3)
			c.exitOnArm = "n2"
			n, rec := newStepNemesis(t, c, kind)
			c.failOnce(method)
			ctx := context.Background()
			n.start(ctx, Step{Fault: history.Fault{Kind: kind, Shape: ShapeLeader}, Fallback: "n3"})
			require.Equal(t, history.Info, lastCompletion(t, rec, history.FStart).Type)
			require.NoError(t, n.HealAll(ctx))
			assert.Empty(t, c.dirt(), "n2 exited at its crash point while the start failed")
			requireHealedHistory(t, rec.History())
		})
	}
}

func TestVoterCrashWithoutElectionRestartsEveryoneDisarmed(t *testing.T) {
	c := newMemCluster(3)
	n, rec := newStepNemesis(t, c, KindVoterCrash)
	n.newLeaderWait = 100 * time.Millisecond
	ctx := context.Background()
	n.start(ctx, Step{Fault: history.Fault{Kind: KindVoterCrash, Shape: ShapeLeader}, Fallback: "n3"})
	op := lastCompletion(t, rec, history.FStart)
	require.Equal(t, history.OK, op.Type, op.Error)
	assert.Equal(t, "none", op.Fault.Params["new_leader"])
	assert.Empty(t, c.killed)
	assert.Empty(t, c.armed)
	require.NoError(t, n.HealAll(ctx))
	assert.Empty(t, c.dirt())
	requireHealedHistory(t, rec.History())
}
