package test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/client"
)

// waitApplied waits until every running node has applied the leader's commit index.
func waitApplied(t *testing.T, c *Cluster, leader string) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 10*time.Second, func() error {
		ls, err := c.Status(ctx, leader)
		if err != nil {
			return err
		}
		for _, id := range followers(c, leader) {
			st, err := c.Status(ctx, id)
			if err != nil {
				return err
			}
			if st.AppliedIndex < ls.CommitIndex {
				return fmt.Errorf("%s applied %d < leader commit %d", id, st.AppliedIndex, ls.CommitIndex)
			}
		}
		return nil
	})
}

// isolatedRead writes k=v, kills the leader and one follower, and reads k
// from the follower left alone (no quorum).
func isolatedRead(t *testing.T, flags ...string) client.Result {
	c := startCluster(t, 3, flags...)
	leader := waitLeader(t, c)
	ctx := context.Background()
	require.Equal(t, client.OK, newClient(c, leader).Put(ctx, "k", "v").Outcome)
	waitApplied(t, c, leader)
	fs := followers(c, leader)
	require.NoError(t, c.Kill(leader))
	require.NoError(t, c.Kill(fs[0]))
	return c.Client(fs[1], client.Options{Timeout: 3 * time.Second}).Get(ctx, "k")
}

// TestReadWithoutQuorum: a node cut off from the quorum refuses reads in
// index mode (linearizable), answers them with --read-mode=local, and
// answers them with the stale-read unsafe switch.
func TestReadWithoutQuorum(t *testing.T) {
	t.Run("index mode refuses", func(t *testing.T) {
		res := isolatedRead(t, "--request-timeout=1s")
		assert.NotEqual(t, client.OK, res.Outcome, "a linearizable read needs a quorum")
	})
	t.Run("local mode serves", func(t *testing.T) {
		res := isolatedRead(t, "--read-mode=local")
		require.Equal(t, client.OK, res.Outcome, "%v", res.Err)
		assert.Equal(t, "v", res.Value)
	})
	t.Run("unsafe stale-read serves", func(t *testing.T) {
		res := isolatedRead(t, "--unsafe=stale-read")
		require.Equal(t, client.OK, res.Outcome, "%v", res.Err)
		assert.Equal(t, "v", res.Value)
	})
}

// TestWriteWithoutQuorum: a leader whose followers are gone cannot commit,
// so a write is indeterminate (504); with ack-before-quorum it is wrongly
// acknowledged.
func TestWriteWithoutQuorum(t *testing.T) {
	write := func(t *testing.T, flags ...string) client.Result {
		c := startCluster(t, 3, append([]string{"--election-timeout=2s", "--heartbeat-interval=100ms", "--request-timeout=1s"}, flags...)...)
		leader := waitLeader(t, c)
		ctx := context.Background()
		require.Equal(t, client.OK, newClient(c, leader).Put(ctx, "k", "before").Outcome)
		for _, id := range followers(c, leader) {
			require.NoError(t, c.Kill(id))
		}
		return newClient(c, leader).Put(ctx, "k", "after")
	}
	t.Run("safe", func(t *testing.T) {
		res := write(t)
		assert.Equal(t, client.Info, res.Outcome, "%v", res.Err)
		assert.Equal(t, 504, res.StatusCode)
	})
	t.Run("unsafe ack-before-quorum", func(t *testing.T) {
		res := write(t, "--unsafe=ack-before-quorum")
		assert.Equal(t, client.OK, res.Outcome, "%v", res.Err)
	})
}

