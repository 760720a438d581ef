package test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/server"
)

// TestElectsOneLeader: 3- and 5-node clusters elect a leader that every
// node agrees on, and no generation has two leaders.
func TestElectsOneLeader(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			c := startCluster(t, n)
			leader := waitLeader(t, c)
			ctx := context.Background()
			leadersByGeneration := map[uint64][]string{}
			for _, node := range c.Nodes {
				st, err := c.Status(ctx, node.ID)
				require.NoError(t, err)
				assert.Equal(t, leader, st.Leader, "node %s", node.ID)
				if st.Role == "leader" {
					leadersByGeneration[st.Generation] = append(leadersByGeneration[st.Generation], st.ID)
				}
			}
			for gen, ids := range leadersByGeneration {
				assert.Len(t, ids, 1, "generation %d has leaders %v", gen, ids)
			}
			// The cluster serves a write and a linearizable read.
			require.Equal(t, client.OK, newClient(c, leader).Put(ctx, "k", "v").Outcome)
			res := newClient(c, leader).Get(ctx, "k")
			require.Equal(t, client.OK, res.Outcome, "%v", res.Err)
			assert.Equal(t, "v", res.Value)
		})
	}
}

// TestLeaderKillKeepsAcknowledgedWrites: after kill -9 of the leader a new
// leader is elected and every write acknowledged before the kill is readable.
func TestLeaderKillKeepsAcknowledgedWrites(t *testing.T) {
	c := startCluster(t, 3)
	leader := waitLeader(t, c)
	ctx := context.Background()
	cl := newClient(c, leader)
	const keys = 100
	for i := range keys {
		res := cl.Put(ctx, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
		require.Equal(t, client.OK, res.Outcome, "put k%d: %v", i, res.Err)
	}

	require.NoError(t, c.Kill(leader))
	newLeader := waitLeader(t, c)
	require.NotEqual(t, leader, newLeader)

	for _, id := range followers(c, "") {
		cl := newClient(c, id)
		for i := range keys {
			res := cl.Get(ctx, fmt.Sprintf("k%d", i))
			require.Equal(t, client.OK, res.Outcome, "get k%d from %s: %v", i, id, res.Err)
			require.Equal(t, fmt.Sprintf("v%d", i), res.Value, "k%d from %s", i, id)
		}
	}
}

// TestRestartFromWAL: every node is killed with SIGKILL and restarted; the
// data comes back from the write-ahead log.
func TestRestartFromWAL(t *testing.T) {
	c := startCluster(t, 3)
	leader := waitLeader(t, c)
	ctx := context.Background()
	cl := newClient(c, leader)
	for i := range 50 {
		require.Equal(t, client.OK, cl.Put(ctx, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)).Outcome)
	}
	require.Equal(t, client.OK, cl.Append(ctx, "list", "a").Outcome)
	require.Equal(t, client.OK, cl.Append(ctx, "list", "b").Outcome)

	for _, n := range c.Nodes {
		require.NoError(t, c.Kill(n.ID))
	}
	for _, n := range c.Nodes {
		require.NoError(t, c.Restart(n.ID))
	}
	leader = waitLeader(t, c)
	cl = newClient(c, leader)
	for i := range 50 {
		res := cl.Get(ctx, fmt.Sprintf("k%d", i))
		require.Equal(t, client.OK, res.Outcome, "get k%d: %v", i, res.Err)
		require.Equal(t, fmt.Sprintf("v%d", i), res.Value)
	}
	res := cl.Get(ctx, "list")
	require.Equal(t, client.OK, res.Outcome)
	require.Equal(t, []string{"a", "b"}, res.List)
}

// TestFollowerCatchUpFromSnapshot: with a small --snapshot-entries the
// leader compacts its log while a follower is down; the restarted follower
// is sent the snapshot and converges to the same state digest.
func TestFollowerCatchUpFromSnapshot(t *testing.T) {
	c := startCluster(t, 3, "--snapshot-entries=20", "--segment-bytes=4096")
	leader := waitLeader(t, c)
	ctx := context.Background()
	lagging := followers(c, leader)[0]
	require.NoError(t, c.Kill(lagging))

	cl := newClient(c, leader)
	for i := range 200 {
		require.Equal(t, client.OK, cl.Put(ctx, fmt.Sprintf("k%d", i%37), fmt.Sprintf("v%d", i)).Outcome)
	}
	st, err := c.Status(ctx, leader)
	require.NoError(t, err)
	require.Greater(t, st.LowWaterMark, uint64(100), "the leader should have compacted its log")

	require.NoError(t, c.Restart(lagging))
	eventually(t, 20*time.Second, func() error {
		ls, err := c.Status(ctx, leader)
		if err != nil {
			return err
		}
		fs, err := c.Status(ctx, lagging)
		if err != nil {
			return err
		}
		if fs.AppliedIndex != ls.AppliedIndex || fs.Digest != ls.Digest {
			return fmt.Errorf("follower %s at %d (%s), leader at %d (%s)", lagging, fs.AppliedIndex, fs.Digest, ls.AppliedIndex, ls.Digest)
		}
		return nil
	})
	installed := metricValue(t, c, lagging, "kvnode_snapshots_installed_total")
	assert.GreaterOrEqual(t, installed, 1.0, "the follower should have caught up through a snapshot")

	// Its local state has the data: read it from the follower itself.
	fs, err := c.Status(ctx, lagging)
	require.NoError(t, err)
	assert.Greater(t, fs.LowWaterMark, uint64(0))
}

