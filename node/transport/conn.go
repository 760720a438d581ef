package transport

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/faultline/faultline/node/raft"
)

// Connection timing. Backoff doubles from minBackoff to maxBackoff while a
// peer stays unreachable; a connection that lived longer than maxBackoff
// resets it. writeTimeout tears down a connection whose peer stopped reading
// (paused, or partitioned by dropping packets) so the queue starts dropping
// instead of holding a stuck writer forever. handshakeTimeout bounds the
// whole handshake, so a connection that goes silent before proving the
// secret is closed and frees its slot (admission.go); a real handshake
// takes a few round trips.
const (
	minBackoff       = 50 * time.Millisecond
	maxBackoff       = time.Second
	dialTimeout      = time.Second
	handshakeTimeout = 2 * time.Second
	writeTimeout     = 5 * time.Second
	writeBufferBytes = 64 << 10
	readBufferBytes  = 64 << 10
)

// dialLoop keeps one connection to p open for as long as the transport runs.
func (t *Transport) dialLoop(p *peer) {
	defer t.wg.Done()
	backoff := minBackoff
	for t.ctx.Err() == nil {
		conn, err := t.dial(p)
		switch {
		case errors.Is(err, errAuth):
			// A misconfiguration, not a network fault: warn (once a
			// minute) rather than debug. Keep retrying, the peer may be
			// restarted with the right secret.
			t.noteReject(hostOf(p.addr), p.id, err)
		case err != nil:
			t.log.Debug("dial peer failed", "peer", p.id, "addr", p.addr, "err", err, "retry_in", backoff)
		default:
			began := time.Now()
			t.runConn(p, conn)
			if time.Since(began) > maxBackoff {
				backoff = minBackoff
			}
		}
		select {
		case <-t.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// dial connects to p and runs the dialer's half of the handshake
// (handshake.go) under a deadline.
func (t *Transport) dial(p *peer) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(t.ctx, "tcp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s at %s: %w", p.id, p.addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(t.handshakeTimeout))
	if err := t.dialHandshake(conn, p); err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake with %s at %s: %w", p.id, p.addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	backoff := minBackoff
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("accept peer connection", "err", err)
			select {
			case <-t.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		t.acceptedConns.Add(1)
		host := hostOf(conn.RemoteAddr().String())
		if !t.slots.acquire(host) {
			t.noteReject(host, "", errors.New("too many handshakes in progress"))
			conn.Close()
			continue
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			_ = conn.SetDeadline(time.Now().Add(t.handshakeTimeout))
			p, claimed, err := t.acceptHandshake(conn)
			t.slots.release(host)
			if err != nil {
				t.noteReject(host, claimed, err)
				conn.Close()
				return
			}
			_ = conn.SetDeadline(time.Time{})
			t.runConn(p, conn)
		}()
	}
}

// noteReject counts a refused handshake and logs it unless the same host
// and claimed id were logged less than rejectLogInterval ago.
func (t *Transport) noteReject(host, claimed string, err error) {
	t.handshakeRejects.Add(1)
	log, suppressed := t.rejects.note(rejectKey{host: host, claimed: claimed}, time.Now())
	if !log {
		return
	}
	t.log.Warn("refused peer connection", "remote", host, "claimed_peer", claimed, "err", err,
		"suppressed_since_last", suppressed, "next_log_after", rejectLogInterval)
}

// hostOf strips the port from addr.
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// runConn makes conn the peer's connection, replacing (and waiting out) a
// previous one so that at most one writer drains the queue, and serves it
// until it fails.
func (t *Transport) runConn(p *peer, conn net.Conn) {
	done := make(chan struct{})
	p.mu.Lock()
	prev, prevDone := p.conn, p.done
	p.conn, p.done = conn, done
	p.mu.Unlock()
	if prev != nil {
		prev.Close()
		<-prevDone
	}

	p.connects.Add(1)
	t.log.Info("peer connected", "peer", p.id, "remote", conn.RemoteAddr().String(), "dialer", p.dialer,
		"authenticated", len(t.cfg.Secret) > 0)
	err := t.serve(p, conn)
	t.log.Info("peer connection lost", "peer", p.id, "err", err)

	p.mu.Lock()
	if p.conn == conn {
		p.conn, p.done = nil, nil
	}
	p.mu.Unlock()
	close(done)
}

// serve runs the reader in a goroutine and the writer here; when either
// stops the connection is closed, which stops the other.
func (t *Transport) serve(p *peer, conn net.Conn) error {
	readErr := make(chan error, 1)
	go func() { readErr <- t.readLoop(p, conn) }()
	werr := t.writeLoop(p, conn, readErr)
	conn.Close()
	if werr != nil {
		<-readErr
		return werr
	}
	return <-readErr
}

// readLoop delivers the peer's messages to Receive.
func (t *Transport) readLoop(p *peer, conn net.Conn) error {
	r := bufio.NewReaderSize(conn, readBufferBytes)
	var buf []byte
	for {
		m, b, err := ReadFrame(r, buf, t.cfg.MaxFrameBytes)
		buf = b
		if len(buf) > readBufferBytes {
			buf = nil // do not pin a large snapshot frame
		}
		if err != nil {
			conn.Close()
			return fmt.Errorf("read from %s: %w", p.id, err)
		}
		if m.From != p.id || m.To != t.cfg.ID {
			conn.Close()
			return fmt.Errorf("read from %s: message from %q to %q on this connection", p.id, m.From, m.To)
		}
		p.received.Add(1)
		select {
		case t.recv <- m:
		case <-t.ctx.Done():
			conn.Close()
			return t.ctx.Err()
		}
	}
}

// writeLoop drains the peer's queue into a buffered writer, flushing when
// the queue runs empty. It returns nil when the reader stopped first.
func (t *Transport) writeLoop(p *peer, conn net.Conn, readErr chan error) error {
	w := bufio.NewWriterSize(conn, writeBufferBytes)
	var scratch []byte
	pending := uint64(0) // written to w but not yet flushed
	fail := func(err error) error {
		p.dropped.Add(pending)
		return fmt.Errorf("write to %s: %w", p.id, err)
	}
	for {
		var m raft.Message
		select {
		case m = <-p.queue:
		case err := <-readErr:
			readErr <- err // for serve
			p.dropped.Add(pending)
			return nil
		case <-t.ctx.Done():
			p.dropped.Add(pending)
			return t.ctx.Err()
		}
		_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		var err error
		scratch, err = WriteFrame(w, m, scratch, t.cfg.MaxFrameBytes)
		if len(scratch) > writeBufferBytes {
			scratch = nil
		}
		if errors.Is(err, ErrFrameTooLarge) {
			// Nothing was written; the connection is still good.
			p.dropped.Add(1)
			t.log.Error("drop message too large for a frame: raise --max-peer-frame-bytes on every node", "peer", p.id, "type", m.Type, "err", err)
			continue
		}
		pending++
		if err != nil {
			return fail(err)
		}
		if len(p.queue) == 0 {
			if err := w.Flush(); err != nil {
				return fail(err)
			}
			p.sent.Add(pending)
			pending = 0
		}
	}
}
