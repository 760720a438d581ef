package docker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/docker"
)

// A cleanup started while a run is going leaves it alone unless forced; once
// the run's process lets go of it, the same cleanup removes it.
func TestCleanupLeavesLiveRunsAlone(t *testing.T) {
	image := nodeImage(t)
	ctx := context.Background()
	runID := "cleanup-live-" + time.Now().UTC().Format("150405.000000")
	release, err := docker.HoldRun(runID)
	require.NoError(t, err)
	defer release()
	c, err := docker.NewCluster(docker.ClusterOptions{Node: kvnodeSpec(t), RunID: runID, Nodes: 1, Image: image, Logger: testLogger(t)})
	require.NoError(t, err)
	require.NoError(t, c.Setup(ctx))
	defer c.Teardown(ctx)

	res, err := docker.CleanupUnused(ctx, docker.CleanupOptions{RunID: runID})
	require.NoError(t, err)
	require.Equal(t, docker.CleanupResult{Removed: 0, LiveRuns: []string{runID}}, res)
	containers, networks := labelled(t, runID)
	require.Equal(t, 2, containers+networks, "a live run keeps its container and network")

	release()
	res, err = docker.CleanupUnused(ctx, docker.CleanupOptions{RunID: runID})
	require.NoError(t, err)
	require.Equal(t, docker.CleanupResult{Removed: 2, LiveRuns: []string{}}, res)
	containers, networks = labelled(t, runID)
	require.Zero(t, containers+networks, "a run nobody holds is removed")
}

func TestCleanupRefusesABadRunID(t *testing.T) {
	_, err := docker.CleanupUnused(context.Background(), docker.CleanupOptions{RunID: "no spaces"})
	require.ErrorContains(t, err, "use letters, digits")
}