// TestLeaseReads: in lease mode the leader serves reads without a quorum
// round while its lease holds, and followers forward reads to it.
func TestLeaseReads(t *testing.T) {
	c := startCluster(t, 3, "--read-mode=lease")
	leader := waitLeader(t, c)
	ctx := context.Background()
	require.Equal(t, client.OK, newClient(c, leader).Put(ctx, "k", "v").Outcome)
	// Let a heartbeat round establish the lease.
	time.Sleep(200 * time.Millisecond)
	before := metricValue(t, c, leader, "kvnode_read_index_rounds_total")
	for range 50 {
		res := newClient(c, leader).Get(ctx, "k")
		require.Equal(t, client.OK, res.Outcome, "%v", res.Err)
		require.Equal(t, "v", res.Value)
	}
	after := metricValue(t, c, leader, "kvnode_read_index_rounds_total")
	assert.Less(t, after-before, 5.0, "lease reads should not need quorum rounds")

	res := newClient(c, followers(c, leader)[0]).Get(ctx, "k")
	require.Equal(t, client.OK, res.Outcome, "%v", res.Err)
	assert.Equal(t, "v", res.Value)
}

// TestLeaseSurvivesPause: a leader paused (SIGSTOP) for longer than its
// lease is replaced; when it resumes, it must not serve the old value from
// its expired lease. The missed ticks are made up from the monotonic clock
// before the lease is judged.
func TestLeaseSurvivesPause(t *testing.T) {
	c := startCluster(t, 3, "--read-mode=lease")
	leader := waitLeader(t, c)
	ctx := context.Background()
	require.Equal(t, client.OK, newClient(c, leader).Put(ctx, "k", "old").Outcome)
	time.Sleep(200 * time.Millisecond) // a heartbeat round: the lease is valid

	require.NoError(t, c.Pause(leader))
	var newLeader string
	eventually(t, 20*time.Second, func() error {
		for _, id := range followers(c, leader) {
			st, err := c.Status(ctx, id)
			if err == nil && st.Role == "leader" {
				newLeader = id
				return nil
			}
		}
		return fmt.Errorf("no new leader while %s is paused", leader)
	})
	require.Equal(t, client.OK, newClient(c, newLeader).Put(ctx, "k", "new").Outcome)

	require.NoError(t, c.Resume(leader))
	res := c.Client(leader, client.Options{Timeout: 3 * time.Second}).Get(ctx, "k")
	if res.Outcome == client.OK {
		assert.Equal(t, "new", res.Value, "the resumed old leader served a stale read from an expired lease")
	}
}

// TestLeaseAfterCheckQuorum: a leader cut off from its followers, whose
// wall clock then jumps back, is deposed by its check-quorum round. A
// correct node stops serving lease reads (its lease is counted in ticks
// and ends before that round); with lease-wallclock it keeps serving from
// its local state, because its lease, judged on the jumped clock, has not
// ended.
func TestLeaseAfterCheckQuorum(t *testing.T) {
	for _, tc := range []struct {
		name   string
		flags  []string
		serves bool
	}{
		{"correct", []string{"--read-mode=lease"}, false},
		{"unsafe lease-wallclock", []string{"--unsafe=lease-wallclock"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, 3, append([]string{"--enable-fault-hooks"}, tc.flags...)...)
			leader := waitLeader(t, c)
			ctx := context.Background()
			require.Equal(t, client.OK, newClient(c, leader).Put(ctx, "k", "v").Outcome)
			waitApplied(t, c, leader)
			time.Sleep(200 * time.Millisecond) // a heartbeat round: the lease is valid
			for _, id := range followers(c, leader) {
				require.NoError(t, c.Kill(id))
			}
			// After the last acknowledgement, so no later one restarts
			// the lease on the jumped clock.
			_, err := newClient(c, leader).Clock(ctx, client.ClockCommand{Action: client.ClockBump, OffsetMillis: -30_000})
			require.NoError(t, err)
			eventually(t, 10*time.Second, func() error {
				st, err := c.Status(ctx, leader)
				if err != nil {
					return err
				}
				if st.Role == "leader" {
					return fmt.Errorf("%s still leads without a quorum", leader)
				}
				return nil
			})
			res := c.Client(leader, client.Options{Timeout: 2 * time.Second}).Get(ctx, "k")
			if tc.serves {
				require.Equal(t, client.OK, res.Outcome, "%v", res.Err)
				assert.Equal(t, "v", res.Value)
			} else {
				assert.NotEqual(t, client.OK, res.Outcome, "a deposed leader served a lease read: %+v", res)
			}
		})
	}
}
