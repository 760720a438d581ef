package test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/client"
)

// runKvnode runs the binary to completion and returns its exit code and
// stderr.
func runKvnode(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kvnodeBinary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), stderr.String()
	}
	require.NoError(t, err, "kvnode %v should have failed", args)
	return 0, stderr.String()
}

// nodeArgs is a valid single-node command line on free ports.
func nodeArgs(t *testing.T, dataDir string) []string {
	ports, err := freePorts(2)
	require.NoError(t, err)
	clientAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "127.0.0.1:" + strconv.Itoa(ports[1])
	return []string{"--id", "n1", "--peers", "n1=" + peer, "--peer-http", "n1=" + clientAddr,
		"--listen-client", clientAddr, "--listen-peer", peer, "--data-dir", dataDir}
}

// TestUsageErrorsExitTwo: a bad command line exits 2 with one line that says
// what to do.
func TestUsageErrorsExitTwo(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--bogus"}, "--help"},
		{"missing id", []string{"--peers", "n1=127.0.0.1:7000", "--data-dir", dir}, "--id is required"},
		{"id not in peers", []string{"--id", "n4", "--peers", "n1=127.0.0.1:7000", "--data-dir", dir}, "add n4=host:port"},
		{"bad peers", []string{"--id", "n1", "--peers", "n1", "--data-dir", dir}, "id=host:port"},
		{"bad read mode", []string{"--read-mode", "eventual"}, "use index, lease or local"},
		{"bad unsafe switch", []string{"--unsafe", "yolo"}, "unknown unsafe switch"},
		{"election below heartbeat", []string{"--id", "n1", "--peers", "n1=127.0.0.1:7000", "--data-dir", dir,
			"--election-timeout", "100ms", "--heartbeat-interval", "100ms"}, "at least twice"},
		{"short cluster secret", append(nodeArgs(t, dir), "--cluster-secret", "hunter2"), "use at least 16"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := runKvnode(t, tc.args...)
			assert.Equal(t, 2, code, stderr)
			assert.Contains(t, stderr, tc.want)
			assert.Equal(t, 1, strings.Count(strings.TrimRight(stderr, "\n"), "\n")+1, "one line: %q", stderr)
			assert.True(t, strings.HasPrefix(stderr, "kvnode: "), stderr)
		})
	}
}

// TestRuntimeErrorsExitOne: a port in use, an unusable data directory and a
// corrupt WAL exit 1 with an error naming the cause.
func TestRuntimeErrorsExitOne(t *testing.T) {
	t.Run("client port in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		args := nodeArgs(t, t.TempDir())
		args = append(args, "--listen-client", ln.Addr().String())
		code, stderr := runKvnode(t, args...)
		assert.Equal(t, 1, code, stderr)
		assert.Contains(t, stderr, ln.Addr().String())
		assert.Contains(t, stderr, "--listen-client")
	})
	t.Run("data dir not a directory", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
		code, stderr := runKvnode(t, nodeArgs(t, filepath.Join(file, "data"))...)
		assert.Equal(t, 1, code, stderr)
		assert.Contains(t, stderr, "--data-dir")
	})
	t.Run("cluster secret file missing", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "no-such-secret")
		code, stderr := runKvnode(t, append(nodeArgs(t, t.TempDir()), "--cluster-secret-file", missing)...)
		assert.Equal(t, 1, code, stderr)
		assert.Contains(t, stderr, "--cluster-secret-file")
		assert.Contains(t, stderr, missing)
	})
	t.Run("corrupt wal", func(t *testing.T) {
		c := startCluster(t, 1, "--segment-bytes=1024")
		leader := waitLeader(t, c)
		cl := newClient(c, leader)
		for range 100 {
			require.Equal(t, client.OK, cl.Put(context.Background(), "k", strings.Repeat("v", 50)).Outcome)
		}
		require.NoError(t, c.Stop(leader))
		segments, err := filepath.Glob(filepath.Join(c.Node(leader).DataDir, "*"))
		require.NoError(t, err)
		var first string
		for _, s := range segments {
			if st, err := os.Stat(s); err == nil && st.Mode().IsRegular() && st.Size() > 200 {
				first = s
				break
			}
		}
		require.NotEmpty(t, first, "no segment in %v", segments)
		data, err := os.ReadFile(first)
		require.NoError(t, err)
		data[len(data)/2] ^= 0xff
		require.NoError(t, os.WriteFile(first, data, 0o644))

		args := c.Node(leader).args
		code, stderr := runKvnode(t, args...)
		assert.Equal(t, 1, code, stderr)
		assert.Contains(t, stderr, "wal")
		assert.Contains(t, stderr, filepath.Base(first))
	})
}

