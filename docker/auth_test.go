package docker_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/docker"
)

// TestClusterNodesAuthenticateEachOther: every node reads the run's secret
// from the file copied into its container and proves it to its peers; none
// runs an unauthenticated peer port.
func TestClusterNodesAuthenticateEachOther(t *testing.T) {
	c := startCluster(t, 3)
	// A leader needs only two nodes: wait until the third has connected
	// too, every node to both others.
	var logs map[string]string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		logs = collectLogs(t, c)
		connected := true
		for _, log := range logs {
			connected = connected && strings.Count(log, "msg=\"peer connected\"") >= 2
		}
		if connected {
			break
		}
		require.True(t, time.Now().Before(deadline), "not every node connected to both others: %v", logs)
	}
	for n, log := range logs {
		assert.Contains(t, log, "msg=\"peer transport listening\"", n)
		assert.Contains(t, log, "authenticated=true", n)
		assert.NotContains(t, log, "authenticated=false", n)
		assert.NotContains(t, log, "peer port is unauthenticated", n)
		assert.NotContains(t, log, "refused peer connection", n)
	}
}

// collectLogs returns every node's log so far.
func collectLogs(t *testing.T, c *docker.Cluster) map[string]string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, c.CollectLogs(context.Background(), dir))
	logs := map[string]string{}
	for _, n := range c.Nodes() {
		b, err := os.ReadFile(filepath.Join(dir, n+".log"))
		require.NoError(t, err)
		logs[n] = string(b)
	}
	return logs
}
