package kvnode

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/server"
)

func TestConfigFlagsRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		flags []string
	}{
		{"empty", Config{}, nil},
		{"read mode", Config{ReadMode: server.ReadLease}, []string{"--read-mode=lease"}},
		{"unsafe switches keep their order", Config{Unsafe: []string{server.UnsafeSkipFsync, server.UnsafeStaleRead}},
			[]string{"--unsafe=skip-fsync,stale-read"}},
		{"timeouts", Config{ElectionTimeout: 1200 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond, RequestTimeout: 30 * time.Second},
			[]string{"--election-timeout=1.2s", "--heartbeat-interval=100ms", "--request-timeout=30s"}},
		{"thresholds", Config{SnapshotEntries: 250, SegmentBytes: 64 << 10},
			[]string{"--snapshot-entries=250", "--segment-bytes=65536"}},
		{"pipeline", Config{MaxAppendEntries: 1, MaxInflightAppends: 1},
			[]string{"--max-append-entries=1", "--max-inflight-appends=1"}},
		{"other flags come last, as given", Config{ReadMode: server.ReadLocal, Other: []string{"--log-level", "debug", "--tick=5ms"}},
			[]string{"--read-mode=local", "--log-level", "debug", "--tick=5ms"}},
		{"everything", Config{ReadMode: server.ReadIndex, Unsafe: []string{server.UnsafeForgetVote}, ElectionTimeout: 2 * time.Second,
			HeartbeatInterval: 50 * time.Millisecond, RequestTimeout: time.Second, SnapshotEntries: 100, SegmentBytes: 1 << 20,
			MaxAppendEntries: 8, MaxInflightAppends: 4, Other: []string{"--log-level=warn"}},
			[]string{"--read-mode=index", "--election-timeout=2s", "--heartbeat-interval=50ms", "--request-timeout=1s",
				"--snapshot-entries=100", "--segment-bytes=1048576", "--max-append-entries=8", "--max-inflight-appends=4",
				"--unsafe=forget-vote", "--log-level=warn"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.flags, tt.cfg.Flags())
			got, err := ParseConfig(tt.cfg.Flags())
			require.NoError(t, err)
			assert.Equal(t, tt.cfg, got)
		})
	}
}

func TestParseConfigAsAUserWritesIt(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		want  Config
	}{
		{"value as the next token", []string{"--read-mode", "lease", "--election-timeout", "2s"},
			Config{ReadMode: server.ReadLease, ElectionTimeout: 2 * time.Second}},
		{"one dash", []string{"-unsafe=stale-read"}, Config{Unsafe: []string{server.UnsafeStaleRead}}},
		{"the last of a repeated flag wins", []string{"--election-timeout=1s", "--election-timeout=3s"},
			Config{ElectionTimeout: 3 * time.Second}},
		{"blank switches are skipped", []string{"--unsafe= stale-read,,skip-fsync "},
			Config{Unsafe: []string{server.UnsafeStaleRead, server.UnsafeSkipFsync}}},
		{"unknown flags pass through in order", []string{"--log-level=debug", "--segment-bytes=4096", "--cpu-profile", "/tmp/p"},
			Config{SegmentBytes: 4096, Other: []string{"--log-level=debug", "--cpu-profile", "/tmp/p"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig(tt.flags)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		name    string
		flags   []string
		wantErr string
	}{
		{"unknown unsafe switch", []string{"--unsafe=stale-read,heisenbug"}, "heisenbug"},
		{"unknown read mode", []string{"--read-mode=eventual"}, "--read-mode"},
		{"bad duration", []string{"--election-timeout=soon"}, "--election-timeout"},
		{"zero duration", []string{"--heartbeat-interval=0s"}, "must be positive"},
		{"negative count", []string{"--max-append-entries=-1"}, "--max-append-entries"},
		{"zero snapshot interval", []string{"--snapshot-entries=0"}, "must be positive"},
		{"not a number", []string{"--segment-bytes=64MiB"}, "--segment-bytes"},
		{"missing value", []string{"--log-level=debug", "--request-timeout"}, "needs a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(tt.flags)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestNodeSpecRefusesBadFlags(t *testing.T) {
	_, err := NodeSpec([]string{"--unsafe=heisenbug"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "heisenbug")
}
