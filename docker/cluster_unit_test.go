package docker

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/sut"
)

func TestNewClusterValidatesOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    ClusterOptions
		wantErr string
	}{
		{name: "no image", opts: ClusterOptions{}, wantErr: "no image"},
		{name: "no store", opts: ClusterOptions{Image: "x"}, wantErr: "no store name"},
		{name: "too many nodes", opts: ClusterOptions{Image: "x", Node: testSpec(), Nodes: 241}, wantErr: "between 1 and 240"},
		{name: "bad run id", opts: ClusterOptions{Image: "x", Node: testSpec(), RunID: "a/b"}, wantErr: "run id"},
		{name: "ipv6 subnet", opts: ClusterOptions{Image: "x", Node: testSpec(), Subnet: "fd00::/64"}, wantErr: "IPv4"},
		{name: "tiny subnet", opts: ClusterOptions{Image: "x", Node: testSpec(), Subnet: "10.77.1.0/28"}, wantErr: "/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCluster(tt.opts)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// testSpec is a node spec of a store that exists only in these tests.
func testSpec() NodeSpec {
	return NodeSpec{
		Store: "teststore",
		Command: func(node string, members []Member) []string {
			cmd := []string{"/teststore", "--name", node}
			for _, m := range members {
				cmd = append(cmd, m.Name+"="+m.IP.String())
			}
			return cmd
		},
		ClientPort: 9000, PeerPort: 9001, DataDir: "/data",
		Status: func(context.Context, string) (sut.Status, error) { return sut.Status{}, nil },
	}
}

func TestNewClusterDefaultsAndCommandLine(t *testing.T) {
	c, err := NewCluster(ClusterOptions{Image: "faultline-node:test", RunID: "r1", Node: testSpec()})
	require.NoError(t, err)
	require.Equal(t, []string{"n1", "n2", "n3", "n4", "n5"}, c.Nodes())
	for i, n := range c.nodes {
		n.ip = nodeIP(netip.MustParsePrefix("10.77.4.0/24"), i)
	}
	cmd := strings.Join(c.nodeCommand(c.byName["n2"]), " ")
	assert.Equal(t, "/teststore --name n2 n1=10.77.4.11 n2=10.77.4.12 n3=10.77.4.13 n4=10.77.4.14 n5=10.77.4.15", cmd)
	assert.Equal(t, "faultline-r1-n2", c.byName["n2"].containerName)
	assert.Equal(t, "teststore", c.StoreName())
	assert.False(t, c.HasClockHook())
	assert.False(t, c.HasCrashPoints())
}

func TestFaultsBeforeSetupAreErrors(t *testing.T) {
	c, err := NewCluster(ClusterOptions{Image: "faultline-node:test", Nodes: 3, Node: testSpec()})
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
