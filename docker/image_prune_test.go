package docker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPruneKeepsUsedAndRecentImages runs the prune policy on tiny images of a
// repository and label of the test's own, so it never touches the images
// other runs use: a tag a container uses (a stopped one without faultline's
// labels) and the most recently built or reused tags survive, an old unused
// one goes, and an untagged twin goes only once it is old enough.
func TestPruneKeepsUsedAndRecentImages(t *testing.T) {
	ctx := context.Background()
	if err := Available(ctx); err != nil {
		t.Skipf("skipping real-container test: %v", err)
	}
	cli, err := newClient(ctx)
	require.NoError(t, err)
	defer cli.Close()
	nonce := time.Now().UnixNano()
	set := imageSet{repository: fmt.Sprintf("faultline-prune-test-%d", nonce), label: fmt.Sprintf("faultline.prune-test-%d", nonce)}
	ref := func(name string) string { return set.repository + ":" + name }
	t.Cleanup(func() { removeTestImages(cli, set) })

	// Distinct images (each a label of its own), built oldest first.
	ids := map[string]string{}
	for i, name := range []string{"used", "touched", "old", "new", "newer", "twin"} {
		ids[name] = buildTestImage(t, cli, set, ref(name), fmt.Sprintf("%d-%d", nonce, i))
	}
	// "touched" is reused last: BuildImage re-tags what it reuses.
	require.NoError(t, cli.ImageTag(ctx, ref("touched"), ref("touched")))
	// A stopped container, with no faultline label, uses "used".
	ctr, err := cli.ContainerCreate(ctx, &container.Config{Image: ref("used"), Cmd: []string{"/absent"}}, nil, nil, nil, "")
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = cli.ContainerRemove(context.Background(), ctr.ID, container.RemoveOptions{Force: true})
	})
	// A twin built under the same tag leaves "twin" untagged.
	buildTestImage(t, cli, set, ref("twin"), fmt.Sprintf("%d-twin2", nonce))

	// Newest first: twin (the rebuilt one), touched, newer, new, old, used.
	removed, err := pruneUnusedImages(ctx, cli, set, 3, time.Now())
	require.NoError(t, err)
	assert.Equal(t, 2, removed, "the old and the new tag, not the recent untagged twin")
	for name, want := range map[string]bool{"used": true, "touched": true, "old": false, "new": false, "newer": true, "twin": true} {
		_, err := cli.ImageInspect(ctx, ref(name))
		assert.Equal(t, want, err == nil, "tag %s kept: %v", name, err)
	}
	_, err = cli.ImageInspect(ctx, ids["twin"])
	require.NoError(t, err, "an untagged twin younger than %v may be a build about to tag it", untaggedMinAge)

	removed, err = pruneUnusedImages(ctx, cli, set, 3, time.Now().Add(untaggedMinAge+time.Minute))
	require.NoError(t, err)
	assert.Equal(t, 1, removed)
	_, err = cli.ImageInspect(ctx, ids["twin"])
	assert.True(t, isNotFound(err), "an old untagged twin no container uses goes: %v", err)
}

func buildTestImage(t *testing.T, cli *client.Client, set imageSet, tag, label string) string {
	t.Helper()
	ctx := context.Background()
	files := map[string][]byte{"Dockerfile": []byte("FROM scratch\nLABEL faultline.test=" + label + "\n")}
	buildContext, err := tarContext(files)
	require.NoError(t, err)
	resp, err := cli.ImageBuild(ctx, buildContext, build.ImageBuildOptions{
		Tags: []string{tag}, Remove: true, ForceRemove: true, Version: build.BuilderV1,
		Labels: map[string]string{set.label: "1"},
	})
	require.NoError(t, err)
	require.NoError(t, drainBuild(resp.Body))
	info, err := cli.ImageInspect(ctx, tag)
	require.NoError(t, err)
	return info.ID
}

// removeTestImages removes every image carrying the test's label, tagged or not.
func removeTestImages(cli *client.Client, set imageSet) {
	ctx := context.Background()
	images, err := cli.ImageList(ctx, image.ListOptions{All: true})
	if err != nil {
		return
	}
	for _, img := range images {
		if img.Labels[set.label] == "1" {
			_, _ = cli.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true})
		}
	}
}
