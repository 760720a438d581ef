//go:build docker

package nemesis

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/docker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/sut"
	"github.com/faultline/faultline/sut/kvnode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests inject each fault through the nemesis into real node
// containers and assert its effect from inside the cluster network (a TCP
// connection attempted in a node's network namespace) or from the node's own
// /status, not only that a call returned. Run with: go test -tags docker ./nemesis/

const connectTimeout = 2 * time.Second

func newDockerCluster(t *testing.T, nodes int) *docker.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := docker.Available(ctx); err != nil {
		t.Skipf("no Docker engine: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	began := time.Now()
	image, err := kvnode.BuildImage(ctx, docker.ImageOptions{Logger: logger})
	require.NoError(t, err)
	t.Logf("image %s ready in %s", image, time.Since(began).Round(time.Millisecond))
	c, err := docker.NewCluster(docker.ClusterOptions{Node: kvnodeSpec(t),
		RunID: fmt.Sprintf("nemesis-test-%d", time.Now().UnixNano()), Nodes: nodes, Image: image, Logger: logger,
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Teardown(context.Background())) })
	began = time.Now()
	require.NoError(t, c.Setup(ctx))
	t.Logf("%d-node cluster serving in %s", nodes, time.Since(began).Round(time.Millisecond))
	return c
}

func reaches(t *testing.T, c *docker.Cluster, from, to string) bool {
	t.Helper()
	ok, err := c.CanConnect(context.Background(), from, to, kvnode.PeerPort, connectTimeout)
	require.NoError(t, err, "connect %s -> %s", from, to)
	return ok
}

func requireAllPairsReach(t *testing.T, c *docker.Cluster) {
	t.Helper()
	for _, a := range c.Nodes() {
		for _, b := range c.Nodes() {
			if a != b {
				assert.True(t, reaches(t, c, a, b), "%s cannot reach %s after heal", a, b)
			}
		}
	}
}

// timings logs the apply and heal times the nemesis measured.
func timings(t *testing.T, rec *history.Recorder) {
	for _, op := range rec.History() {
		if op.Type == history.Invoke || op.Fault == nil {
			continue
		}
		p := op.Fault.Params
		t.Logf("%s %s: %s apply_ms=%s heal_ms=%s recovery_ms=%s", op.F, describe(*op.Fault), op.Type,
			p["apply_ms"], p["heal_ms"], p["recovery_ms"])
	}
}

