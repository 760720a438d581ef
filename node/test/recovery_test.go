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
)

// TestWipedFollowersRejoin: a follower whose data dir was removed while it
// was stopped rejoins and catches up while the same leader leads, and with
// two of three followers wiped (a majority of the cluster) writes still
// commit once the leader has caught them up. The node reports recovering
// until then, and the mark does not outlive the catch-up.
func TestWipedFollowersRejoin(t *testing.T) {
	for _, wiped := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d wiped", wiped), func(t *testing.T) {
			c := startCluster(t, 3)
			leader := waitLeader(t, c)
			ctx := context.Background()
			cl := newClient(c, leader)
			for i := range 20 {
				require.Equal(t, client.OK, cl.Put(ctx, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)).Outcome)
			}
			lost := followers(c, leader)[:wiped]
			for _, id := range lost {
				require.NoError(t, c.Stop(id))
				waitExited(t, c, id)
				require.NoError(t, os.RemoveAll(c.Node(id).DataDir))
				require.NoError(t, c.Restart(id))
			}

			// A new write commits: the leader backs the wiped followers up.
			res := cl.Put(ctx, "after", "wipe")
			require.Equal(t, client.OK, res.Outcome, "write after the wipe: %v", res.Err)
			want, err := c.Status(ctx, leader)
			require.NoError(t, err)
			for _, id := range lost {
				eventually(t, 10*time.Second, func() error {
					st, err := c.Status(ctx, id)
					if err != nil {
						return err
					}
					if st.AppliedIndex < want.CommitIndex || st.Recovering {
						return fmt.Errorf("%s: applied %d of the leader's commit %d, recovering %v",
							id, st.AppliedIndex, want.CommitIndex, st.Recovering)
					}
					return nil
				})
				_, err := os.Stat(c.Node(id).DataDir + "/RECOVERING")
				assert.ErrorIs(t, err, os.ErrNotExist, "%s: the recovering mark is gone once caught up", id)
			}
			assert.Equal(t, leader, currentLeader(t, c), "the same leader led throughout")
		})
	}
}

// TestWipedNodeDoesNotVote: with the leader stopped and one follower wiped,
// the remaining follower cannot be elected by the wiped node's vote, however
// long it waits; once the old leader is back, a leader is elected and the
// wiped node catches up and leaves recovery.
func TestWipedNodeDoesNotVote(t *testing.T) {
	c := startCluster(t, 3)
	leader := waitLeader(t, c)
	ctx := context.Background()
	require.Equal(t, client.OK, newClient(c, leader).Put(ctx, "k", "v").Outcome)
	fs := followers(c, leader)
	wiped, other := fs[0], fs[1]

	require.NoError(t, c.Stop(leader))
	require.NoError(t, c.Stop(wiped))
	waitExited(t, c, leader)
	waitExited(t, c, wiped)
	require.NoError(t, os.RemoveAll(c.Node(wiped).DataDir))
	require.NoError(t, c.Restart(wiped))

	// Several election timeouts (fastFlags): no leader may emerge.
	time.Sleep(3 * time.Second)
	for _, id := range []string{wiped, other} {
		st, err := c.Status(ctx, id)
		require.NoError(t, err)
		assert.NotEqual(t, "leader", st.Role, "%s must not lead without the old leader's log", id)
		if id == wiped {
			assert.True(t, st.Recovering, "the wiped node reports recovering")
		}
	}

	require.NoError(t, c.Restart(leader))
	newLeader := waitLeader(t, c)
	assert.NotEqual(t, wiped, newLeader)
	eventually(t, 10*time.Second, func() error {
		st, err := c.Status(ctx, wiped)
		if err != nil {
			return err
		}
		if st.Recovering {
			return fmt.Errorf("%s still recovering (commit %d, last %d)", wiped, st.CommitIndex, st.LastLogIndex)
		}
		return nil
	})
	res := newClient(c, newLeader).Get(ctx, "k")
	require.Equal(t, client.OK, res.Outcome, "%v", res.Err)
	assert.Equal(t, "v", res.Value)
}

func waitExited(t *testing.T, c *Cluster, id string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if c.Node(id).Running() {
			return fmt.Errorf("%s still running", id)
		}
		return nil
	})
}

func currentLeader(t *testing.T, c *Cluster) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leader, err := c.WaitLeader(ctx)
	require.NoError(t, err)
	return leader
}
