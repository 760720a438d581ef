package docker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRemoveImagesKeepsTheGivenTag(t *testing.T) {
	ctx := context.Background()
	if err := Available(ctx); err != nil {
		t.Skipf("skipping real-container test: %v", err)
	}
	// Tag a tiny image built from an empty scratch context under a test
	// repository, so the test never touches images other runs use.
	const repo = "faultline-remove-test"
	files := map[string][]byte{"Dockerfile": []byte("FROM scratch\nLABEL faultline.test=1\n")}
	buildContext, err := tarContext(files)
	require.NoError(t, err)
	cli, err := newClient(ctx)
	require.NoError(t, err)
	defer cli.Close()
	resp, err := cli.ImageBuild(ctx, buildContext, buildOptions(repo+":one"))
	require.NoError(t, err)
	require.NoError(t, drainBuild(resp.Body))
	require.NoError(t, cli.ImageTag(ctx, repo+":one", repo+":two"))

	removed, err := removeImages(ctx, repo, repo+":two")
	require.NoError(t, err)
	require.Equal(t, 1, removed)
	_, err = cli.ImageInspect(ctx, repo+":two")
	require.NoError(t, err, "the kept tag must survive")
	_, err = cli.ImageInspect(ctx, repo+":one")
	require.True(t, isNotFound(err), "the other tag must be gone: %v", err)

	removed, err = removeImages(ctx, repo, "")
	require.NoError(t, err)
	require.Equal(t, 1, removed)
}
