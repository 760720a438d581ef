package transport

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/faultline/faultline/node/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const waitFor = 10 * time.Second

// testSecret is the cluster secret of the transports cluster starts.
var testSecret = []byte("faultline transport test secret")

// cluster starts one transport per id on loopback listeners, all with
// testSecret.
func cluster(t *testing.T, ids ...string) map[string]*Transport {
	t.Helper()
	return clusterWith(t, func(string, *Config) {}, ids...)
}

// clusterWith is cluster with edit applied to each node's configuration
// (secret, limits, logger) before New.
func clusterWith(t *testing.T, edit func(id string, cfg *Config), ids ...string) map[string]*Transport {
	t.Helper()
	lns := map[string]net.Listener{}
	peers := map[string]string{}
	for _, id := range ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns[id] = ln
		peers[id] = ln.Addr().String()
	}
	out := map[string]*Transport{}
	for _, id := range ids {
		cfg := Config{ID: id, Listener: lns[id], Peers: peers, Secret: testSecret}
		edit(id, &cfg)
		tr, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, tr.Start(context.Background()))
		t.Cleanup(func() { _ = tr.Close() })
		out[id] = tr
	}
	return out
}

func recv(t *testing.T, tr *Transport) raft.Message {
	t.Helper()
	select {
	case m, ok := <-tr.Receive():
		require.True(t, ok, "receive channel closed")
		return m
	case <-time.After(waitFor):
		t.Fatalf("no message within %v", waitFor)
		return raft.Message{}
	}
}

func TestThreeNodesExchangeInOrder(t *testing.T) {
	ids := []string{"n1", "n2", "n3"}
	trs := cluster(t, ids...)
	const perPeer = 2000

	// Every node sends perPeer numbered messages to each other node, in
	// several Send calls, some with entries to vary frame sizes.
	for _, from := range ids {
		go func() {
			for i := 1; i <= perPeer; i += 50 {
				var batch []raft.Message
				for j := i; j < i+50; j++ {
					for _, to := range ids {
						if to == from {
							continue
						}
						m := raft.Message{Type: raft.MsgApp, From: from, To: to, Index: uint64(j)}
						if j%7 == 0 {
							m.Entries = []raft.Entry{{Term: 1, Index: uint64(j), Data: []byte(fmt.Sprint(j))}}
						}
						batch = append(batch, m)
					}
				}
				trs[from].Send(batch)
			}
		}()
	}

	for _, to := range ids {
		next := map[string]uint64{}
		for n := 0; n < perPeer*(len(ids)-1); n++ {
			m := recv(t, trs[to])
			require.Equal(t, to, m.To)
			require.Equal(t, next[m.From]+1, m.Index, "order from %s to %s", m.From, to)
			next[m.From] = m.Index
			if m.Index%7 == 0 {
				require.Equal(t, []byte(fmt.Sprint(m.Index)), m.Entries[0].Data)
			}
		}
	}

	// Single socket channel: each pair shares exactly one connection, opened
	// by the smaller id, so n1 accepts none, n2 one (from n1), n3 two.
	assert.Equal(t, uint64(0), trs["n1"].acceptedConns.Load())
	assert.Equal(t, uint64(1), trs["n2"].acceptedConns.Load())
	assert.Equal(t, uint64(2), trs["n3"].acceptedConns.Load())
	for _, id := range ids {
		for peer, st := range trs[id].Stats() {
			assert.Equal(t, uint64(1), st.Connects, "%s-%s connects", id, peer)
			assert.Equal(t, uint64(0), st.Reconnects, "%s-%s", id, peer)
			assert.Equal(t, uint64(perPeer), st.Received, "%s from %s", id, peer)
			assert.Equal(t, uint64(0), st.Dropped, "%s to %s", id, peer)
			assert.Equal(t, id < peer, st.Dialer)
			assert.True(t, st.Connected)
		}
	}
	// Everything was flushed: sent counters catch up with the receivers.
	require.Eventually(t, func() bool {
		for _, id := range ids {
			for _, st := range trs[id].Stats() {
				if st.Sent != perPeer {
					return false
				}
			}
		}
		return true
	}, waitFor, 10*time.Millisecond)
}

func TestReconnectAfterAcceptorRestarts(t *testing.T) {
	trs := cluster(t, "a", "b")
	a, b := trs["a"], trs["b"]
	addr := b.Addr().String()

	a.Send([]raft.Message{{Type: raft.MsgHeartbeat, From: "a", To: "b", Commit: 1}})
	assert.Equal(t, uint64(1), recv(t, b).Commit)
	require.NoError(t, b.Close())
	_, open := <-b.Receive()
	assert.False(t, open, "Close closes the receive channel")

	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err, "listen again on %s", addr)
	b2, err := New(Config{ID: "b", Listener: ln, Peers: map[string]string{"a": a.Addr().String(), "b": addr}, Secret: testSecret})
	require.NoError(t, err)
	require.NoError(t, b2.Start(context.Background()))
	defer b2.Close()

	// Messages sent while a notices the drop may be lost; keep sending
	// until one arrives, then check both directions work on the new
	// connection.
	deadline := time.Now().Add(waitFor)
	var got raft.Message
	for got.Commit == 0 {
		require.True(t, time.Now().Before(deadline), "a never reconnected to b")
		a.Send([]raft.Message{{Type: raft.MsgHeartbeat, From: "a", To: "b", Commit: 2}})
		select {
		case got = <-b2.Receive():
		case <-time.After(100 * time.Millisecond):
		}
	}
	assert.Equal(t, uint64(2), got.Commit)
	b2.Send([]raft.Message{{Type: raft.MsgHeartbeatResp, From: "b", To: "a", Context: 9}})
	assert.Equal(t, uint64(9), recv(t, a).Context)

	st := a.Stats()["b"]
	assert.GreaterOrEqual(t, st.Reconnects, uint64(1))
	assert.Equal(t, uint64(1), b2.acceptedConns.Load())
}