// TestRetriedWriteAppliedOnce: a retried append with the same client id and
// sequence number is applied once (idempotent receiver), also when the
// retry goes through a follower.
func TestRetriedWriteAppliedOnce(t *testing.T) {
	c := startCluster(t, 3)
	leader := waitLeader(t, c)
	ctx := context.Background()
	follower := followers(c, leader)[0]

	cl := c.Client(leader, client.Options{ClientID: "retrier", Timeout: 5 * time.Second})
	first := cl.Append(ctx, "set", "x")
	require.Equal(t, client.OK, first.Outcome, "%v", first.Err)
	retry := cl.WithSeq(first.Seq).Append(ctx, "set", "x")
	require.Equal(t, client.OK, retry.Outcome, "%v", retry.Err)
	viaFollower := c.Client(follower, client.Options{ClientID: "retrier", Timeout: 5 * time.Second}).
		WithSeq(first.Seq).Append(ctx, "set", "x")
	require.Equal(t, client.OK, viaFollower.Outcome, "%v", viaFollower.Err)

	res := newClient(c, leader).Get(ctx, "set")
	require.Equal(t, client.OK, res.Outcome)
	assert.Equal(t, []string{"x"}, res.List, "a retried append must be applied once")

	next := cl.Append(ctx, "set", "y")
	require.Equal(t, client.OK, next.Outcome)
	res = newClient(c, leader).Get(ctx, "set")
	assert.Equal(t, []string{"x", "y"}, res.List)
}

// TestLinearizableReadsAfterLeaderChange: after the leader is killed and a
// new value is written through the new leader, a read from any node (a
// follower forwards it) returns the new value, never the old one.
func TestLinearizableReadsAfterLeaderChange(t *testing.T) {
	c := startCluster(t, 3)
	leader := waitLeader(t, c)
	ctx := context.Background()
	require.Equal(t, client.OK, newClient(c, leader).Put(ctx, "reg", "old").Outcome)

	require.NoError(t, c.Kill(leader))
	newLeader := waitLeader(t, c)
	require.Equal(t, client.OK, newClient(c, newLeader).Put(ctx, "reg", "new").Outcome)
	for _, id := range followers(c, "") {
		res := newClient(c, id).Get(ctx, "reg")
		require.Equal(t, client.OK, res.Outcome, "read from %s: %v", id, res.Err)
		assert.Equal(t, "new", res.Value, "read from %s", id)
	}

	// The old leader comes back as a follower and also reads the new value.
	require.NoError(t, c.Restart(leader))
	eventually(t, 20*time.Second, func() error {
		res := newClient(c, leader).Get(ctx, "reg")
		if res.Outcome != client.OK {
			return fmt.Errorf("read from restarted %s: %v", leader, res.Err)
		}
		if res.Value != "new" {
			return fmt.Errorf("restarted %s read %q", leader, res.Value)
		}
		return nil
	})
}

// TestFollowerForwardsWrites: writes, cas and appends sent to a follower
// are forwarded to the leader; a forwarded request that reaches a
// non-leader is refused (503) rather than forwarded again.
func TestFollowerForwardsWrites(t *testing.T) {
	c := startCluster(t, 3)
	leader := waitLeader(t, c)
	ctx := context.Background()
	follower := newClient(c, followers(c, leader)[0])

	require.Equal(t, client.OK, follower.Put(ctx, "fw", "1").Outcome)
	res := follower.CAS(ctx, "fw", "1", "2")
	require.Equal(t, client.OK, res.Outcome, "%v", res.Err)
	res = follower.CAS(ctx, "fw", "1", "3")
	require.Equal(t, client.Fail, res.Outcome)
	assert.Equal(t, 412, res.StatusCode)
	res = follower.Append(ctx, "fw", "e")
	assert.Equal(t, 409, res.StatusCode, "append to a string is a wrong-type failure")

	res = newClient(c, leader).Get(ctx, "fw")
	require.Equal(t, client.OK, res.Outcome)
	assert.Equal(t, "2", res.Value)

	status, body := rawRequest(t, "PUT", c.Node(followers(c, leader)[0]).URL()+"/kv/fw", `{"value":"9"}`,
		map[string]string{"X-Forwarded": "n9"})
	assert.Equal(t, 503, status, body)
}

