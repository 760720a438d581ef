//go:build docker

package etcd_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/docker"
	"github.com/faultline/faultline/sut/etcd"
)

// These tests run a real three-member etcd cluster in containers. They skip,
// saying so, only when no Docker engine answers. The test process reaches
// each member through its client port published on 127.0.0.1.

const (
	clusterReadyTimeout = 90 * time.Second
	pollInterval        = 100 * time.Millisecond
	memberDataDir       = "/data/etcd"
)

var clientPortSpec = nat.Port(strconv.Itoa(etcd.ClientPort) + "/tcp")

var (
	etcdImageOnce sync.Once
	etcdImageTag  string
	etcdImageErr  error
)

func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// etcdImage builds (or reuses) the etcd image once per test binary; the
// first build on a host compiles etcd and takes minutes.
func etcdImage(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := docker.Available(ctx); err != nil {
		t.Skipf("skipping real-container test: %v", err)
	}
	etcdImageOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		etcdImageTag, etcdImageErr = docker.BuildEtcdImage(ctx, docker.EtcdImageOptions{Logger: testLogger()})
	})
	require.NoError(t, etcdImageErr)
	return etcdImageTag
}

// member is one etcd member in its container.
type member struct {
	name, ip, containerID string
	endpoint              string // 127.0.0.1:<published client port>; changes on restart
}

// testCluster is a static etcd cluster on a private network with static IPs,
// labelled as a faultline run (so `faultline cleanup` can find leftovers)
// and held live (so it does not remove them while the test runs).
type testCluster struct {
	t       *testing.T
	cli     *client.Client
	runID   string
	members []*member
}

// startCluster creates the network and n members, and waits until every
// member names the same leader. Everything is removed in t.Cleanup.
func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	image := etcdImage(t)
	ctx := context.Background()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	c := &testCluster{t: t, cli: cli, runID: fmt.Sprintf("etcd-test-%d", time.Now().UnixNano())}
	release, err := docker.HoldRun(c.runID)
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		removed, err := docker.Cleanup(cctx, c.runID)
		assert.NoError(t, err, "remove the test cluster")
		assert.Equal(t, n+1, removed, "the members and the network")
		release()
		cli.Close()
	})

	netName := "faultline-" + c.runID
	subnet := c.createNetwork(ctx, netName)
	peers := map[string]string{}
	for i := range n {
		m := &member{name: fmt.Sprintf("n%d", i+1), ip: fmt.Sprintf("%s.%d", subnet, 11+i)}
		peers[m.name] = m.ip
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		labels := map[string]string{docker.LabelFaultline: "1", docker.LabelRun: c.runID, docker.LabelNode: m.name}
		resp, err := cli.ContainerCreate(ctx,
			&container.Config{
				Image:        image,
				Cmd:          etcd.Command(m.name, peers, memberDataDir),
				Hostname:     m.name,
				Labels:       labels,
				ExposedPorts: nat.PortSet{clientPortSpec: struct{}{}},
			},
			&container.HostConfig{PortBindings: nat.PortMap{clientPortSpec: {{HostIP: "127.0.0.1"}}}},
			&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
				netName: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: m.ip}},
			}},
			nil, netName+"-"+m.name)
		require.NoError(t, err, "create member %s", m.name)
		m.containerID = resp.ID
	}
	for _, m := range c.members {
		c.start(ctx, m)
	}
	c.waitAgreedLeader(ctx)
	return c
}

// createNetwork creates the cluster's bridge network on a free
// 10.79.x.0/24 and returns "10.79.x".
func (c *testCluster) createNetwork(ctx context.Context, name string) string {
	c.t.Helper()
	var lastErr error
	for attempt := range 16 {
		prefix := fmt.Sprintf("10.79.%d", (time.Now().Nanosecond()/1000+attempt*37)%256)
		_, err := c.cli.NetworkCreate(ctx, name, network.CreateOptions{
			Driver: "bridge",
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{
				Subnet: prefix + ".0/24", Gateway: prefix + ".1",
			}}},
			Labels: map[string]string{docker.LabelFaultline: "1", docker.LabelRun: c.runID},
		})
		if err == nil {
			return prefix
		}
		lastErr = err
		if !strings.Contains(err.Error(), "overlap") {
			break
		}
	}
	require.NoError(c.t, lastErr, "create network %s", name)
	return ""
}

// start starts m's container and reads its published client port.
func (c *testCluster) start(ctx context.Context, m *member) {
	c.t.Helper()
	require.NoError(c.t, c.cli.ContainerStart(ctx, m.containerID, container.StartOptions{}), "start %s", m.name)
	info, err := c.cli.ContainerInspect(ctx, m.containerID)
	require.NoError(c.t, err)
	for _, b := range info.NetworkSettings.Ports[clientPortSpec] {
		if b.HostPort != "" {
			m.endpoint = "127.0.0.1:" + b.HostPort
			return
		}
	}
	c.t.Fatalf("member %s has no published client port", m.name)
}

