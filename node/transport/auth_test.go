package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/node/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var otherSecret = []byte("not the cluster's secret at all")

// exchange checks that a and b, already connected, pass a message each way;
// round tells the messages of one call from another's.
func exchange(t *testing.T, a, b *Transport, round uint64) {
	t.Helper()
	a.Send([]raft.Message{{Type: raft.MsgHeartbeat, From: a.cfg.ID, To: b.cfg.ID, Commit: round}})
	assert.Equal(t, round, recv(t, b).Commit, "%s to %s", a.cfg.ID, b.cfg.ID)
	b.Send([]raft.Message{{Type: raft.MsgHeartbeatResp, From: b.cfg.ID, To: a.cfg.ID, Context: round}})
	assert.Equal(t, round, recv(t, a).Context, "%s to %s", b.cfg.ID, a.cfg.ID)
}

// requireClosedByPeer reads conn until the other end closes it, and fails if
// it is still open after waitFor.
func requireClosedByPeer(t *testing.T, conn net.Conn) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitFor)))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the connection is still open after %v", waitFor)
}

// readAcceptorReply reads the acceptor's hello and, when it has a secret,
// its proof.
func readAcceptorReply(t *testing.T, conn net.Conn) hello {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitFor)))
	h, err := readHello(conn)
	require.NoError(t, err, "the acceptor answers a known dialer's hello")
	if h.secret {
		_, err = io.ReadFull(conn, make([]byte, proofBytes))
		require.NoError(t, err)
	}
	return h
}

// syncBuffer is a log destination safe for the transport's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestImpostorCannotReplaceRealConnection: someone who can reach b's peer
// port sends the hello of a, b's real peer, without the secret. Before peer
// authentication b took the hello at its word and replaced a's connection
// with the impostor's; now b refuses every variant, and a's connection
// stays up and keeps carrying messages.
func TestImpostorCannotReplaceRealConnection(t *testing.T) {
	trs := cluster(t, "a", "b")
	a, b := trs["a"], trs["b"]
	exchange(t, a, b, 1)

	tests := []struct {
		name string
		act  func(t *testing.T, conn net.Conn)
	}{
		{"hello of the old protocol", func(t *testing.T, conn net.Conn) {
			_, err := conn.Write([]byte{'f', 'l', 's', 1, 1, 'a'})
			require.NoError(t, err)
		}},
		{"hello without a secret", func(t *testing.T, conn net.Conn) {
			_, err := conn.Write(hello{id: "a"}.append(nil))
			require.NoError(t, err)
		}},
		{"hello, then silence until the handshake deadline", func(t *testing.T, conn net.Conn) {
			_, err := conn.Write(hello{id: "a", secret: true}.append(nil))
			require.NoError(t, err)
			readAcceptorReply(t, conn)
		}},
		{"hello, then a random proof", func(t *testing.T, conn net.Conn) {
			_, err := conn.Write(hello{id: "a", secret: true}.append(nil))
			require.NoError(t, err)
			readAcceptorReply(t, conn)
			_, err = conn.Write(bytes.Repeat([]byte{0x5a}, proofBytes))
			require.NoError(t, err)
		}},
		{"hello, then a proof made with another secret", func(t *testing.T, conn net.Conn) {
			mine, err := newHello("a", true)
			require.NoError(t, err)
			_, err = conn.Write(mine.append(nil))
			require.NoError(t, err)
			theirs := readAcceptorReply(t, conn)
			_, err = conn.Write(proof(otherSecret, roleDialer, "a", "b", mine.nonce, theirs.nonce))
			require.NoError(t, err)
		}},
		{"hello, then b's own proof sent back", func(t *testing.T, conn net.Conn) {
			_, err := conn.Write(hello{id: "a", secret: true}.append(nil))
			require.NoError(t, err)
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitFor)))
			_, err = readHello(conn)
			require.NoError(t, err)
			reflected := make([]byte, proofBytes)
			_, err = io.ReadFull(conn, reflected)
			require.NoError(t, err)
			_, err = conn.Write(reflected)
			require.NoError(t, err)
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", b.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			tt.act(t, conn)
			requireClosedByPeer(t, conn)

			assert.Equal(t, uint64(i+1), b.HandshakeRejects())
			for _, st := range []PeerStats{a.Stats()["b"], b.Stats()["a"]} {
				assert.Equal(t, uint64(1), st.Connects, "the real connection was never replaced")
				assert.True(t, st.Connected)
			}
			exchange(t, a, b, uint64(i+2))
		})
	}
}

