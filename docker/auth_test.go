package docker_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClusterNodesAuthenticateEachOther: every node reads the run's secret
// from the file copied into its container and proves it to its peers; none
// runs an unauthenticated peer port.
func TestClusterNodesAuthenticateEachOther(t *testing.T) {
	c := startCluster(t, 3)
	dir := t.TempDir()
	require.NoError(t, c.CollectLogs(context.Background(), dir))
	for _, n := range c.Nodes() {
		b, err := os.ReadFile(filepath.Join(dir, n+".log"))
		require.NoError(t, err)
		log := string(b)
		assert.Contains(t, log, "msg=\"peer transport listening\"", n)
		assert.Contains(t, log, "authenticated=true", n)
		assert.NotContains(t, log, "peer port is unauthenticated", n)
		assert.NotContains(t, log, "refused peer connection", n)
		// Each node connects to both others, with the secret.
		assert.GreaterOrEqual(t, strings.Count(log, "msg=\"peer connected\""), 2, "%s:\n%s", n, log)
	}
}
