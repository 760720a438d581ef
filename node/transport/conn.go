package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/faultline/faultline/node/raft"
)

// Connection timing. Backoff doubles from minBackoff to maxBackoff while a
// peer stays unreachable; a connection that lived longer than maxBackoff
// resets it. writeTimeout tears down a connection whose peer stopped reading
// (paused, or partitioned by dropping packets) so the queue starts dropping
// instead of holding a stuck writer forever.
const (
	minBackoff       = 50 * time.Millisecond
	maxBackoff       = time.Second
	dialTimeout      = time.Second
	handshakeTimeout = 2 * time.Second
	writeTimeout     = 5 * time.Second
	writeBufferBytes = 64 << 10
	readBufferBytes  = 64 << 10
)

// handshakeMagic starts both handshake messages; the last byte is the
// protocol version.
var handshakeMagic = [4]byte{'f', 'l', 's', 1}

// dialLoop keeps one connection to p open for as long as the transport runs.
func (t *Transport) dialLoop(p *peer) {
	defer t.wg.Done()
	backoff := minBackoff
	for t.ctx.Err() == nil {
		conn, err := t.dial(p)
		if err != nil {
			t.log.Debug("dial peer failed", "peer", p.id, "addr", p.addr, "err", err, "retry_in", backoff)
		} else {
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

// dial connects to p and runs the dialer's half of the handshake: send our
// id, expect the peer's id back.
func (t *Transport) dial(p *peer) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(t.ctx, "tcp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s at %s: %w", p.id, p.addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := writeHello(conn, t.cfg.ID); err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake with %s at %s: %w", p.id, p.addr, err)
	}
	id, err := readHello(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake with %s at %s: %w", p.id, p.addr, err)
	}
	if id != p.id {
		conn.Close()
		return nil, fmt.Errorf("handshake: %s answers as %q, not %q (check --peers)", p.addr, id, p.id)
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
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			p, err := t.acceptHandshake(conn)
			if err != nil {
				t.log.Warn("reject peer connection", "remote", conn.RemoteAddr().String(), "err", err)
				conn.Close()
				return
			}
			t.runConn(p, conn)
		}()
	}
}

// acceptHandshake runs the acceptor's half: the dialer must be a known
// peer with a smaller id; we answer with our id.
func (t *Transport) acceptHandshake(conn net.Conn) (*peer, error) {
	_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
	id, err := readHello(conn)
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	p := t.peers[id]
	if p == nil {
		return nil, fmt.Errorf("handshake from unknown peer %q (check --peers on both nodes)", id)
	}
	if p.dialer {
		return nil, fmt.Errorf("handshake from %q, which should accept our connection instead (ids compare %q < %q)", id, t.cfg.ID, id)
	}
	if err := writeHello(conn, t.cfg.ID); err != nil {
		return nil, fmt.Errorf("handshake with %s: %w", id, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return p, nil
}

func writeHello(w io.Writer, id string) error {
	b := append(handshakeMagic[:0:0], handshakeMagic[:]...)
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	_, err := w.Write(b)
	return err
}

// MaxIDBytes bounds a node id, so its length is one uvarint byte in the
// handshake.
const MaxIDBytes = 127

func readHello(r io.Reader) (string, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "", fmt.Errorf("read hello: %w", err)
	}
	if [4]byte(hdr[:4]) != handshakeMagic {
		return "", fmt.Errorf("not a faultline peer (bad magic %q)", hdr[:4])
	}
	n := int(hdr[4]) // a one-byte uvarint: ids are 1..MaxIDBytes long
	if n == 0 || n > MaxIDBytes {
		return "", fmt.Errorf("bad id length %d", n)
	}
	id := make([]byte, n)
	if _, err := io.ReadFull(r, id); err != nil {
		return "", fmt.Errorf("read hello id: %w", err)
	}
	return string(id), nil
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
	t.log.Info("peer connected", "peer", p.id, "remote", conn.RemoteAddr().String(), "dialer", p.dialer)
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
		m, b, err := ReadFrame(r, buf)
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
		scratch, err = WriteFrame(w, m, scratch)
		if len(scratch) > writeBufferBytes {
			scratch = nil
		}
		if errors.Is(err, ErrFrameTooLarge) {
			// Nothing was written; the connection is still good.
			p.dropped.Add(1)
			t.log.Error("drop message too large for a frame", "peer", p.id, "type", m.Type, "err", err)
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
