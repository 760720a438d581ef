package docker_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/docker"
	"github.com/faultline/faultline/sut/kvnode"
)

// These tests run real containers. They skip, saying so, only when no Docker
// engine answers.

var (
	imageOnce sync.Once
	imageTag  string
	imageErr  error
)

func requireDocker(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := docker.Available(ctx); err != nil {
		t.Skipf("skipping real-container test: %v", err)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// nodeImage builds (or reuses) the node image once per test binary.
func nodeImage(t *testing.T) string {
	t.Helper()
	requireDocker(t)
	imageOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		imageTag, imageErr = kvnode.BuildImage(ctx, docker.ImageOptions{Logger: testLogger(t)})
	})
	require.NoError(t, imageErr)
	return imageTag
}

// labelled lists containers and networks carrying the run's label.
func labelled(t *testing.T, runID string) (containers, networks int) {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	defer cli.Close()
	ctx := context.Background()
	args := filters.NewArgs(filters.Arg("label", docker.LabelFaultline+"=1"))
	if runID != "" {
		args.Add("label", docker.LabelRun+"="+runID)
	}
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	require.NoError(t, err)
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: args})
	require.NoError(t, err)
	return len(cs), len(ns)
}

func TestBuildImageReusesUnchangedBuild(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	first, err := kvnode.BuildImage(ctx, docker.ImageOptions{Logger: testLogger(t)})
	require.NoError(t, err)
	firstElapsed := time.Since(start)
	start = time.Now()
	second, err := kvnode.BuildImage(ctx, docker.ImageOptions{Logger: testLogger(t)})
	require.NoError(t, err)
	t.Logf("image %s: first call %s, second call %s", first, firstElapsed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	require.Equal(t, first, second, "an unchanged build must give the same tag")
	require.Regexp(t, `^faultline-node:[0-9a-f]{12}$`, first)
}

func TestBuildImageWithoutGoSaysWhatToDo(t *testing.T) {
	_, err := kvnode.BuildImage(context.Background(), docker.ImageOptions{Go: "go-does-not-exist-here"})
	require.ErrorContains(t, err, "go toolchain not found")
}

func TestUnreachableDockerSaysWhatToDo(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	_, err := docker.Cleanup(context.Background(), "")
	require.ErrorIs(t, err, docker.ErrDockerNotRunning)
	require.ErrorContains(t, err, "start the Docker engine and retry")
	require.NotContains(t, err.Error(), "\n")
}

func TestCleanupRemovesLabelledContainersAndNetwork(t *testing.T) {
	image := nodeImage(t)
	ctx := context.Background()
	runID := "cleanup-" + time.Now().UTC().Format("150405.000000")
	c, err := docker.NewCluster(docker.ClusterOptions{Node: kvnodeSpec(t), RunID: runID, Nodes: 1, Image: image, Logger: testLogger(t)})
	require.NoError(t, err)
	require.NoError(t, c.Setup(ctx))
	containers, networks := labelled(t, runID)
	require.Equal(t, 1, containers)
	require.Equal(t, 1, networks)

	removed, err := docker.Cleanup(ctx, runID)
	require.NoError(t, err)
	require.Equal(t, 2, removed)
	containers, networks = labelled(t, runID)
	require.Zero(t, containers+networks, "cleanup left labelled objects behind")
	require.NoError(t, c.Teardown(ctx), "teardown after cleanup must be a no-op")
}

// kvnodeSpec is kvnode's node spec: the store these tests run.
func kvnodeSpec(t *testing.T) docker.NodeSpec {
	t.Helper()
	spec, err := kvnode.NodeSpec(nil)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}