// TestFaultHooksOnlyWithFlag: POST /admin/clock does not exist without
// --enable-fault-hooks; with it a bump moves the reported clock offset.
func TestFaultHooksOnlyWithFlag(t *testing.T) {
	ctx := context.Background()
	plain := startCluster(t, 1)
	waitLeader(t, plain)
	_, err := newClient(plain, "n1").Clock(ctx, client.ClockCommand{Action: client.ClockBump, OffsetMillis: 1000})
	require.Error(t, err)
	status, _ := rawRequest(t, "POST", plain.Node("n1").URL()+"/admin/clock", `{"action":"bump","offset_ms":1000}`, nil)
	assert.Equal(t, 404, status)
	status, _ = rawRequest(t, "POST", plain.Node("n1").URL()+"/admin/crash-point", `{"point":"after-vote","armed":true}`, nil)
	assert.Equal(t, 404, status)

	hooked := startCluster(t, 1, "--enable-fault-hooks")
	waitLeader(t, hooked)
	st, err := newClient(hooked, "n1").Clock(ctx, client.ClockCommand{Action: client.ClockBump, OffsetMillis: 60000})
	require.NoError(t, err)
	assert.InDelta(t, 60000, st.ClockOffsetMillis, 1000)
	st, err = newClient(hooked, "n1").Clock(ctx, client.ClockCommand{Action: client.ClockRate, Rate: 1.5})
	require.NoError(t, err)
	assert.InDelta(t, 1.5, st.ClockRate, 0.001)
	st, err = newClient(hooked, "n1").Clock(ctx, client.ClockCommand{Action: client.ClockReset})
	require.NoError(t, err)
	assert.InDelta(t, 0, st.ClockOffsetMillis, 10)
	assert.InDelta(t, 1, st.ClockRate, 0.001)
	_, err = newClient(hooked, "n1").CrashPoint(ctx, client.CrashPointCommand{Point: "before-lunch", Armed: true})
	assert.ErrorContains(t, err, `unknown crash point "before-lunch"`)
	st, err = newClient(hooked, "n1").CrashPoint(ctx, client.CrashPointCommand{Point: client.CrashAfterVote, Armed: true})
	require.NoError(t, err)
	assert.Equal(t, []string{client.CrashAfterVote}, st.CrashPoints)
	st, err = newClient(hooked, "n1").CrashPoint(ctx, client.CrashPointCommand{Point: client.CrashAfterVote})
	require.NoError(t, err)
	assert.Empty(t, st.CrashPoints)
}

// TestUnsafeSwitchesReported: a node started with unsafe switches warns
// loudly and lists them in /status.
func TestUnsafeSwitchesReported(t *testing.T) {
	c := startCluster(t, 1, "--unsafe=stale-read,skip-fsync")
	waitLeader(t, c)
	st, err := c.Status(context.Background(), "n1")
	require.NoError(t, err)
	assert.Equal(t, []string{"skip-fsync", "stale-read"}, st.Unsafe)
	logs, err := os.ReadFile(c.Node("n1").LogPath)
	require.NoError(t, err)
	assert.Contains(t, string(logs), "UNSAFE")

	safe := startCluster(t, 1)
	waitLeader(t, safe)
	st, err = safe.Status(context.Background(), "n1")
	require.NoError(t, err)
	assert.Empty(t, st.Unsafe)
	assert.NotEmpty(t, st.Digest)
}

// TestGracefulShutdown: SIGTERM stops the node cleanly (exit 0) and the data
// is there after a restart.
func TestGracefulShutdown(t *testing.T) {
	c := startCluster(t, 1)
	waitLeader(t, c)
	require.Equal(t, client.OK, newClient(c, "n1").Put(context.Background(), "k", "v").Outcome)
	require.NoError(t, c.Stop("n1"))
	code, exited := c.Node("n1").ExitCode()
	require.True(t, exited)
	assert.Equal(t, 0, code)
	logs, err := os.ReadFile(c.Node("n1").LogPath)
	require.NoError(t, err)
	assert.Contains(t, string(logs), "shutting down")

	require.NoError(t, c.Restart("n1"))
	waitLeader(t, c)
	res := newClient(c, "n1").Get(context.Background(), "k")
	require.Equal(t, client.OK, res.Outcome, "%v", res.Err)
	assert.Equal(t, "v", res.Value)
}
