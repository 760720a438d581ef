package docker_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/docker"
	"github.com/faultline/faultline/sut"
	"github.com/faultline/faultline/sut/kvnode"
)

const connectTimeout = 500 * time.Millisecond

// reach reports whether from can open a TCP connection to to's peer port.
func reach(t *testing.T, c *docker.Cluster, from, to string) bool {
	t.Helper()
	ok, err := c.CanConnect(context.Background(), from, to, kvnode.PeerPort, connectTimeout)
	require.NoError(t, err)
	return ok
}

func requireAllPairsReach(t *testing.T, c *docker.Cluster) {
	t.Helper()
	for _, a := range c.Nodes() {
		for _, b := range c.Nodes() {
			if a != b {
				assert.True(t, reach(t, c, a, b), "%s should reach %s", a, b)
			}
		}
	}
}

func timed(t *testing.T, what string, f func() error) {
	t.Helper()
	start := time.Now()
	require.NoError(t, f(), what)
	t.Logf("%s took %s", what, time.Since(start).Round(time.Millisecond))
}

func startCluster(t *testing.T, nodes int) *docker.Cluster {
	t.Helper()
	image := nodeImage(t)
	runID := fmt.Sprintf("test-%d-%s", nodes, time.Now().UTC().Format("150405.000000"))
	c, err := docker.NewCluster(docker.ClusterOptions{Node: kvnodeSpec(t), RunID: runID, Nodes: nodes, Image: image, Logger: testLogger(t)})
	require.NoError(t, err)
	t.Cleanup(func() {
		// A cancelled context must not stop the teardown.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		require.NoError(t, c.Teardown(ctx))
		t.Logf("teardown of %d nodes took %s", nodes, time.Since(start).Round(time.Millisecond))
		require.NoError(t, c.Teardown(context.Background()), "teardown must be idempotent")
		containers, networks := labelled(t, runID)
		assert.Zero(t, containers+networks, "teardown left labelled objects behind")
	})
	timed(t, fmt.Sprintf("setup of %d nodes (start, serve, elect)", nodes), func() error {
		return c.Setup(context.Background())
	})
	return c
}

func TestClusterStartsFiveNodes(t *testing.T) {
	c := startCluster(t, 5)
	require.Equal(t, []string{"n1", "n2", "n3", "n4", "n5"}, c.Nodes())
	leaders, err := c.Primaries(context.Background())
	require.NoError(t, err)
	require.Len(t, leaders, 1)
}

