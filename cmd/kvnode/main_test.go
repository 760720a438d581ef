package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/server"
)

func TestParseFlagsDefaults(t *testing.T) {
	cfg, level, profile, err := parseFlags([]string{
		"--id", "n2", "--peers", "n1=10.0.0.11:7000,n2=10.0.0.12:7000,n3=10.0.0.13:7000",
		"--data-dir", "/var/lib/kvnode", "--unsafe", "stale-read,forget-vote", "--read-mode", "lease",
		"--log-level", "debug",
	}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "n2", cfg.ID)
	assert.Equal(t, map[string]string{"n1": "10.0.0.11:8000", "n2": "10.0.0.12:8000", "n3": "10.0.0.13:8000"}, cfg.PeerHTTP,
		"default client addresses: each peer's host with this node's client port")
	assert.Equal(t, ":8000", cfg.ListenClient)
	assert.Equal(t, ":7000", cfg.ListenPeer)
	assert.Equal(t, 10*time.Millisecond, cfg.Tick)
	assert.Equal(t, time.Second, cfg.ElectionTimeout)
	assert.Equal(t, 100*time.Millisecond, cfg.HeartbeatInterval)
	assert.Equal(t, 2*time.Second, cfg.RequestTimeout)
	assert.Equal(t, uint64(100000), cfg.SnapshotEntries)
	assert.Equal(t, 256, cfg.MaxEntriesPerAppend)
	assert.Equal(t, 64, cfg.MaxInflightAppends)
	assert.Equal(t, server.ReadLease, cfg.ReadMode)
	assert.Equal(t, []string{"forget-vote", "stale-read"}, cfg.Unsafe.List())
	assert.Equal(t, "DEBUG", level.String())
	assert.Empty(t, profile)
	assert.False(t, cfg.EnableFaultHooks)
}

func TestParseFlagsExplicitPeerHTTP(t *testing.T) {
	cfg, _, _, err := parseFlags([]string{
		"--id", "n1", "--peers", "n1=127.0.0.1:7001,n2=127.0.0.1:7002",
		"--peer-http", "n1=127.0.0.1:8001,n2=127.0.0.1:8002", "--data-dir", "/tmp/d", "--enable-fault-hooks",
	}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8002", cfg.PeerHTTP["n2"])
	assert.True(t, cfg.EnableFaultHooks)
}

func TestParseFlagsUsageErrors(t *testing.T) {
	base := []string{"--id", "n1", "--peers", "n1=127.0.0.1:7001", "--data-dir", "/tmp/d"}
	cases := map[string][]string{
		"unknown flag":       {"--nope"},
		"stray argument":     append(base, "extra"),
		"bad peers":          {"--id", "n1", "--peers", "n1:7001", "--data-dir", "/tmp/d"},
		"duplicate peer":     {"--id", "n1", "--peers", "n1=a:1,n1=b:2", "--data-dir", "/tmp/d"},
		"peer-http missing":  append(base, "--peer-http", "n2=127.0.0.1:8002"),
		"bad log level":      append(base, "--log-level", "loud"),
		"bad duration":       append(base, "--tick", "often"),
		"bad listen address": append(base, "--listen-client", "8000"),
		"empty appends":      append(base, "--max-append-entries", "0"),
		"no pipeline":        append(base, "--max-inflight-appends", "0"),
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, _, err := parseFlags(args, io.Discard)
			require.Error(t, err)
			var ue usageError
			assert.True(t, errors.As(err, &ue), "want a usage error (exit 2), got %v", err)
		})
	}
}

func TestHelpPrintsFlags(t *testing.T) {
	var out bytes.Buffer
	_, _, _, err := parseFlags([]string{"--help"}, &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, out.String(), "--peers")
	assert.Contains(t, out.String(), "-snapshot-entries")
}

func TestBenchFlags(t *testing.T) {
	o, err := parseBenchFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 3, o.nodes)
	assert.Equal(t, 64, o.clients)
	assert.Equal(t, 10*time.Second, o.duration)
	assert.Equal(t, "raw", o.client)
	_, err = parseBenchFlags([]string{"--target", "followers"}, io.Discard)
	var ue usageError
	assert.True(t, errors.As(err, &ue))
}

func TestParseFlagsClusterSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		return path
	}
	good := write("good", "  c2VjcmV0IHNlY3JldCBzZWNyZXQ=\n")
	base := []string{"--id", "n1", "--peers", "n1=127.0.0.1:7001", "--data-dir", "/tmp/d"}
	cases := []struct {
		name      string
		args      []string
		want      string // the secret; "" with wantErr empty: none
		wantErr   string
		wantUsage bool
	}{
		{name: "none: unauthenticated", args: base},
		{name: "from a file, trimmed", args: append(base, "--cluster-secret-file", good), want: "c2VjcmV0IHNlY3JldCBzZWNyZXQ="},
		{name: "literal", args: append(base, "--cluster-secret", "literal secret of 24 b"), want: "literal secret of 24 b"},
		{name: "both", args: append(base, "--cluster-secret-file", good, "--cluster-secret", "literal secret of 24 b"),
			wantErr: "both given", wantUsage: true},
		{name: "missing file", args: append(base, "--cluster-secret-file", filepath.Join(dir, "nope")),
			wantErr: "head -c 32 /dev/urandom"},
		{name: "empty file", args: append(base, "--cluster-secret-file", write("empty", " \n")), wantErr: "is empty", wantUsage: true},
		{name: "huge file", args: append(base, "--cluster-secret-file", write("huge", strings.Repeat("x", 5000))),
			wantErr: "longer than", wantUsage: true},
		{name: "short secret", args: append(base, "--cluster-secret-file", write("short", "hunter2\n")),
			wantErr: "use at least 16", wantUsage: true},
		{name: "blank literal", args: append(base, "--cluster-secret", "   "), wantErr: "blank", wantUsage: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, _, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr == "" {
				require.NoError(t, err)
				if tc.want == "" {
					assert.Nil(t, cfg.ClusterSecret)
				} else {
					assert.Equal(t, []byte(tc.want), cfg.ClusterSecret)
				}
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.NotContains(t, err.Error(), "literal secret", "the secret never appears in an error")
			var ue usageError
			assert.Equal(t, tc.wantUsage, errors.As(err, &ue), "usage error (exit 2) or runtime error (exit 1): %v", err)
		})
	}
}

func TestParseFlagsMaxPeerFrameBytes(t *testing.T) {
	base := []string{"--id", "n1", "--peers", "n1=127.0.0.1:7001", "--data-dir", "/tmp/d"}
	cfg, _, _, err := parseFlags(append(base, "--max-peer-frame-bytes", "3000000000"), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, int64(3000000000), cfg.MaxPeerFrameBytes)
	_, _, _, err = parseFlags(append(base, "--max-peer-frame-bytes", "1048576"), io.Discard)
	var ue usageError
	require.True(t, errors.As(err, &ue), "below the largest append: %v", err)
	assert.Contains(t, err.Error(), "--max-append-entries")
}