func TestDockerFaults(t *testing.T) {
	c := newDockerCluster(t, 5)
	rec := history.NewMemoryRecorder()
	n, err := New(c, rec, Options{Faults: AllKinds, Interval: time.Second, Seed: 1})
	require.NoError(t, err)
	ctx := context.Background()
	t.Cleanup(func() { timings(t, rec) })

	t.Run("halves", func(t *testing.T) {
		seq, _ := n.start(ctx, Step{Fault: history.Fault{Kind: KindPartition, Shape: ShapeHalves,
			Targets: []string{"n1", "n2"}, Grudge: Halves(c.Nodes())}})
		require.Equal(t, history.OK, lastCompletion(t, rec, history.FStart).Type)
		assert.False(t, reaches(t, c, "n1", "n3"), "minority reaches majority")
		assert.False(t, reaches(t, c, "n4", "n2"), "majority reaches minority")
		assert.True(t, reaches(t, c, "n1", "n2"), "inside the minority")
		assert.True(t, reaches(t, c, "n3", "n5"), "inside the majority")
		n.stop(ctx, seq)
		require.Equal(t, history.OK, lastCompletion(t, rec, history.FStop).Type)
		requireAllPairsReach(t, c)
	})

	t.Run("kill", func(t *testing.T) {
		w := kvnode.NewClient(c.Endpoint("n1"), kvnode.ClientOptions{Timeout: 5 * time.Second})
		for i := range 20 {
			// Right after the partition heals there may be no leader yet:
			// a definite failure (503) is retried until one is elected.
			var r sut.Result
			require.Eventually(t, func() bool {
				r = w.Write(ctx, "kill-"+strconv.Itoa(i), "v")
				return r.Outcome != sut.Fail
			}, 30*time.Second, 100*time.Millisecond, "put: %v", r.Err)
			require.Equal(t, sut.OK, r.Outcome, "put: %v", r.Err)
		}
		before, err := c.Status(ctx, "n2")
		require.NoError(t, err)
		seq, _ := n.start(ctx, Step{Fault: history.Fault{Kind: KindKill, Shape: TargetOne, Targets: []string{"n2"}}})
		require.Equal(t, history.OK, lastCompletion(t, rec, history.FStart).Type)
		_, err = c.Status(ctx, "n2")
		assert.Error(t, err, "a killed node answers /status")
		n.stop(ctx, seq)
		stop := lastCompletion(t, rec, history.FStop)
		require.Equal(t, history.OK, stop.Type, stop.Error)
		assert.NotEmpty(t, stop.Fault.Params["recovery_ms"])
		after, err := c.Status(ctx, "n2")
		require.NoError(t, err)
		assert.GreaterOrEqual(t, after.LastLogIndex, before.LastLogIndex, "n2 lost log entries across kill and restart")
	})

	t.Run("pause", func(t *testing.T) {
		seq, _ := n.start(ctx, Step{Fault: history.Fault{Kind: KindPause, Shape: TargetOne, Targets: []string{"n3"}}})
		require.Equal(t, history.OK, lastCompletion(t, rec, history.FStart).Type)
		_, err := c.Status(ctx, "n3")
		assert.Error(t, err, "a paused node answers /status")
		n.stop(ctx, seq)
		require.Equal(t, history.OK, lastCompletion(t, rec, history.FStop).Type)
		_, err = c.Status(ctx, "n3")
		assert.NoError(t, err)
	})

	t.Run("clock", func(t *testing.T) {
		seq, _ := n.start(ctx, Step{Fault: history.Fault{Kind: KindClock, Action: ClockBump, Targets: []string{"n4"},
			Params: map[string]string{"delta_ms.n4": "7000"}}})
		op := lastCompletion(t, rec, history.FStart)
		require.Equal(t, history.OK, op.Type, op.Error)
		assert.Equal(t, int64(7000), op.Fault.ClockOffsetsMillis["n4"])
		st, err := c.Status(ctx, "n4")
		require.NoError(t, err)
		assert.Equal(t, int64(7000), st.ClockOffsetMillis)
		n.stop(ctx, seq)
		st, err = c.Status(ctx, "n4")
		require.NoError(t, err)
		assert.Zero(t, st.ClockOffsetMillis)
	})

	t.Run("loss", func(t *testing.T) {
		seq, _ := n.start(ctx, Step{Fault: history.Fault{Kind: KindLoss, Shape: LinkPair, Targets: []string{"n1", "n2"},
			Grudge: Complete([][]string{{"n1"}, {"n2"}}), LossPercent: 100}})
		require.Equal(t, history.OK, lastCompletion(t, rec, history.FStart).Type)
		assert.False(t, reaches(t, c, "n1", "n2"))
		assert.False(t, reaches(t, c, "n2", "n1"))
		assert.True(t, reaches(t, c, "n1", "n3"))
		assert.True(t, reaches(t, c, "n3", "n2"))
		n.stop(ctx, seq)
		assert.True(t, reaches(t, c, "n1", "n2"))
	})

	// disk-loss: a follower whose data dir is wiped, then one whose log
	// loses its tail, rejoins and catches up from the same leader (before
	// the rejoin fix, a wiped follower's commit index stayed 0 while that
	// leader led).
	for _, action := range []string{DiskWipe, DiskTornTail} {
		t.Run("disk-loss "+action, func(t *testing.T) {
			leaders, err := c.Primaries(ctx)
			require.NoError(t, err)
			require.Len(t, leaders, 1)
			leader := leaders[0]
			target := "n5"
			if leader == target {
				target = "n4"
			}
			w := kvnode.NewClient(c.Endpoint(leader), kvnode.ClientOptions{Timeout: 5 * time.Second})
			for i := range 50 {
				r := w.Write(ctx, fmt.Sprintf("disk-%s-%d", action, i), "v")
				require.Equal(t, sut.OK, r.Outcome, "put: %v", r.Err)
			}
			seq, _ := n.start(ctx, Step{Fault: history.Fault{Kind: KindDiskLoss, Action: action, Shape: TargetOne,
				Targets: []string{target}, Params: map[string]string{"cut_bytes": "200"}}})
			start := lastCompletion(t, rec, history.FStart)
			require.Equal(t, history.OK, start.Type, start.Error)
			n.stop(ctx, seq)
			stop := lastCompletion(t, rec, history.FStop)
			require.Equal(t, history.OK, stop.Type, stop.Error)
			require.NotEmpty(t, stop.Fault.Params["recovery_ms."+target], "%s did not catch up: %v", target, stop.Fault.Params)
			t.Logf("%s %s: apply %s ms, caught up %s ms after the restart", action, target,
				start.Fault.Params["apply_ms."+target], stop.Fault.Params["recovery_ms."+target])
			ref, err := c.Status(ctx, leader)
			require.NoError(t, err)
			require.Equal(t, "leader", ref.Role, "the same leader led throughout")
			require.Eventually(t, func() bool {
				st, err := c.Status(ctx, target)
				return err == nil && !st.Recovering && st.AppliedIndex >= ref.CommitIndex
			}, 30*time.Second, 100*time.Millisecond, "%s applies the leader's commit %d", target, ref.CommitIndex)
		})
	}

	t.Run("schedule then heal", func(t *testing.T) {
		runCtx, cancel := context.WithTimeout(ctx, 12*time.Second)
		defer cancel()
		require.NoError(t, n.Run(runCtx))
		require.NoError(t, n.HealAll(ctx))
		requireHealedHistory(t, rec.History())
		for _, node := range c.Nodes() {
			st, err := c.Status(ctx, node)
			require.NoError(t, err, "%s does not serve after HealAll", node)
			assert.Zero(t, st.ClockOffsetMillis, node)
			assert.Contains(t, []float64{0, 1}, st.ClockRate, node)
		}
		requireAllPairsReach(t, c)
	})
}