func TestClusterFaults(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()

	t.Run("every node serves and one leads", func(t *testing.T) {
		for _, n := range c.Nodes() {
			st, err := c.Status(ctx, n)
			require.NoError(t, err)
			assert.Equal(t, n, st.Node)
		}
		leaders, err := c.Primaries(ctx)
		require.NoError(t, err)
		require.Len(t, leaders, 1)
		requireAllPairsReach(t, c)
	})

	t.Run("nftables works and netem is probed", func(t *testing.T) {
		probe, err := c.Probe(ctx)
		require.NoError(t, err)
		require.True(t, probe.Nftables, "nftables unusable in a node container: %s", probe.NftablesErr)
		netem, err := c.NetemAvailable(ctx)
		require.NoError(t, err)
		assert.Equal(t, probe.Netem, netem)
		t.Logf("netem available: %v %s", netem, probe.NetemErr)
	})

	t.Run("halves grudge cuts minority from majority only", func(t *testing.T) {
		// Minority {n1}, majority {n2, n3}.
		grudge := map[string][]string{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}
		timed(t, "partition apply (3 nodes)", func() error { return c.SetGrudge(ctx, grudge) })
		assert.False(t, reach(t, c, "n1", "n2"), "minority reached majority")
		assert.False(t, reach(t, c, "n3", "n1"), "majority reached minority")
		assert.True(t, reach(t, c, "n2", "n3"), "same side must still connect")
		assert.True(t, reach(t, c, "n3", "n2"), "same side must still connect")

		timed(t, "partition heal (3 nodes)", func() error { return c.HealNetwork(ctx) })
		requireAllPairsReach(t, c)
	})

	t.Run("100% loss between two nodes stops only their traffic", func(t *testing.T) {
		timed(t, "loss apply", func() error { return c.SetLoss(ctx, "n1", []string{"n2"}, 100) })
		assert.False(t, reach(t, c, "n1", "n2"))
		assert.False(t, reach(t, c, "n2", "n1"))
		assert.True(t, reach(t, c, "n1", "n3"))
		assert.True(t, reach(t, c, "n2", "n3"))
		assert.True(t, reach(t, c, "n3", "n1"))
		timed(t, "loss heal", func() error { return c.SetLoss(ctx, "n1", nil, 0) })
		assert.True(t, reach(t, c, "n1", "n2"))
		timed(t, "heal network", func() error { return c.HealNetwork(ctx) })
	})

	t.Run("50% loss drops some connections, not all", func(t *testing.T) {
		// n1 drops half of n2's packets, so n2's SYN to n1 is lost about
		// half the time; with a connect timeout below the first SYN
		// retransmission (1s), about half the attempts fail.
		// P(all 20 attempts agree) is about 2e-6.
		require.NoError(t, c.SetLoss(ctx, "n1", []string{"n2"}, 50))
		const attempts = 20
		succeeded := 0
		for range attempts {
			if reach(t, c, "n2", "n1") {
				succeeded++
			}
		}
		require.NoError(t, c.HealNetwork(ctx))
		t.Logf("50%% loss: %d of %d connections succeeded", succeeded, attempts)
		assert.Greater(t, succeeded, 0, "50%% loss dropped everything")
		assert.Less(t, succeeded, attempts, "50%% loss dropped nothing")
	})

	t.Run("pause freezes the node until resume", func(t *testing.T) {
		timed(t, "pause", func() error { return c.Pause(ctx, "n3") })
		_, err := c.Status(ctx, "n3")
		require.Error(t, err, "a paused node must not answer /status")
		timed(t, "resume", func() error { return c.Resume(ctx, "n3") })
		_, err = c.Status(ctx, "n3")
		require.NoError(t, err)
	})

	t.Run("grudge set while paused applies on resume", func(t *testing.T) {
		require.NoError(t, c.Pause(ctx, "n3"))
		require.NoError(t, c.SetGrudge(ctx, map[string][]string{"n3": {"n1"}}))
		require.NoError(t, c.Resume(ctx, "n3"))
		assert.False(t, reach(t, c, "n3", "n1"))
		assert.True(t, reach(t, c, "n3", "n2"))
		require.NoError(t, c.HealNetwork(ctx))
		assert.True(t, reach(t, c, "n3", "n1"))
	})

	t.Run("silence cuts a paused node off from its peers' side", func(t *testing.T) {
		require.NoError(t, c.SetSilence(ctx, map[string][]string{"n1": {"n3"}}))
		assert.False(t, reach(t, c, "n1", "n3"), "n1 sends nothing to n3")
		assert.True(t, reach(t, c, "n2", "n3"))
		assert.True(t, reach(t, c, "n1", "n2"))
		require.NoError(t, c.HealNetwork(ctx))
		assert.True(t, reach(t, c, "n1", "n3"))
	})

	t.Run("clock bump changes the reported offset", func(t *testing.T) {
		var st sut.Status
		timed(t, "clock bump", func() (err error) {
			st, err = c.Clock(ctx, "n2", sut.ClockCommand{Action: sut.ClockBump, OffsetMillis: 5000})
			return err
		})
		assert.Equal(t, int64(5000), st.ClockOffsetMillis)
		got, err := c.Status(ctx, "n2")
		require.NoError(t, err)
		assert.Equal(t, int64(5000), got.ClockOffsetMillis)
		timed(t, "clock reset", func() (err error) {
			st, err = c.Clock(ctx, "n2", sut.ClockCommand{Action: sut.ClockReset})
			return err
		})
		assert.Zero(t, st.ClockOffsetMillis)
	})

	t.Run("kill and start keep data and re-apply the grudge", func(t *testing.T) {
		leaders, err := c.Primaries(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, leaders)
		kv := kvnode.NewClient(c.Endpoint(leaders[0]), kvnode.ClientOptions{Timeout: 5 * time.Second})
		res := kv.Write(ctx, "survivor", "v1")
		require.Equal(t, sut.OK, res.Outcome, "put: %v", res.Err)

		require.NoError(t, c.SetGrudge(ctx, map[string][]string{"n3": {"n1"}, "n1": {"n3"}}))
		timed(t, "kill one node", func() error { return c.Kill(ctx, "n3") })
		_, err = c.Status(ctx, "n3")
		require.Error(t, err, "a killed node must not answer")
		timed(t, "start one node (until serving)", func() error { return c.Start(ctx, "n3") })
		assert.False(t, reach(t, c, "n3", "n1"), "grudge must hold in the new network namespace")
		assert.True(t, reach(t, c, "n3", "n2"))
		require.NoError(t, c.HealNetwork(ctx))

		// Kill every node: the key can only come back from the data dirs.
		start := time.Now()
		for _, n := range c.Nodes() {
			require.NoError(t, c.Kill(ctx, n))
		}
		for _, n := range c.Nodes() {
			_, err := c.Status(ctx, n)
			require.Error(t, err, "%s still answers after kill", n)
		}
		for _, n := range c.Nodes() {
			require.NoError(t, c.Start(ctx, n))
		}
		t.Logf("kill all + start all took %s", time.Since(start).Round(time.Millisecond))
		require.Eventually(t, func() bool {
			leaders, err := c.Primaries(ctx)
			return err == nil && len(leaders) == 1
		}, 30*time.Second, 100*time.Millisecond, "no leader after restarting every node")
		leaders, err = c.Primaries(ctx)
		require.NoError(t, err)
		kv = kvnode.NewClient(c.Endpoint(leaders[0]), kvnode.ClientOptions{Timeout: 5 * time.Second})
		require.Eventually(t, func() bool {
			res = kv.Read(ctx, "survivor")
			return res.Outcome == sut.OK
		}, 30*time.Second, 100*time.Millisecond)
		assert.True(t, res.Found, "write lost across kill -9 of every node")
		assert.Equal(t, "v1", res.Value)
	})

	t.Run("logs are collected per node", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, c.CollectLogs(ctx, dir))
		for _, n := range c.Nodes() {
			assert.FileExists(t, filepath.Join(dir, n+".log"))
		}
	})
}
