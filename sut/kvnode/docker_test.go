package kvnode

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/docker"
)

func members(n int) []docker.Member {
	out := make([]docker.Member, n)
	for i := range out {
		out[i] = docker.Member{Name: "n" + string(rune('1'+i)), IP: netip.AddrFrom4([4]byte{10, 77, 4, byte(11 + i)})}
	}
	return out
}

func TestNodeSpecCommandLine(t *testing.T) {
	spec, err := NodeSpec([]string{"--read-mode", "lease"})
	require.NoError(t, err)
	cmd := strings.Join(spec.Command("n2", members(5)), " ")
	assert.Contains(t, cmd, "/kvnode --id n2 --peers n1=10.77.4.11:7000,n2=10.77.4.12:7000,")
	assert.Contains(t, cmd, "--peer-http n1=10.77.4.11:8000,")
	assert.Contains(t, cmd, "--data-dir /data --listen-client :8000 --listen-peer :7000 --enable-fault-hooks --cluster-secret-file /cluster-secret --read-mode lease")
	assert.Equal(t, Name, spec.Store)
	assert.Equal(t, ClientPort, spec.ClientPort)
	assert.NotNil(t, spec.Clock)
	assert.NotNil(t, spec.CrashPoint)
}

func TestEveryClusterHasItsOwnSecret(t *testing.T) {
	a, err := NodeSpec(nil)
	require.NoError(t, err)
	b, err := NodeSpec(nil)
	require.NoError(t, err)
	require.Len(t, a.Files, 1)
	assert.Equal(t, SecretPath, a.Files[0].Path)
	assert.Regexp(t, "^[0-9a-f]{64}$", string(a.Files[0].Content), "32 random bytes, hex")
	assert.NotEqual(t, a.Files[0].Content, b.Files[0].Content, "a fresh secret per cluster")
	for _, m := range members(3) {
		assert.NotContains(t, strings.Join(a.Command(m.Name, members(3)), " "), string(a.Files[0].Content),
			"the secret travels as a file, not on the command line")
	}
}
