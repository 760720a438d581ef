package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/transport"
)

func TestPeerFrameBytes(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Config)
		want   uint32
	}{
		// 256 entries of up to 4 MiB + 8 KiB each, plus the message's fields.
		{"default appends", func(*Config) {}, 256*(4<<20+8<<10) + 1<<10},
		{"explicit default appends", func(c *Config) { c.MaxEntriesPerAppend = 256 }, 256*(4<<20+8<<10) + 1<<10},
		{"small appends leave room for a 256 MiB snapshot", func(c *Config) { c.MaxEntriesPerAppend = 1 }, transport.DefaultMaxFrameBytes},
		{"set explicitly", func(c *Config) { c.MaxPeerFrameBytes = 2 << 30 }, 2 << 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.change(&cfg)
			require.NoError(t, cfg.Validate())
			got := cfg.peerFrameBytes()
			assert.Equal(t, tc.want, got)
			assert.GreaterOrEqual(t, int64(got), cfg.largestAppendBytes(), "the largest append fits a frame")
		})
	}
}

func TestValidatePeers(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Config)
		want   string // "" means valid
	}{
		{"no secret (unauthenticated)", func(*Config) {}, ""},
		{"a secret", func(c *Config) { c.ClusterSecret = []byte("0123456789abcdef") }, ""},
		{"a short secret", func(c *Config) { c.ClusterSecret = []byte("hunter2") }, "use at least 16"},
		{"frame limit below the largest append", func(c *Config) { c.MaxPeerFrameBytes = 256 << 20 }, "raise it, lower --max-append-entries"},
		{"frame limit beyond the length field", func(c *Config) { c.MaxPeerFrameBytes = 1 << 32 }, "--max-peer-frame-bytes"},
		{"negative frame limit", func(c *Config) { c.MaxPeerFrameBytes = -1 }, "--max-peer-frame-bytes"},
		{"appends too large for any frame", func(c *Config) { c.MaxEntriesPerAppend = 2000 }, "lower it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.change(&cfg)
			err := cfg.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestClusterSecretReachesTheTransport: nodes with the same secret elect a
// leader and replicate; a node with another secret is refused by its peers.
func TestClusterSecretReachesTheTransport(t *testing.T) {
	c := startInProcess(t, 3, func(cfg *Config) {
		cfg.ClusterSecret = []byte("in-process cluster secret")
		if cfg.ID == "n3" {
			cfg.ClusterSecret = []byte("n3 has another secret entirely")
		}
	})
	leader := c.leader(t)
	require.NotEqual(t, "n3", leader, "n3 cannot reach a quorum")
	res := c.client(leader).Put(context.Background(), "k", "v")
	require.Equal(t, client.OK, res.Outcome, "put: %v", res.Err)
	require.Eventually(t, func() bool {
		return c.servers["n3"].transport.HandshakeRejects() > 0
	}, 10*time.Second, 10*time.Millisecond, "n3 refuses its peers' proofs, or they refuse its")
	for _, id := range []string{"n1", "n2"} {
		st := c.servers[id].transport.Stats()["n3"]
		assert.Zero(t, st.Connects, "%s never connected to n3", id)
	}
	assert.Equal(t, uint64(1), c.servers["n1"].transport.Stats()["n2"].Connects)
}