// TestDockerTargetedFaults applies stale-leader, skewed-leader, voter-crash
// and figure-8 to a real three-node cluster of correct nodes: each must find the leader, see a new
// one elected by the others, leave the network (and clock) it says it left,
// and heal to one leader that every node follows.
func TestDockerTargetedFaults(t *testing.T) {
	c := newDockerCluster(t, 3)
	rec := history.NewMemoryRecorder()
	n, err := New(c, rec, Options{Faults: []string{KindStaleLeader, KindSkewedLeader, KindVoterCrash, KindFigure8}, Interval: time.Second, Seed: 1})
	require.NoError(t, err)
	ctx := context.Background()
	t.Cleanup(func() { timings(t, rec) })

	leader := func() string {
		var leaders []string
		require.Eventually(t, func() bool {
			leaders, _ = c.Primaries(ctx)
			return len(leaders) == 1
		}, 30*time.Second, 50*time.Millisecond)
		return leaders[0]
	}

	t.Run("stale-leader", func(t *testing.T) {
		old := leader()
		seq, _ := n.start(ctx, Step{Fault: history.Fault{Kind: KindStaleLeader, Shape: ShapeLeader}, Fallback: "n1"})
		op := lastCompletion(t, rec, history.FStart)
		require.Equal(t, history.OK, op.Type, op.Error)
		elected := op.Fault.Params["new_leader"]
		require.NotContains(t, []string{"", "none", old}, elected, "params %v", op.Fault.Params)
		assert.Equal(t, []string{old, elected}, op.Fault.Targets)
		t.Logf("%s replaced by %s after %s ms", old, elected, op.Fault.Params["new_leader_ms"])
		assert.False(t, reaches(t, c, old, elected), "old leader reaches the new one")
		assert.False(t, reaches(t, c, elected, old), "new leader reaches the old one")
		for _, other := range c.Nodes() {
			if other != old && other != elected {
				assert.True(t, reaches(t, c, old, other), "old leader cannot reach %s", other)
				assert.True(t, reaches(t, c, other, old), "%s cannot reach the old leader", other)
			}
		}
		// A correct old leader hears the newer generation from the node it
		// still reaches and steps down.
		require.Eventually(t, func() bool {
			st, err := c.Status(ctx, old)
			return err == nil && st.Role != "leader"
		}, 10*time.Second, 50*time.Millisecond, "%s still leads", old)
		n.stop(ctx, seq)
		require.Equal(t, history.OK, lastCompletion(t, rec, history.FStop).Type)
		requireAllPairsReach(t, c)
	})

	t.Run("skewed-leader", func(t *testing.T) {
		old := leader()
		step := Step{Fault: history.Fault{Kind: KindSkewedLeader, Shape: ShapeLeader, Params: map[string]string{"delta_ms": "-20000"}}, Fallback: "n1"}
		seq, _ := n.start(ctx, step)
		op := lastCompletion(t, rec, history.FStart)
		require.Equal(t, history.OK, op.Type, op.Error)
		assert.Equal(t, map[string]int64{old: -20000}, op.Fault.ClockOffsetsMillis)
		assert.NotContains(t, []string{"", "none", old}, op.Fault.Params["new_leader"], "params %v", op.Fault.Params)
		st, err := c.Status(ctx, old)
		require.NoError(t, err)
		assert.Equal(t, int64(-20000), st.ClockOffsetMillis)
		for _, other := range c.Nodes() {
			if other != old {
				assert.False(t, reaches(t, c, old, other), "isolated leader reaches %s", other)
			}
		}
		n.stop(ctx, seq)
		require.Equal(t, history.OK, lastCompletion(t, rec, history.FStop).Type)
		st, err = c.Status(ctx, old)
		require.NoError(t, err)
		assert.Zero(t, st.ClockOffsetMillis)
		requireAllPairsReach(t, c)
	})

	t.Run("voter-crash", func(t *testing.T) {
		old := leader()
		seq, _ := n.start(ctx, Step{Fault: history.Fault{Kind: KindVoterCrash, Shape: ShapeLeader}, Fallback: "n1"})
		op := lastCompletion(t, rec, history.FStart)
		require.Equal(t, history.OK, op.Type, op.Error)
		winner := op.Fault.Params["new_leader"]
		require.NotContains(t, []string{"", "none", old}, winner, "params %v", op.Fault.Params)
		t.Logf("%s replaced by %s after %s ms; restarted %s in %s ms and %s in %s ms", old, winner,
			op.Fault.Params["new_leader_ms"], op.Fault.Params["restarted"], op.Fault.Params["restart_ms."+op.Fault.Params["restarted"]],
			old, op.Fault.Params["restart_ms."+old])
		st, err := c.Status(ctx, winner)
		require.NoError(t, err)
		won := st.Generation
		for _, other := range without(c.Nodes(), winner) {
			assert.False(t, reaches(t, c, winner, other), "the winner reaches %s", other)
		}
		// The restarted voter remembers its vote: the others elect a
		// leader only in a later generation than the winner's.
		require.Eventually(t, func() bool {
			for _, other := range without(c.Nodes(), winner) {
				st, err := c.Status(ctx, other)
				if err == nil && st.Role == "leader" {
					require.Greater(t, st.Generation, won, "%s leads the winner's generation", other)
					return true
				}
			}
			return false
		}, 20*time.Second, 50*time.Millisecond)
		n.stop(ctx, seq)
		require.Equal(t, history.OK, lastCompletion(t, rec, history.FStop).Type)
		requireAllPairsReach(t, c)
	})

	t.Run("figure-8", func(t *testing.T) {
		old := leader()
		// Writes sent to the old leader while it is cut off enter its log
		// alone, so its log is longer than the restarted voter's and the
		// voter cannot win instead of it. Without them the two logs are
		// equal and whichever times out first leads.
		writeCtx, stopWriting := context.WithCancel(ctx)
		var writer sync.WaitGroup
		writer.Go(func() {
			w := kvnode.NewClient(c.Endpoint(old), kvnode.ClientOptions{Timeout: 300 * time.Millisecond})
			for i := 0; writeCtx.Err() == nil; i++ {
				if r := w.Write(writeCtx, "figure-8-"+strconv.Itoa(i), "v"); r.Outcome == sut.Fail {
					sleep(writeCtx, 50*time.Millisecond)
				}
			}
		})
		seq, _ := n.start(ctx, Step{Fault: history.Fault{Kind: KindFigure8, Shape: ShapeLeader}, Fallback: "n1"})
		stopWriting()
		writer.Wait()
		op := lastCompletion(t, rec, history.FStart)
		require.Equal(t, history.OK, op.Type, op.Error)
		p := op.Fault.Params
		winner, voter := p["new_leader"], p["restarted"]
		require.NotContains(t, []string{"", "none", old}, winner, "params %v", p)
		t.Logf("%s replaced by %s after %s ms; %s restarted in %s ms; %s crashed after its commit %s ms later; %s elected after %s ms",
			old, winner, p["new_leader_ms"], voter, p["restart_ms."+voter], old, p["crashed_after_commit_ms"], p["last_leader"], p["last_leader_ms"])
		assert.NotEqual(t, "none", p["crashed_after_commit_ms"], "the old leader led again and reached its crash point")
		// The correct old leader committed nothing before its no-op, which
		// the voter holds: the winner cannot win again, the voter can.
		assert.Equal(t, voter, p["last_leader"])
		_, err := c.Status(ctx, old)
		assert.Error(t, err, "the old leader stays down until the heal")
		n.stop(ctx, seq)
		require.Equal(t, history.OK, lastCompletion(t, rec, history.FStop).Type)
		requireAllPairsReach(t, c)
	})

	require.NoError(t, n.HealAll(ctx))
	requireHealedHistory(t, rec.History())
}

// kvnodeSpec is kvnode's node spec: the store these tests run.
func kvnodeSpec(t *testing.T) docker.NodeSpec {
	t.Helper()
	spec, err := kvnode.NodeSpec(nil)
	require.NoError(t, err)
	return spec
}
