// Package transport is kvnode's single socket channel: exactly one TCP
// connection between each pair of peers, carrying raft messages in both
// directions as length-prefixed binary frames.
//
// The peer with the lexically smaller ID dials and the other accepts, so
// the two sides never race to open two connections. Each connection has one
// writer goroutine that drains the peer's bounded send queue into a buffered
// writer and flushes when the queue is empty (batching under load, low
// latency when idle), and one reader goroutine that delivers to Receive.
// Send never blocks: raft tolerates message loss, so a full queue drops and
// counts. A dropped connection is redialled with exponential backoff.
//
// With a cluster secret, every connection starts with a mutual
// challenge-response handshake (handshake.go): a peer that cannot prove it
// knows the secret never gets a connection, and never disturbs the one the
// real peer has. Until a peer has proved it, a connection can make this
// node read at most maxHandshakeBytes; after, frames are bounded by
// Config.MaxFrameBytes.
package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/node/raft"
)

// Defaults and limits. They bound memory (queues) and how long a dead peer
// can hold a writer (timeouts). Network deadlines use the real clock: the
// kernel enforces them, and a skewed node clock must not break its sockets.
const (
	DefaultSendQueue    = 4096 // messages per peer; a heartbeat interval's worth of a busy pipeline many times over
	DefaultReceiveQueue = 4096 // messages from all peers waiting for the driver

	// DefaultMaxFrameBytes bounds a frame when Config.MaxFrameBytes is 0.
	// The largest message is usually a snapshot of the whole state machine;
	// 256 MiB ships one of that size. A store whose appends can be larger
	// (kvnode's can: see node/server) passes its own bound.
	DefaultMaxFrameBytes = 256 << 20
	// MaxFrameLimit is the largest frame the 4-byte length can carry.
	MaxFrameLimit = 1<<32 - 1
)

// Config configures a Transport.
type Config struct {
	// ID is this node's id.
	ID string
	// ListenAddr is the peer address to listen on, e.g. ":7000". Empty
	// means Peers[ID].
	ListenAddr string
	// Listener, when set, is used instead of listening on ListenAddr
	// (tests pass a listener on port 0).
	Listener net.Listener
	// Peers maps every peer id to its dial address; an entry for ID itself
	// is allowed and ignored.
	Peers map[string]string
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// SendQueue bounds the messages queued for one peer
	// (DefaultSendQueue when <= 0). When full, Send drops.
	SendQueue int
	// Secret is the cluster secret (at least MinSecretBytes). With one,
	// every peer must prove it knows the same secret before its connection
	// is used; empty means peers are not authenticated (local development
	// only: anyone who can reach the peer port can join replication).
	Secret []byte
	// MaxFrameBytes bounds one frame, received (a larger length closes the
	// connection before anything is allocated for it) or sent (a larger
	// message is dropped and logged). It must exceed the largest message
	// the store sends, and be the same on every node
	// (DefaultMaxFrameBytes when 0; at most MaxFrameLimit).
	MaxFrameBytes uint32
	// ReceiveQueue bounds received messages not yet taken from Receive
	// (DefaultReceiveQueue when <= 0). When full, readers wait, which
	// pushes back on the sender through TCP.
	ReceiveQueue int
}

// PeerStats are one peer's counters since New.
type PeerStats struct {
	// Sent counts messages written and flushed to a connection.
	Sent uint64
	// Received counts messages read from the peer.
	Received uint64
	// Dropped counts messages lost: send queue full, or buffered on a
	// connection that failed.
	Dropped uint64
	// Connects counts connections established (handshake completed).
	Connects uint64
	// Reconnects is Connects after the first.
	Reconnects uint64
	// Connected reports whether a connection is up now.
	Connected bool
	// Queued is the number of messages waiting in the send queue.
	Queued int
	// Dialer reports whether this node dials the peer (smaller id).
	Dialer bool
}

// Transport is the single socket channel of one node to all its peers.
type Transport struct {
	cfg   Config
	log   *slog.Logger
	peers map[string]*peer
	recv  chan raft.Message

	mu        sync.Mutex // guards state during Start and Close
	state     lifecycle
	ln        net.Listener
	ctx       context.Context // set by Start; cancelled by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	// handshakeTimeout bounds one handshake (the constant; tests shorten it).
	handshakeTimeout time.Duration
	slots            handshakeSlots
	rejects          rejectLog

	unknownDropped   atomic.Uint64 // messages addressed to no known peer
	acceptedConns    atomic.Uint64 // raw TCP connections accepted (tests)
	handshakeRejects atomic.Uint64 // handshakes refused, either side
}

type lifecycle int

const (
	stateNew lifecycle = iota
	stateRunning
	stateClosed
)

// peer is the state for one remote node. queue outlives connections, so
// messages sent while reconnecting go out on the next connection.
type peer struct {
	id     string
	addr   string
	dialer bool
	queue  chan raft.Message

	sent, received, dropped, connects atomic.Uint64

	mu   sync.Mutex
	conn net.Conn      // current connection, nil when down
	done chan struct{} // closed when conn's reader and writer have exited
}