func TestReconnectAfterDialerRestarts(t *testing.T) {
	trs := cluster(t, "a", "b")
	a, b := trs["a"], trs["b"]
	addr := a.Addr().String()
	a.Send([]raft.Message{{Type: raft.MsgVote, From: "a", To: "b", Term: 1}})
	recv(t, b)
	require.NoError(t, a.Close())

	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	a2, err := New(Config{ID: "a", Listener: ln, Peers: map[string]string{"a": addr, "b": b.Addr().String()}, Secret: testSecret})
	require.NoError(t, err)
	require.NoError(t, a2.Start(context.Background()))
	defer a2.Close()

	// The acceptor replaces its old connection with the new one and keeps
	// messages for a in its queue meanwhile.
	a2.Send([]raft.Message{{Type: raft.MsgVote, From: "a", To: "b", Term: 2}})
	assert.Equal(t, uint64(2), recv(t, b).Term)
	b.Send([]raft.Message{{Type: raft.MsgVoteResp, From: "b", To: "a", Term: 2}})
	assert.Equal(t, uint64(2), recv(t, a2).Term)
	assert.Equal(t, uint64(2), b.acceptedConns.Load())
}

func TestSendQueueBoundDrops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	peerLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	peers := map[string]string{"a": ln.Addr().String(), "b": peerLn.Addr().String()}
	a, err := New(Config{ID: "a", Listener: ln, Peers: peers, SendQueue: 3, Secret: testSecret})
	require.NoError(t, err)

	// Not connected yet: the queue holds 3, the rest are dropped.
	for i := 1; i <= 5; i++ {
		a.Send([]raft.Message{{Type: raft.MsgApp, From: "a", To: "b", Index: uint64(i)}})
	}
	a.Send([]raft.Message{{To: "nobody"}})
	st := a.Stats()["b"]
	assert.Equal(t, uint64(2), st.Dropped)
	assert.Equal(t, 3, st.Queued)
	assert.Equal(t, uint64(1), a.unknownDropped.Load())

	b, err := New(Config{ID: "b", Listener: peerLn, Peers: peers, Secret: testSecret})
	require.NoError(t, err)
	require.NoError(t, b.Start(context.Background()))
	defer b.Close()
	require.NoError(t, a.Start(context.Background()))
	defer a.Close()
	for i := 1; i <= 3; i++ {
		assert.Equal(t, uint64(i), recv(t, b).Index, "queued messages go out in order once connected")
	}
}

func TestPortInUseNamesAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	addr := ln.Addr().String()
	tr, err := New(Config{ID: "a", ListenAddr: addr, Peers: map[string]string{"b": "127.0.0.1:1"}})
	require.NoError(t, err)
	err = tr.Start(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), addr)
	assert.Contains(t, err.Error(), "--listen-peer")
	require.NoError(t, tr.Close())
}

func TestRejectsStrangers(t *testing.T) {
	trs := cluster(t, "a", "b")
	b := trs["b"]
	tests := []struct {
		name  string
		hello []byte
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\n\r\n")},
		{"unknown id", hello{id: "z", secret: true}.append(nil)},
		{"old protocol version", []byte{'f', 'l', 's', 1, 1, 'a'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", b.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			_, err = conn.Write(tt.hello)
			require.NoError(t, err)
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitFor)))
			_, err = conn.Read(make([]byte, 1))
			assert.Error(t, err, "the stranger is disconnected without an answer")
		})
	}
	// The real pair still works.
	trs["a"].Send([]raft.Message{{Type: raft.MsgHeartbeat, From: "a", To: "b", Commit: 5}})
	assert.Equal(t, uint64(5), recv(t, b).Commit)
}

func TestAcceptorRefusesSmallerIDPretendingToAccept(t *testing.T) {
	// b must dial c (b < c); c dialing b means a misconfiguration.
	trs := cluster(t, "b", "c")
	conn, err := net.Dial("tcp", trs["b"].Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write(hello{id: "c", secret: true}.append(nil))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitFor)))
	_, err = conn.Read(make([]byte, 1))
	assert.Error(t, err)
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no id", Config{ListenAddr: ":0"}},
		{"no listen address", Config{ID: "a", Peers: map[string]string{"b": "x:1"}}},
		{"peer without address", Config{ID: "a", ListenAddr: ":0", Peers: map[string]string{"b": ""}}},
		{"short secret", Config{ID: "a", ListenAddr: ":0", Secret: []byte("hunter2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			assert.Error(t, err)
		})
	}
	tr, err := New(Config{ID: "a", Peers: map[string]string{"a": "127.0.0.1:0"}})
	require.NoError(t, err, "listen address taken from Peers[ID]")
	require.NoError(t, tr.Start(context.Background()))
	assert.Error(t, tr.Start(context.Background()), "second Start")
	require.NoError(t, tr.Close())
}

func TestContextCancelCloses(t *testing.T) {
	tr, err := New(Config{ID: "a", ListenAddr: "127.0.0.1:0"})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, tr.Start(ctx))
	cancel()
	select {
	case _, open := <-tr.Receive():
		assert.False(t, open)
	case <-time.After(waitFor):
		t.Fatal("cancelling the start context did not close the transport")
	}
}
