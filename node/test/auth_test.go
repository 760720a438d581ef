package test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/client"
)

// TestImpostorOnPeerPortIsRefused: a process that reaches n2's peer port
// and sends n1's hello (the pre-authentication protocol: magic, version 1,
// id) is refused, counted in /metrics, and n2 keeps its real connection to
// n1: no reconnect, and the cluster keeps replicating. Before peer
// authentication n2 took the hello at its word and dropped n1's connection
// for the impostor's.
func TestImpostorOnPeerPortIsRefused(t *testing.T) {
	c := startCluster(t, 3)
	leader := waitLeader(t, c)
	ctx := context.Background()
	require.Equal(t, client.OK, newClient(c, leader).Put(ctx, "before", "v").Outcome)
	reconnects := metricValue(t, c, "n2", "kvnode_transport_reconnects_total")

	conn, err := net.Dial("tcp", c.Node("n2").PeerAddr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte{'f', 'l', 's', 1, 2, 'n', '1'})
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "n2 kept the impostor's connection open")

	assert.Equal(t, 1.0, metricValue(t, c, "n2", "kvnode_transport_handshake_rejects_total"))
	assert.Equal(t, reconnects, metricValue(t, c, "n2", "kvnode_transport_reconnects_total"),
		"n2's connections to its real peers were never replaced")
	leader = waitLeader(t, c)
	require.Equal(t, client.OK, newClient(c, leader).Put(ctx, "after", "v").Outcome)
	for _, n := range c.Nodes {
		res := c.Client(n.ID, client.Options{Timeout: 5 * time.Second}).Get(ctx, "after")
		require.Equal(t, client.OK, res.Outcome, "read via %s: %v", n.ID, res.Err)
	}
	logs, err := os.ReadFile(c.Node("n2").LogPath)
	require.NoError(t, err)
	assert.Contains(t, string(logs), "refused peer connection")
	assert.Contains(t, string(logs), "authenticated=true")
	assert.NotContains(t, string(logs), "peer port is unauthenticated")
}

// TestNodesWithAnotherSecretCannotJoin: a node started with a secret other
// than the cluster's is refused by its peers and says why.
func TestNodesWithAnotherSecretCannotJoin(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other-secret")
	require.NoError(t, os.WriteFile(other, []byte("a different secret, 32 bytes...."), 0o600))
	c, err := Start(Options{
		Binary: kvnodeBinary, Nodes: 3, Dir: dir, Flags: fastFlags,
		NodeFlags: func(n *Node) []string {
			if n.ID == "n3" {
				return []string{"--cluster-secret-file", other}
			}
			return nil
		},
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	leader := waitLeaderAmong(t, c, "n1", "n2")
	require.Equal(t, client.OK, newClient(c, leader).Put(context.Background(), "k", "v").Outcome)
	eventually(t, 10*time.Second, func() error {
		if metricValue(t, c, "n3", "kvnode_transport_handshake_rejects_total") == 0 {
			return errors.New("n3 has refused no handshake yet")
		}
		return nil
	})
	st, err := c.Status(context.Background(), "n3")
	require.NoError(t, err)
	assert.Empty(t, st.Leader, "n3 never hears from the leader")
	logs, err := os.ReadFile(c.Node("n3").LogPath)
	require.NoError(t, err)
	assert.Contains(t, string(logs), "--cluster-secret-file")
}

// waitLeaderAmong waits until one of ids reports itself leader.
func waitLeaderAmong(t *testing.T, c *Cluster, ids ...string) string {
	t.Helper()
	var leader string
	eventually(t, 20*time.Second, func() error {
		for _, id := range ids {
			if st, err := c.Status(context.Background(), id); err == nil && st.Role == "leader" {
				leader = id
				return nil
			}
		}
		return fmt.Errorf("no leader among %v", ids)
	})
	return leader
}