// TestPeersWithoutTheSameSecretCannotConnect: a peer whose secret differs,
// or that has none when the other has one, never gets a connection, and
// the refusal names the flag to fix.
func TestPeersWithoutTheSameSecretCannotConnect(t *testing.T) {
	tests := []struct {
		name       string
		secrets    map[string][]byte
		acceptorOn string // what b's log says
		dialerOn   string // what a's log says, if a finds out itself
	}{
		{"different secrets", map[string][]byte{"a": otherSecret, "b": testSecret},
			"no proof of the cluster secret from", "cannot prove it knows the cluster secret"},
		{"dialer has none", map[string][]byte{"b": testSecret},
			"has no cluster secret and this node requires one", ""},
		{"acceptor has none", map[string][]byte{"a": testSecret},
			"has a cluster secret and this node has none", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := map[string]*syncBuffer{"a": {}, "b": {}}
			trs := clusterWith(t, func(id string, cfg *Config) {
				cfg.Secret = tt.secrets[id]
				cfg.Logger = slog.New(slog.NewTextHandler(logs[id], nil))
			}, "a", "b")
			a, b := trs["a"], trs["b"]
			a.Send([]raft.Message{{Type: raft.MsgHeartbeat, From: "a", To: "b", Commit: 1}})
			b.Send([]raft.Message{{Type: raft.MsgHeartbeatResp, From: "b", To: "a", Context: 1}})

			// a redials with backoff; let b refuse it several times.
			require.Eventually(t, func() bool { return b.HandshakeRejects() >= 3 }, waitFor, 10*time.Millisecond)
			select {
			case m := <-b.Receive():
				t.Fatalf("b received %v from a peer that did not prove the secret", m.Type)
			case m := <-a.Receive():
				t.Fatalf("a received %v from a peer that did not prove the secret", m.Type)
			case <-time.After(100 * time.Millisecond):
			}
			for _, st := range []PeerStats{a.Stats()["b"], b.Stats()["a"]} {
				assert.Zero(t, st.Connects)
				assert.False(t, st.Connected)
			}
			assert.Contains(t, logs["b"].String(), tt.acceptorOn)
			assert.Contains(t, logs["b"].String(), "--cluster-secret-file")
			if tt.dialerOn != "" {
				assert.Contains(t, logs["a"].String(), tt.dialerOn)
			}
		})
	}
}

func TestPeersWithTheSameSecretExchangeMessages(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
	}{
		{"same secret", testSecret},
		{"neither has a secret (unauthenticated)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			trs := clusterWith(t, func(id string, cfg *Config) {
				cfg.Secret = tt.secret
				cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
			}, "a", "b", "c")
			for i, pair := range [][2]string{{"a", "b"}, {"a", "c"}, {"b", "c"}} {
				exchange(t, trs[pair[0]], trs[pair[1]], uint64(i+1))
			}
			for id, tr := range trs {
				assert.Zero(t, tr.HandshakeRejects(), id)
			}
			warned := strings.Contains(logs.String(), "peer port is unauthenticated")
			assert.Equal(t, tt.secret == nil, warned, "a warning at start exactly when there is no secret")
		})
	}
}

// TestPeerFrameOverLimitClosesConnection: even a peer that proved the
// secret cannot make the node allocate more than its frame limit: a length
// above it closes the connection at once, before the body arrives (the old
// code allocated up to 256 MiB on the length alone and waited for the body).
func TestPeerFrameOverLimitClosesConnection(t *testing.T) {
	const limit = 64 << 10
	// b accepts from a (a < b) and never dials it, so a needs no listener:
	// the test plays a, with the secret, through a's own dialer handshake.
	b, err := New(Config{ID: "b", ListenAddr: "127.0.0.1:0", Peers: map[string]string{"a": "127.0.0.1:1"},
		Secret: testSecret, MaxFrameBytes: limit})
	require.NoError(t, err)
	require.NoError(t, b.Start(context.Background()))
	defer b.Close()
	a, err := New(Config{ID: "a", ListenAddr: "127.0.0.1:0", Peers: map[string]string{"b": b.Addr().String()}, Secret: testSecret})
	require.NoError(t, err)
	conn, err := net.Dial("tcp", b.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(waitFor)))
	require.NoError(t, a.dialHandshake(conn, a.peers["b"]))

	// A frame within the limit is delivered.
	_, err = WriteFrame(conn, raft.Message{Type: raft.MsgHeartbeat, From: "a", To: "b", Commit: 7}, nil, limit)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), recv(t, b).Commit)

	_, err = conn.Write(binary.BigEndian.AppendUint32(nil, 200<<20))
	require.NoError(t, err)
	requireClosedByPeer(t, conn)
	require.Eventually(t, func() bool { return !b.Stats()["a"].Connected }, waitFor, 10*time.Millisecond)
}

