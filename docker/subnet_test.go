package docker

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCandidateSubnetsSkipsUsedSubnets(t *testing.T) {
	tests := []struct {
		name      string
		inUse     []string
		wantCount int
	}{
		{name: "nothing in use", wantCount: 256},
		{name: "docker default bridge does not clash", inUse: []string{"172.17.0.0/16"}, wantCount: 256},
		{name: "one /24 taken", inUse: []string{"10.77.5.0/24"}, wantCount: 255},
		{name: "a /16 covering all", inUse: []string{"10.0.0.0/8"}, wantCount: 0},
		{name: "two /24 taken", inUse: []string{"10.77.5.0/24", "10.77.6.128/25"}, wantCount: 254},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inUse []netip.Prefix
			for _, s := range tt.inUse {
				inUse = append(inUse, netip.MustParsePrefix(s))
			}
			got := candidateSubnets("run-1", inUse)
			require.Len(t, got, tt.wantCount)
			seen := map[netip.Prefix]bool{}
			for _, p := range got {
				assert.False(t, overlapsAny(p, inUse), "candidate %s overlaps a used subnet", p)
				assert.False(t, seen[p], "candidate %s listed twice", p)
				seen[p] = true
				assert.Equal(t, 24, p.Bits())
			}
		})
	}
}

func TestCandidateSubnetsStartDependsOnRunID(t *testing.T) {
	a := candidateSubnets("20260101T000000-a", nil)
	b := candidateSubnets("20260101T000000-b", nil)
	require.NotEmpty(t, a)
	assert.NotEqual(t, a[0], b[0], "different runs should start at different subnets")
	assert.Equal(t, a, candidateSubnets("20260101T000000-a", nil), "same run id, same order")
}

func TestNodeAndGatewayIPs(t *testing.T) {
	subnet := netip.MustParsePrefix("10.77.9.0/24")
	assert.Equal(t, "10.77.9.1", gatewayIP(subnet).String())
	assert.Equal(t, "10.77.9.11", nodeIP(subnet, 0).String())
	assert.Equal(t, "10.77.9.15", nodeIP(subnet, 4).String())
}