// kill sends SIGKILL to m's container and waits until it stopped.
func (c *testCluster) kill(ctx context.Context, m *member) {
	c.t.Helper()
	require.NoError(c.t, c.cli.ContainerKill(ctx, m.containerID, "SIGKILL"))
	waitC, errC := c.cli.ContainerWait(ctx, m.containerID, container.WaitConditionNotRunning)
	select {
	case <-waitC:
	case err := <-errC:
		require.NoError(c.t, err, "wait for %s to stop", m.name)
	case <-time.After(30 * time.Second):
		c.t.Fatalf("member %s still running 30s after SIGKILL", m.name)
	}
}

// statuses asks every member in ms for its status.
func statuses(ctx context.Context, ms []*member) ([]etcd.MemberStatus, error) {
	out := make([]etcd.MemberStatus, 0, len(ms))
	for _, m := range ms {
		st, err := etcd.Status(ctx, m.endpoint)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// waitAgreedLeader waits until every member names the same leader in the
// same term, and returns their statuses.
func (c *testCluster) waitAgreedLeader(ctx context.Context) []etcd.MemberStatus {
	c.t.Helper()
	deadline := time.Now().Add(clusterReadyTimeout)
	var last string
	for time.Now().Before(deadline) {
		sts, err := statuses(ctx, c.members)
		if err == nil {
			agreed := sts[0].Leader != ""
			for _, st := range sts[1:] {
				agreed = agreed && st.Leader == sts[0].Leader && st.Term == sts[0].Term
			}
			if agreed {
				return sts
			}
			last = fmt.Sprintf("%+v", sts)
		} else {
			last = err.Error()
		}
		time.Sleep(pollInterval)
	}
	c.t.Fatalf("members did not agree on a leader within %s; last: %s", clusterReadyTimeout, last)
	return nil
}

// waitRevision waits until every member in ms has applied revision rev.
func waitRevision(t *testing.T, ctx context.Context, ms []*member, rev int64) {
	t.Helper()
	deadline := time.Now().Add(clusterReadyTimeout)
	for time.Now().Before(deadline) {
		sts, err := statuses(ctx, ms)
		behind := err != nil
		for _, st := range sts {
			behind = behind || st.Revision < rev
		}
		if !behind {
			return
		}
		time.Sleep(pollInterval)
	}
	t.Fatalf("members did not reach revision %d within %s", rev, clusterReadyTimeout)
}

// requireSameHash asks every member for its KV hash at rev and requires
// them all equal.
func requireSameHash(t *testing.T, ctx context.Context, ms []*member, rev int64) etcd.KVHash {
	t.Helper()
	var first etcd.KVHash
	for i, m := range ms {
		h, err := etcd.HashKV(ctx, m.endpoint, rev)
		require.NoError(t, err, "hashkv of %s", m.name)
		require.Equal(t, rev, h.HashRevision, "%s hashed another revision", m.name)
		require.GreaterOrEqual(t, h.CurrentRevision, rev)
		if i == 0 {
			first = h
			continue
		}
		require.Equal(t, first.Hash, h.Hash, "%s and %s differ at revision %d", ms[0].name, m.name, rev)
		require.Equal(t, first.CompactRevision, h.CompactRevision)
	}
	return first
}

func newClient(t *testing.T, m *member) *etcd.Client {
	t.Helper()
	c, err := etcd.NewClient(m.endpoint, etcd.ClientOptions{Timeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	return c
}

func requireOK(t *testing.T, out etcd.Outcome, what string) {
	t.Helper()
	require.Equal(t, etcd.OK, out.Verdict, "%s: %v", what, out)
}

func TestEtcdClusterInContainers(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	n1 := newClient(t, c.members[0])
	n3 := newClient(t, c.members[2])

	t.Run("write read cas", func(t *testing.T) {
		_, found, out := n1.Read(ctx, "reg/missing")
		requireOK(t, out, "read a missing key")
		assert.False(t, found)

		requireOK(t, n1.Write(ctx, "reg/1", "v1"), "write")
		value, found, out := n1.Read(ctx, "reg/1")
		requireOK(t, out, "read")
		require.True(t, found)
		require.Equal(t, "v1", value)

		requireOK(t, n1.CAS(ctx, "reg/1", "v1", "v2"), "cas that matches")
		out = n1.CAS(ctx, "reg/1", "v1", "v3")
		assert.Equal(t, etcd.Fail, out.Verdict, "%v", out)
		assert.True(t, out.Mismatch, "a precondition that did not hold is a mismatch")
		out = n1.CAS(ctx, "reg/never-written", "v1", "v3")
		assert.Equal(t, etcd.Fail, out.Verdict, "a missing key matches no value: %v", out)
		assert.True(t, out.Mismatch)

		// Another member's linearizable read sees the write n1 acknowledged.
		value, found, out = n3.Read(ctx, "reg/1")
		requireOK(t, out, "read from another member")
		require.True(t, found)
		assert.Equal(t, "v2", value, "the failed cas must not have written")
	})

	t.Run("set add and read in order of adding", func(t *testing.T) {
		for _, e := range []string{"30", "4", "100", "7"} {
			requireOK(t, n1.Add(ctx, "set/a", e), "add "+e)
		}
		requireOK(t, n3.Add(ctx, "set/a", "4"), "add an element again")
		requireOK(t, n1.Add(ctx, "set/b", "other"), "add to another set")
		elements, out := n3.ReadSet(ctx, "set/a")
		requireOK(t, out, "read set")
		assert.Equal(t, []string{"30", "4", "100", "7"}, elements, "order of adding, each element once, no other set's")
	})

	t.Run("every member names the same leader and term", func(t *testing.T) {
		sts := c.waitAgreedLeader(ctx)
		leaders := 0
		for i, st := range sts {
			assert.Equal(t, c.members[i].name, st.Name)
			assert.NotZero(t, st.ID)
			assert.Equal(t, strings.TrimPrefix(etcd.Version, "v"), st.Version)
			assert.NotZero(t, st.Term)
			assert.GreaterOrEqual(t, st.CommitIndex, st.AppliedIndex)
			assert.Empty(t, st.Errors)
			if st.IsLeader() {
				leaders++
				assert.Equal(t, st.Name, st.Leader)
			}
		}
		assert.Equal(t, 1, leaders, "exactly one member leads: %+v", sts)
	})

	t.Run("every member hashes the same store at one revision", func(t *testing.T) {
		st, err := etcd.Status(ctx, c.members[0].endpoint)
		require.NoError(t, err)
		waitRevision(t, ctx, c.members, st.Revision)
		requireSameHash(t, ctx, c.members, st.Revision)
	})

	t.Run("a killed member catches up after restart", func(t *testing.T) {
		sts := c.waitAgreedLeader(ctx)
		var victim *member
		var survivors []*member
		for i, st := range sts {
			if victim == nil && !st.IsLeader() {
				victim = c.members[i]
			} else {
				survivors = append(survivors, c.members[i])
			}
		}
		require.NotNil(t, victim)
		survivorClient := newClient(t, survivors[0])

		c.kill(ctx, victim)
		victimClient := newClient(t, victim)
		short, cancel := context.WithTimeout(ctx, time.Second)
		out := victimClient.Write(short, "down/0", "x")
		cancel()
		assert.Equal(t, etcd.Fail, out.Verdict, "a write to a dead member is never sent: %v", out)

		const writes = 50
		for i := range writes {
			requireOK(t, survivorClient.Write(ctx, fmt.Sprintf("down/%d", i), strconv.Itoa(i)), "write with one member down")
		}
		st, err := etcd.Status(ctx, survivors[0].endpoint)
		require.NoError(t, err)
		waitRevision(t, ctx, survivors, st.Revision)
		requireSameHash(t, ctx, survivors, st.Revision)

		c.start(ctx, victim)
		waitRevision(t, ctx, c.members, st.Revision)
		requireSameHash(t, ctx, c.members, st.Revision)
		restarted := newClient(t, victim)
		value, found, out := restarted.Read(ctx, fmt.Sprintf("down/%d", writes-1))
		requireOK(t, out, "read from the restarted member")
		require.True(t, found)
		assert.Equal(t, strconv.Itoa(writes-1), value)
	})

	t.Run("a killed leader is replaced and catches up after restart", func(t *testing.T) {
		sts := c.waitAgreedLeader(ctx)
		var leader *member
		var survivors []*member
		for i, st := range sts {
			if st.IsLeader() {
				leader = c.members[i]
			} else {
				survivors = append(survivors, c.members[i])
			}
		}
		require.NotNil(t, leader)
		oldTerm := sts[0].Term
		survivorClient := newClient(t, survivors[0])

		c.kill(ctx, leader)
		// Until the survivors elect a new leader a write may fail (no
		// leader: refused before proposing) or be unknown (timed out after
		// it was proposed); both are honest, and one must succeed soon.
		verdicts := map[etcd.Verdict]int{}
		deadline := time.Now().Add(30 * time.Second)
		for attempt := 0; ; attempt++ {
			require.True(t, time.Now().Before(deadline), "no write succeeded within 30s of killing the leader: %v", verdicts)
			attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			out := survivorClient.Write(attemptCtx, fmt.Sprintf("leaderless/%d", attempt), "x")
			cancel()
			verdicts[out.Verdict]++
			if out.Verdict == etcd.OK {
				break
			}
			t.Logf("write %d with the leader dead: %v", attempt, out)
			time.Sleep(pollInterval)
		}
		t.Logf("writes after the leader was killed: %v", verdicts)

		st, err := etcd.Status(ctx, survivors[0].endpoint)
		require.NoError(t, err)
		assert.NotEqual(t, leader.name, st.Leader, "a dead member cannot lead")
		assert.Greater(t, st.Term, oldTerm, "a new leader means a new term")

		c.start(ctx, leader)
		sts = c.waitAgreedLeader(ctx)
		assert.GreaterOrEqual(t, sts[0].Term, st.Term)
		waitRevision(t, ctx, c.members, st.Revision)
		requireSameHash(t, ctx, c.members, st.Revision)
	})
}
