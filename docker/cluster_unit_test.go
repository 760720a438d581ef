package docker

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewClusterValidatesOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    ClusterOptions
		wantErr string
	}{
		{name: "no image", opts: ClusterOptions{}, wantErr: "no image"},
		{name: "too many nodes", opts: ClusterOptions{Image: "x", Nodes: 241}, wantErr: "between 1 and 240"},
		{name: "bad run id", opts: ClusterOptions{Image: "x", RunID: "a/b"}, wantErr: "run id"},
		{name: "ipv6 subnet", opts: ClusterOptions{Image: "x", Subnet: "fd00::/64"}, wantErr: "IPv4"},
		{name: "tiny subnet", opts: ClusterOptions{Image: "x", Subnet: "10.77.1.0/28"}, wantErr: "/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCluster(tt.opts)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestNewClusterDefaultsAndCommandLine(t *testing.T) {
	c, err := NewCluster(ClusterOptions{Image: "faultline-node:test", RunID: "r1", NodeFlags: []string{"--read-mode", "lease"}})
	require.NoError(t, err)
	require.Equal(t, []string{"n1", "n2", "n3", "n4", "n5"}, c.Nodes())
	for i, n := range c.nodes {
		n.ip = nodeIP(netip.MustParsePrefix("10.77.4.0/24"), i)
	}
	cmd := strings.Join(c.nodeCommand(c.byName["n2"]), " ")
	assert.Contains(t, cmd, "/kvnode --id n2 --peers n1=10.77.4.11:7000,n2=10.77.4.12:7000,")
	assert.Contains(t, cmd, "--peer-http n1=10.77.4.11:8000,")
	assert.Contains(t, cmd, "--data-dir /data --listen-client :8000 --listen-peer :7000 --enable-fault-hooks --cluster-secret-file /cluster-secret --read-mode lease")
	assert.Equal(t, "faultline-r1-n2", c.byName["n2"].containerName)
}

func TestEveryClusterHasItsOwnSecret(t *testing.T) {
	a, err := NewCluster(ClusterOptions{Image: "faultline-node:test", RunID: "r1"})
	require.NoError(t, err)
	b, err := NewCluster(ClusterOptions{Image: "faultline-node:test", RunID: "r1"})
	require.NoError(t, err)
	assert.Regexp(t, "^[0-9a-f]{64}$", string(a.secret), "32 random bytes, hex")
	assert.NotEqual(t, a.secret, b.secret, "a fresh secret per run, even with the same run id")
	for _, n := range a.nodes {
		assert.NotContains(t, strings.Join(a.nodeCommand(n), " "), string(a.secret), "the secret travels as a file, not on the command line")
	}
}

func TestFaultsBeforeSetupAreErrors(t *testing.T) {
	c, err := NewCluster(ClusterOptions{Image: "faultline-node:test", Nodes: 3})
	require.NoError(t, err)
	ctx := context.Background()
	require.ErrorIs(t, c.Kill(ctx, "n1"), errNotSetUp)
	require.ErrorIs(t, c.SetGrudge(ctx, map[string][]string{"n1": {"n2"}}), errNotSetUp)
	require.ErrorIs(t, c.SetSilence(ctx, map[string][]string{"n1": {"n2"}}), errNotSetUp)
	require.ErrorIs(t, c.HealNetwork(ctx), errNotSetUp)
	_, err = c.Status(ctx, "n1")
	require.Error(t, err)
	assert.Empty(t, c.Endpoint("n1"))
}