// New validates cfg and returns a Transport that is not yet listening or
// dialing (see Start). Send may be called before Start; messages wait in
// the queue.
func New(cfg Config) (*Transport, error) {
	if cfg.ID == "" || len(cfg.ID) > MaxIDBytes {
		return nil, fmt.Errorf("transport: node id %q must be 1..%d bytes", cfg.ID, MaxIDBytes)
	}
	if cfg.ListenAddr == "" && cfg.Listener == nil {
		cfg.ListenAddr = cfg.Peers[cfg.ID]
		if cfg.ListenAddr == "" {
			return nil, fmt.Errorf("transport: no listen address for %s (set ListenAddr or Peers[%s])", cfg.ID, cfg.ID)
		}
	}
	if n := len(cfg.Secret); n > 0 && n < MinSecretBytes {
		return nil, fmt.Errorf("transport: the cluster secret is %d bytes; use at least %d (e.g. head -c 32 /dev/urandom | base64)", n, MinSecretBytes)
	}
	if cfg.MaxFrameBytes == 0 {
		cfg.MaxFrameBytes = DefaultMaxFrameBytes
	}
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = DefaultSendQueue
	}
	if cfg.ReceiveQueue <= 0 {
		cfg.ReceiveQueue = DefaultReceiveQueue
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Transport{
		cfg:   cfg,
		log:   log.With("component", "transport", "node", cfg.ID),
		peers: map[string]*peer{},
		recv:  make(chan raft.Message, cfg.ReceiveQueue),

		handshakeTimeout: handshakeTimeout,
	}
	for id, addr := range cfg.Peers {
		if id == cfg.ID {
			continue
		}
		if id == "" || len(id) > MaxIDBytes || addr == "" {
			return nil, fmt.Errorf("transport: peer %q has address %q; want id=host:port", id, addr)
		}
		t.peers[id] = &peer{
			id: id, addr: addr,
			dialer: cfg.ID < id,
			queue:  make(chan raft.Message, cfg.SendQueue),
		}
	}
	return t, nil
}

// Start listens for peers and starts dialing the peers with larger ids. A
// listen failure (port in use) is returned with the address. Cancelling ctx
// closes the transport.
func (t *Transport) Start(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != stateNew {
		return errors.New("transport: Start called twice or after Close")
	}
	ln := t.cfg.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", t.cfg.ListenAddr)
		if err != nil {
			return fmt.Errorf("listen for peers on %s: %w (is another process using the port? choose another --listen-peer)", t.cfg.ListenAddr, err)
		}
	}
	t.ln = ln
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.state = stateRunning

	t.wg.Add(1)
	go t.acceptLoop()
	for _, p := range t.peers {
		if p.dialer {
			t.wg.Add(1)
			go t.dialLoop(p)
		}
	}
	context.AfterFunc(ctx, func() { _ = t.Close() })
	authenticated := len(t.cfg.Secret) > 0
	t.log.Info("peer transport listening", "addr", ln.Addr().String(), "peers", len(t.peers),
		"authenticated", authenticated, "max_frame_bytes", t.cfg.MaxFrameBytes)
	if !authenticated {
		t.log.Warn("peer port is unauthenticated: anyone who can reach it can join replication and take over a peer's connection; give every node the same --cluster-secret-file",
			"addr", ln.Addr().String())
	}
	return nil
}

// Addr returns the listening address (after Start), useful with port 0.
func (t *Transport) Addr() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ln == nil {
		return nil
	}
	return t.ln.Addr()
}

// Send queues msgs for their peers (by To) without blocking. Messages to
// one peer are written in the order given, across calls. When a peer's
// queue is full the message is dropped and counted. The transport keeps the
// messages (and their Entries and Data) until written, so the caller must
// not modify them afterwards.
func (t *Transport) Send(msgs []raft.Message) {
	for _, m := range msgs {
		p := t.peers[m.To]
		if p == nil {
			t.unknownDropped.Add(1)
			t.log.Debug("drop message to unknown peer", "to", m.To, "type", m.Type)
			continue
		}
		select {
		case p.queue <- m:
		default:
			p.dropped.Add(1)
		}
	}
}

// Receive returns the channel of messages from peers. It is closed by
// Close once every reader has stopped.
func (t *Transport) Receive() <-chan raft.Message { return t.recv }

// Stats returns every peer's counters.
func (t *Transport) Stats() map[string]PeerStats {
	out := make(map[string]PeerStats, len(t.peers))
	for id, p := range t.peers {
		p.mu.Lock()
		connected := p.conn != nil
		p.mu.Unlock()
		s := PeerStats{
			Sent: p.sent.Load(), Received: p.received.Load(), Dropped: p.dropped.Load(),
			Connects: p.connects.Load(), Connected: connected, Queued: len(p.queue), Dialer: p.dialer,
		}
		if s.Connects > 0 {
			s.Reconnects = s.Connects - 1
		}
		out[id] = s
	}
	return out
}

// HandshakeRejects counts handshakes refused since New, on either side: a
// connection that did not prove the secret, named an unknown or wrong peer,
// spoke another protocol, or found too many handshakes in progress.
func (t *Transport) HandshakeRejects() uint64 { return t.handshakeRejects.Load() }

// Close stops listening, closes every connection, waits for all goroutines
// and closes the Receive channel. Queued messages are discarded.
func (t *Transport) Close() error {
	var err error
	t.closeOnce.Do(func() {
		t.mu.Lock()
		prev := t.state
		t.state = stateClosed
		t.mu.Unlock()
		if prev != stateRunning {
			close(t.recv)
			return
		}
		t.cancel()
		err = t.ln.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		for _, p := range t.peers {
			p.mu.Lock()
			if p.conn != nil {
				_ = p.conn.Close()
			}
			p.mu.Unlock()
		}
		t.wg.Wait()
		close(t.recv)
		t.log.Info("peer transport closed")
	})
	if err != nil {
		return fmt.Errorf("close peer listener: %w", err)
	}
	return nil
}
