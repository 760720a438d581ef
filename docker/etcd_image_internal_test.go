package docker

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEtcdCachePathIsKeyedByVersionGoAndArch(t *testing.T) {
	base := etcdCachePath("/cache", "go1.26.8", "amd64")
	assert.Equal(t, filepath.Join("/cache", "faultline", "etcd-"+EtcdVersion+"-go1.26.8-linux-amd64", "etcd"), base)
	assert.NotEqual(t, base, etcdCachePath("/cache", "go1.26.9", "amd64"), "another Go release must not take this build")
	assert.NotEqual(t, base, etcdCachePath("/cache", "go1.26.8", "arm64"), "another architecture must not take this build")
}
