package test

import (
	"context"
	"fmt"
	"io"
	"net/http"
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

// kvnodeBinary is built once by TestMain.
var kvnodeBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kvnode-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "create temp dir:", err)
		os.Exit(1)
	}
	kvnodeBinary = filepath.Join(dir, "kvnode")
	args := []string{"build", "-o", kvnodeBinary}
	if os.Getenv("KVNODE_RACE") != "" {
		// KVNODE_RACE=1 builds the nodes with the race detector.
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/faultline/faultline/cmd/kvnode")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build kvnode:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fastFlags shorten the timeouts so elections take well under a second,
// while staying far above scheduling noise on a loaded 2-core machine.
var fastFlags = []string{
	"--tick=10ms", "--election-timeout=500ms", "--heartbeat-interval=50ms",
	"--request-timeout=3s", "--log-level=debug",
}

// startCluster starts n nodes with fastFlags plus extra and registers their
// cleanup; on failure the node logs are printed.
func startCluster(t *testing.T, n int, extra ...string) *Cluster {
	t.Helper()
	c, err := Start(Options{
		Binary: kvnodeBinary, Nodes: n, Dir: t.TempDir(),
		Flags: append(append([]string{}, fastFlags...), extra...),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		c.Close()
		for _, n := range c.Nodes {
			if logs, err := os.ReadFile(n.LogPath); err == nil {
				assert.NotContains(t, string(logs), "DATA RACE", "node %s", n.ID)
				assert.NotContains(t, string(logs), "panic:", "node %s", n.ID)
			}
		}
		if t.Failed() {
			t.Logf("node logs:\n%s", c.Logs())
		}
	})
	return c
}

// waitLeader waits up to 20 s for an agreed leader.
func waitLeader(t *testing.T, c *Cluster) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	leader, err := c.WaitLeader(ctx)
	require.NoError(t, err)
	return leader
}

// followers returns the running nodes other than leader.
func followers(c *Cluster, leader string) []string {
	var ids []string
	for _, n := range c.Nodes {
		if n.ID != leader && n.Running() {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

// newClient returns a client for node id with a test-sized timeout.
func newClient(c *Cluster, id string) *client.Client {
	return c.Client(id, client.Options{Timeout: 5 * time.Second})
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, err, "condition not reached within %s", timeout)
}

// rawRequest sends one HTTP request and returns the status and body.
func rawRequest(t *testing.T, method, url, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

// metricValue reads one unlabelled series from a node's /metrics.
func metricValue(t *testing.T, c *Cluster, id, name string) float64 {
	t.Helper()
	status, body := rawRequest(t, "GET", c.Node(id).URL()+"/metrics", "", nil)
	require.Equal(t, http.StatusOK, status)
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("metric %s not found in:\n%s", name, body)
	return 0
}
