package etcd_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/docker"
	"github.com/faultline/faultline/sut/etcd"
)

func TestVersionMatchesTheImage(t *testing.T) {
	require.Equal(t, docker.EtcdVersion, etcd.Version, "the client module and the server image must be the same etcd release")
}

func TestCommand(t *testing.T) {
	peers := map[string]string{"n1": "10.77.3.11", "n2": "10.77.3.12", "n3": "10.77.3.13"}
	cmd := etcd.Command("n2", peers, "/data/etcd")
	require.Equal(t, etcd.Binary, cmd[0])
	flags := map[string]string{}
	for i := 1; i < len(cmd); i += 2 {
		require.Less(t, i+1, len(cmd), "flag %s has no value", cmd[i])
		flags[cmd[i]] = cmd[i+1]
	}
	token := flags["--initial-cluster-token"]
	assert.Regexp(t, `^faultline-[0-9a-f]{12}$`, token)
	delete(flags, "--initial-cluster-token")
	assert.Equal(t, map[string]string{
		"--name":                        "n2",
		"--data-dir":                    "/data/etcd",
		"--listen-client-urls":          "http://0.0.0.0:2379",
		"--advertise-client-urls":       "http://10.77.3.12:2379",
		"--listen-peer-urls":            "http://0.0.0.0:2380",
		"--initial-advertise-peer-urls": "http://10.77.3.12:2380",
		"--initial-cluster":             "n1=http://10.77.3.11:2380,n2=http://10.77.3.12:2380,n3=http://10.77.3.13:2380",
		"--initial-cluster-state":       "new",
		"--heartbeat-interval":          "100",
		"--election-timeout":            "1000",
		"--grpc-keepalive-min-time":     "1s",
	}, flags)

	other := etcd.Command("n1", peers, "/data/etcd")
	assert.Contains(t, other, token, "every member of one cluster needs the same token")
	elsewhere := etcd.Command("n2", map[string]string{"n1": "10.77.4.11", "n2": "10.77.4.12", "n3": "10.77.4.13"}, "/data/etcd")
	assert.NotContains(t, elsewhere, token, "another cluster gets another token")
}

func TestCommandFormatsIPv6(t *testing.T) {
	cmd := etcd.Command("a", map[string]string{"a": "fd00::11"}, "/data")
	assert.Contains(t, cmd, "http://[fd00::11]:2380")
	assert.Contains(t, cmd, "http://[fd00::11]:2379")
}

// A member nobody listens for: every call ends at its deadline without having
// been sent. A write is then a definite Fail (the client never reached a
// server), not Info. Talks only to a closed port on loopback.
func TestCallsToAMemberThatIsDownFailAsNeverSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	endpoint := ln.Addr().String()
	require.NoError(t, ln.Close())

	c, err := etcd.NewClient(endpoint, etcd.ClientOptions{Timeout: 300 * time.Millisecond})
	require.NoError(t, err, "a member that is down must not fail the client's creation")
	defer c.Close()
	ctx := context.Background()

	out := c.Write(ctx, "k", "v")
	assert.Equal(t, etcd.Fail, out.Verdict, "%v", out)
	assert.ErrorContains(t, out.Err, "request not sent")
	assert.ErrorContains(t, out.Err, endpoint)

	out = c.CAS(ctx, "k", "v", "w")
	assert.Equal(t, etcd.Fail, out.Verdict, "%v", out)
	assert.False(t, out.Mismatch, "nothing was compared")

	assert.Equal(t, etcd.Fail, c.Add(ctx, "s", "1").Verdict)
	_, found, out := c.Read(ctx, "k")
	assert.False(t, found)
	assert.Equal(t, etcd.Fail, out.Verdict)
	_, out = c.ReadSet(ctx, "s")
	assert.Equal(t, etcd.Fail, out.Verdict)

	expired, cancel := context.WithCancel(ctx)
	cancel()
	out = c.Write(expired, "k", "v")
	assert.Equal(t, etcd.Fail, out.Verdict, "a call whose context already ended is not sent: %v", out)

	statusCtx, cancelStatus := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelStatus()
	_, err = etcd.Status(statusCtx, endpoint)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is the member running")
}