// TestRefusalsAreLoggedOncePerHostAndID: an impostor retrying in a loop is
// refused every time but logged once per claimed id, not once per attempt.
func TestRefusalsAreLoggedOncePerHostAndID(t *testing.T) {
	logs := &syncBuffer{}
	trs := clusterWith(t, func(id string, cfg *Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}, "a", "b")
	b := trs["b"]
	const attempts = 10
	for _, claimed := range []string{"a", "z"} {
		for range attempts {
			conn, err := net.Dial("tcp", b.Addr().String())
			require.NoError(t, err)
			_, err = conn.Write(hello{id: claimed}.append(nil))
			require.NoError(t, err)
			requireClosedByPeer(t, conn)
			conn.Close()
		}
	}
	assert.Equal(t, uint64(2*attempts), b.HandshakeRejects(), "every attempt is refused and counted")
	lines := strings.Count(logs.String(), "refused peer connection")
	assert.Equal(t, 2, lines, "one line per claimed id:\n%s", logs.String())
	assert.Contains(t, logs.String(), "claimed_peer=a")
	assert.Contains(t, logs.String(), "claimed_peer=z")
}

func TestRejectLogLimitsLines(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var l rejectLog
	k := rejectKey{host: "10.0.0.9", claimed: "n1"}
	steps := []struct {
		name           string
		key            rejectKey
		at             time.Duration
		wantLog        bool
		wantSuppressed uint64
	}{
		{"first refusal is logged", k, 0, true, 0},
		{"repeat within the interval is counted", k, time.Second, false, 0},
		{"another repeat", k, 2 * time.Second, false, 0},
		{"another claimed id is logged", rejectKey{host: "10.0.0.9", claimed: "n2"}, 3 * time.Second, true, 0},
		{"after the interval, logged with the count", k, rejectLogInterval + time.Second, true, 2},
		{"and quiet again", k, rejectLogInterval + 2*time.Second, false, 0},
	}
	for _, s := range steps {
		log, suppressed := l.note(s.key, t0.Add(s.at))
		assert.Equal(t, s.wantLog, log, s.name)
		assert.Equal(t, s.wantSuppressed, suppressed, s.name)
	}
}

func TestRejectLogStaysBounded(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var l rejectLog
	for i := range 3 * maxRejectKeys {
		claimed := string(binary.AppendUvarint(nil, uint64(i)))
		l.note(rejectKey{host: "10.0.0.9", claimed: claimed}, t0)
	}
	assert.LessOrEqual(t, len(l.keys), maxRejectKeys+1, "distinct ids share one key once the table is full")
	log, _ := l.note(rejectKey{host: "10.0.0.10", claimed: "x"}, t0.Add(time.Second))
	assert.False(t, log, "a full table logs new keys under the shared one, once per interval")
	log, _ = l.note(rejectKey{host: "10.0.0.10", claimed: "x"}, t0.Add(rejectLogInterval))
	assert.True(t, log, "expired keys make room again")
}

func TestProofBindsRoleIDsAndNonces(t *testing.T) {
	var n1, n2 [nonceBytes]byte
	n1[0], n2[0] = 1, 2
	base := proof(testSecret, roleDialer, "a", "b", n1, n2)
	assert.Len(t, base, proofBytes)
	assert.Equal(t, base, proof(testSecret, roleDialer, "a", "b", n1, n2), "deterministic")
	others := map[string][]byte{
		"other secret":         proof(otherSecret, roleDialer, "a", "b", n1, n2),
		"other role":           proof(testSecret, roleAcceptor, "a", "b", n1, n2),
		"ids swapped":          proof(testSecret, roleDialer, "b", "a", n1, n2),
		"ids split otherwise":  proof(testSecret, roleDialer, "ab", "", n1, n2),
		"nonces swapped":       proof(testSecret, roleDialer, "a", "b", n2, n1),
		"other dialer nonce":   proof(testSecret, roleDialer, "a", "b", n2, n2),
		"other acceptor nonce": proof(testSecret, roleDialer, "a", "b", n1, n1),
	}
	for name, p := range others {
		assert.NotEqual(t, base, p, name)
	}
}

func TestTooManyHandshakesFromOneHostAreRefused(t *testing.T) {
	trs := cluster(t, "b")
	b := trs["b"]
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Silent connections hold slots until the handshake deadline.
	for range maxPendingHandshakesPerHost {
		conn, err := net.Dial("tcp", b.Addr().String())
		require.NoError(t, err)
		conns = append(conns, conn)
	}
	require.Eventually(t, func() bool { return b.acceptedConns.Load() == maxPendingHandshakesPerHost }, waitFor, 10*time.Millisecond)
	conn, err := net.Dial("tcp", b.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	requireClosedByPeer(t, conn)
	assert.Equal(t, uint64(1), b.HandshakeRejects())

	// The deadline frees the slots.
	for _, c := range conns {
		requireClosedByPeer(t, c)
	}
	require.Eventually(t, func() bool {
		b.slots.mu.Lock()
		defer b.slots.mu.Unlock()
		return b.slots.total == 0
	}, waitFor, 10*time.Millisecond)
}
