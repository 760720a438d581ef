//go:build docker

package docker_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/docker"
)

// The first call on a host compiles the etcd server (minutes); every later
// call takes it from the cache and reuses the image.
func TestBuildEtcdImageReusesCachedServerAndImage(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	first, err := docker.BuildEtcdImage(ctx, docker.EtcdImageOptions{Logger: testLogger(t)})
	require.NoError(t, err)
	firstElapsed := time.Since(start)
	start = time.Now()
	second, err := docker.BuildEtcdImage(ctx, docker.EtcdImageOptions{Logger: testLogger(t)})
	require.NoError(t, err)
	t.Logf("image %s: first call %s, second call %s", first, firstElapsed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	require.Equal(t, first, second, "an unchanged build must give the same tag")
	require.Regexp(t, `^faultline-etcd:[0-9a-f]{12}$`, first)

	cacheRoot, err := os.UserCacheDir()
	require.NoError(t, err)
	cached, err := filepath.Glob(filepath.Join(cacheRoot, "faultline", "etcd-"+docker.EtcdVersion+"-go*-linux-*", docker.EtcdBinary))
	require.NoError(t, err)
	require.NotEmpty(t, cached, "the etcd server must be cached under %s", cacheRoot)
}

func TestBuildEtcdImageWithoutGoSaysWhatToDo(t *testing.T) {
	_, err := docker.BuildEtcdImage(context.Background(), docker.EtcdImageOptions{Go: "go-does-not-exist-here"})
	require.ErrorContains(t, err, "go toolchain not found")
}
