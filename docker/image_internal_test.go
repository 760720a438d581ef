package docker

import (
	"archive/tar"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestContentHashChangesWithAnyByte(t *testing.T) {
	base := map[string][]byte{"Dockerfile": []byte(nodeDockerfile), "store": []byte("node"), AgentBinary: []byte("agent")}
	h := contentHash(base)
	assert.Len(t, h, 12)
	assert.Equal(t, h, contentHash(map[string][]byte{"store": []byte("node"), AgentBinary: []byte("agent"), "Dockerfile": []byte(nodeDockerfile)}), "order of insertion must not matter")
	changed := map[string][]byte{"Dockerfile": []byte(nodeDockerfile), "store": []byte("nodf"), AgentBinary: []byte("agent")}
	assert.NotEqual(t, h, contentHash(changed))
	// Moving bytes from one file to the next must change the hash (framing).
	shifted := map[string][]byte{"Dockerfile": []byte(nodeDockerfile), "store": []byte("nod"), AgentBinary: []byte("eagent")}
	assert.NotEqual(t, h, contentHash(shifted))
}

func TestTarContextHoldsBinariesAndDirectories(t *testing.T) {
	files := map[string][]byte{"Dockerfile": []byte(nodeDockerfile), "store": []byte("node"), AgentBinary: []byte("agent")}
	r, err := tarContext(files)
	require.NoError(t, err)
	tr := tar.NewReader(r)
	got := map[string]*tar.Header{}
	contents := map[string]string{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		got[hdr.Name] = hdr
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		contents[hdr.Name] = string(b)
	}
	require.Contains(t, got, "data/")
	require.Contains(t, got, "tmp/")
	assert.Equal(t, byte(tar.TypeDir), got["data/"].Typeflag)
	assert.Equal(t, "node", contents["store"])
	assert.Equal(t, "agent", contents[AgentBinary])
	assert.Equal(t, int64(0o755), got["store"].Mode, "binaries must be executable")
	assert.Equal(t, nodeDockerfile, contents["Dockerfile"])
}