// TestCrashAfterVote: with the after-vote crash point armed on both
// followers, killing the leader makes the voter of the next election exit
// (with CrashPointExitCode) right after its vote is durable and sent, and the
// candidate wins with it. Restarted next to the old leader while the winner
// is down, the voter remembers its vote: nobody else leads that generation.
func TestCrashAfterVote(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, 3, "--enable-fault-hooks")
	old := waitLeader(t, c)
	before, err := c.Status(ctx, old)
	require.NoError(t, err)
	for _, id := range followers(c, old) {
		st, err := newClient(c, id).CrashPoint(ctx, client.CrashPointCommand{Point: client.CrashAfterVote, Armed: true})
		require.NoError(t, err)
		assert.Equal(t, []string{client.CrashAfterVote}, st.CrashPoints)
	}
	require.NoError(t, c.Kill(old))

	var winner, voter string
	var won uint64
	eventually(t, 10*time.Second, func() error {
		for _, id := range followers(c, "") {
			st, err := c.Status(ctx, id)
			if err == nil && st.Role == "leader" && st.Generation > before.Generation {
				winner, won = id, st.Generation
			}
		}
		for _, n := range c.Nodes {
			if code, exited := n.ExitCode(); exited && code == server.CrashPointExitCode {
				voter = n.ID
			}
		}
		if winner == "" || voter == "" {
			return fmt.Errorf("winner %q, crashed voter %q", winner, voter)
		}
		return nil
	})
	require.NotEqual(t, winner, voter)
	logs, err := os.ReadFile(c.Node(voter).LogPath)
	require.NoError(t, err)
	assert.Contains(t, string(logs), "crash point reached")

	require.NoError(t, c.Kill(winner))
	require.NoError(t, c.Restart(voter))
	require.NoError(t, c.Restart(old))
	leader := waitLeader(t, c)
	st, err := c.Status(ctx, leader)
	require.NoError(t, err)
	assert.Greater(t, st.Generation, won, "%s leads generation %d, which %s won with %s's vote", leader, st.Generation, winner, voter)
}

// TestCrashAfterCommit: a leader with the after-commit crash point armed
// answers the write it commits and exits before telling anyone; the write
// is on the followers that acknowledged it, so the next leader serves it.
func TestCrashAfterCommit(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, 3, "--enable-fault-hooks")
	leader := waitLeader(t, c)
	cl := newClient(c, leader)
	require.Equal(t, client.OK, cl.Put(ctx, "k", "v0").Outcome)
	st, err := cl.CrashPoint(ctx, client.CrashPointCommand{Point: client.CrashAfterCommit, Armed: true})
	require.NoError(t, err)
	assert.Equal(t, []string{client.CrashAfterCommit}, st.CrashPoints)

	res := cl.Put(ctx, "k", "v1")
	require.Equal(t, client.OK, res.Outcome, "the committed write is answered before the exit: %+v", res)
	eventually(t, 5*time.Second, func() error {
		if code, exited := c.Node(leader).ExitCode(); !exited || code != server.CrashPointExitCode {
			return fmt.Errorf("%s: exited %v, code %d", leader, exited, code)
		}
		return nil
	})
	logs, err := os.ReadFile(c.Node(leader).LogPath)
	require.NoError(t, err)
	assert.Contains(t, string(logs), "crash point reached")
	assert.Contains(t, string(logs), client.CrashAfterCommit)

	next := waitLeader(t, c)
	require.NotEqual(t, leader, next)
	got := newClient(c, next).Get(ctx, "k")
	require.Equal(t, client.OK, got.Outcome, "%+v", got)
	assert.Equal(t, "v1", got.Value)
}

// TestPeekStatus: /status?digest=false answers from the last published
// status, without a digest; the full /status carries one.
func TestPeekStatus(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, 1)
	leader := waitLeader(t, c)
	cl := newClient(c, leader)
	require.Equal(t, client.OK, cl.Put(ctx, "k", "v").Outcome)
	full, err := cl.Status(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, full.Digest)
	eventually(t, 5*time.Second, func() error {
		peek, err := cl.Peek(ctx)
		if err != nil {
			return err
		}
		if peek.Role != "leader" || peek.Digest != "" || peek.AppliedIndex < full.AppliedIndex {
			return fmt.Errorf("peek %+v", peek)
		}
		return nil
	})
}
