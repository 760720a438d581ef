package server

import (
	"log/slog"
	"math/rand"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/clock"
	"github.com/faultline/faultline/node/kv"
	"github.com/faultline/faultline/node/raft"
)

func TestRoute(t *testing.T) {
	s := &Server{cfg: Config{ID: "n1"}}
	tests := []struct {
		name        string
		leader      string
		local       bool
		forwardedBy string
		want        route
	}{
		{"served here", "n1", true, "", route{}},
		{"forwarded request served here", "n1", true, "n3", route{}},
		{"follower forwards to the leader", "n2", false, "", route{leader: "n2"}},
		{"no leader known", "", false, "", route{refuse: errNoLeader}},
		{"a deposed leader that still names itself", "n1", false, "", route{refuse: errNoLeader}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view := &statusView{status: client.Status{Leader: tt.leader}}
			assert.Equal(t, tt.want, s.route(view, tt.local, tt.forwardedBy))
		})
	}
	t.Run("a forwarded request is never forwarded again", func(t *testing.T) {
		rt := s.route(&statusView{status: client.Status{Leader: "n2"}}, false, "n3")
		require.Error(t, rt.refuse)
		assert.Contains(t, rt.refuse.Error(), "forwarded by n3 reached n1, which is not the leader")
		assert.Empty(t, rt.leader)
	})
}

// drivenCluster is driven nodes on a fake clock, their messages held in
// one queue and delivered in order by step.
type drivenCluster struct {
	clock *clock.Fake
	ids   []string
	nodes map[string]*Server
	queue []raft.Message
}

func (c *drivenCluster) Send(msgs []raft.Message) { c.queue = append(c.queue, msgs...) }

// newDrivenCluster builds the nodes ids (n1, n2 and n3 if none).
func newDrivenCluster(t *testing.T, ids ...string) *drivenCluster {
	if len(ids) == 0 {
		ids = []string{"n1", "n2", "n3"}
	}
	c := &drivenCluster{clock: clock.NewFake(time.Unix(1000, 0)), ids: ids, nodes: map[string]*Server{}}
	peers, peerHTTP := map[string]string{}, map[string]string{}
	for _, id := range ids {
		peers[id], peerHTTP[id] = "sim:"+id, "sim:"+id
	}
	for i, id := range ids {
		cfg := validConfig()
		cfg.ID, cfg.Peers, cfg.PeerHTTP = id, peers, peerHTTP
		cfg.DataDir = t.TempDir()
		cfg.Clock = c.clock
		cfg.Logger = slog.New(slog.DiscardHandler)
		s, err := NewDriven(cfg, Drive{Rand: rand.New(rand.NewSource(int64(i + 1))), Peers: c})
		require.NoError(t, err)
		t.Cleanup(s.Close)
		c.nodes[id] = s
	}
	return c
}

// step advances the clock by one tick, ticks every node and delivers every
// message until the network is quiet.
func (c *drivenCluster) step(t *testing.T) {
	c.clock.Advance(10 * time.Millisecond)
	for _, id := range c.ids {
		c.nodes[id].Tick()
		require.NoError(t, c.nodes[id].Process())
	}
	for len(c.queue) > 0 {
		m := c.queue[0]
		c.queue = c.queue[1:]
		c.nodes[m.To].Deliver(m)
		require.NoError(t, c.nodes[m.To].Process())
	}
}

func (c *drivenCluster) leader() string {
	for id, s := range c.nodes {
		if _, ok := s.Leading(); ok {
			return id
		}
	}
	return ""
}

// await steps until p has an answer.
func (c *drivenCluster) await(t *testing.T, p *Pending) Answer {
	for range 1000 {
		if a, ok := p.Poll(); ok {
			return a
		}
		c.step(t)
	}
	t.Fatal("no answer within 1000 steps")
	return Answer{}
}

// TestDrivenCluster: nodes built by NewDriven elect a leader, take a write
// through the update loop's own steps, refuse or route a follower's
// request as the HTTP API does, and serve a linearizable read.
func TestDrivenCluster(t *testing.T) {
	c := newDrivenCluster(t)
	for range 1000 {
		if c.leader() != "" {
			break
		}
		c.step(t)
	}
	leader := c.leader()
	require.NotEmpty(t, leader, "a leader within 10 s of simulated time")
	follower := "n1"
	if leader == follower {
		follower = "n2"
	}

	adm := c.nodes[follower].Handle(Request{Op: kv.OpPut, Key: "k", Value: "v1", ClientID: "c1", Seq: 1})
	assert.Equal(t, leader, adm.Forward, "a follower forwards a write to the leader")
	adm = c.nodes[follower].Handle(Request{Op: kv.OpPut, Key: "k", Value: "v1", ForwardedBy: "n3"})
	require.NotNil(t, adm.Answer)
	assert.Equal(t, http.StatusServiceUnavailable, adm.Answer.Status)

	adm = c.nodes[leader].Handle(Request{Op: kv.OpPut, Key: "k", Value: "v1", ClientID: "c1", Seq: 1, ForwardedBy: follower})
	require.NotNil(t, adm.Pending)
	require.NoError(t, c.nodes[leader].Process())
	assert.Equal(t, Answer{Status: http.StatusOK, Body: client.KVResponse{Found: true, Value: "v1"}}, c.await(t, adm.Pending))

	adm = c.nodes[leader].Handle(Request{Op: kv.OpCAS, Key: "k", Expect: "nope", Value: "v2", ClientID: "c1", Seq: 2})
	require.NotNil(t, adm.Pending)
	require.NoError(t, c.nodes[leader].Process())
	assert.Equal(t, http.StatusPreconditionFailed, c.await(t, adm.Pending).Status)

	adm = c.nodes[leader].Handle(Request{Key: "k"})
	require.NotNil(t, adm.Pending)
	require.NoError(t, c.nodes[leader].Process())
	assert.Equal(t, Answer{Status: http.StatusOK, Body: client.KVResponse{Found: true, Value: "v1"}}, c.await(t, adm.Pending))

	expired := c.nodes[leader].Expire(adm.Pending)
	assert.Equal(t, http.StatusGatewayTimeout, expired.Status)
	assert.Contains(t, expired.Body.Error, "outcome unknown")

	for range 100 {
		c.step(t)
	}
	digest := c.nodes[leader].Status().Digest
	for id, s := range c.nodes {
		assert.Equal(t, digest, s.Status().Digest, "replica %s converged", id)
	}
}

// TestProcessRunsUntilIdle: as the production loop does, Process iterates
// again while the core has something ready. A single node's own fsync
// completes its commit quorum, so one Process after a write applies and
// answers it, without another input.
func TestProcessRunsUntilIdle(t *testing.T) {
	c := newDrivenCluster(t, "n1")
	for range 1000 {
		if c.leader() != "" {
			break
		}
		c.step(t)
	}
	require.Equal(t, "n1", c.leader(), "a single node elects itself")
	s := c.nodes["n1"]
	for i, v := range []string{"v1", "v2", "v3"} {
		adm := s.Handle(Request{Op: kv.OpPut, Key: "k", Value: v, ClientID: "c1", Seq: uint64(i + 1)})
		require.NotNil(t, adm.Pending)
		require.NoError(t, s.Process())
		a, ok := adm.Pending.Poll()
		require.True(t, ok, "write %d answered by the Process that took it", i+1)
		assert.Equal(t, Answer{Status: http.StatusOK, Body: client.KVResponse{Found: true, Value: v}}, a)
	}
}

func TestNewDrivenNeedsRandAndPeers(t *testing.T) {
	_, err := NewDriven(validConfig(), Drive{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "needs a Rand and a PeerSender")
}
