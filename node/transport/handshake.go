package transport

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
)

// The handshake (protocol version 2) runs on every new connection, before
// any frame, under one deadline (handshakeTimeout). The dialer (smaller id)
// speaks first; there are three flights:
//
//	dialer   -> acceptor: hello{magic, flags, dialer id, dialer nonce}
//	acceptor -> dialer:   hello{magic, flags, acceptor id, acceptor nonce} proof(acceptor)
//	dialer   -> acceptor: proof(dialer)
//
// The proofs are sent only when the node has a cluster secret (flags bit 0);
// both sides must agree on that bit. A proof is
//
//	HMAC-SHA256(secret, proofDomain || role || len(own id) || own id ||
//	            len(peer id) || peer id || dialer nonce || acceptor nonce)
//
// Each side checks the other's proof with hmac.Equal before the connection
// carries a frame. The dialer checks the acceptor's proof before it sends
// its own, so a node with the wrong secret finds out locally and never
// sends a proof; the acceptor checks the dialer's proof before the
// connection replaces any connection to that peer id, so an impostor
// cannot knock a real peer off. Both nonces are fresh random values, so a
// proof recorded on one connection is worthless on another; the role byte
// keeps an acceptor's proof from passing as a dialer's; the ids are
// length-prefixed so no two (own, peer) pairs hash the same bytes.
//
// What it does not do: frames after the handshake are neither encrypted nor
// MACed, so an attacker on the path between two nodes (not merely able to
// reach a port) can still read or change them. Run the peer network on a
// private network, or under WireGuard or a TLS tunnel, if that matters.

// handshakeMagic starts every hello; the last byte is the protocol version.
var handshakeMagic = [4]byte{'f', 'l', 's', 2}

// Sizes of the handshake. Before a peer has proved the secret it can make
// this node read at most maxHandshakeBytes: no frame, and so no frame-sized
// allocation, is read from a connection before its handshake completes.
const (
	// MaxIDBytes bounds a node id, so its length is one byte in the hello.
	MaxIDBytes = 127
	// MinSecretBytes is the shortest cluster secret accepted: 16 bytes of
	// base64 (96 bits) keep a recorded handshake out of reach of an offline
	// guess of the secret.
	MinSecretBytes = 16

	nonceBytes        = 32 // from crypto/rand; 256 bits never repeat
	proofBytes        = sha256.Size
	helloHeaderBytes  = 4 + 1 + 1 // magic, flags, id length
	maxHelloBytes     = helloHeaderBytes + MaxIDBytes + nonceBytes
	maxHandshakeBytes = maxHelloBytes + proofBytes
)

// flagSecret in a hello says the sender has a cluster secret and will send
// and expect proofs.
const flagSecret byte = 1 << 0

// Proof roles.
const (
	roleDialer   byte = 1
	roleAcceptor byte = 2
)

// proofDomain separates these MACs from any other use of the same secret.
const proofDomain = "faultline peer handshake v2\x00"

// errAuth is wrapped by every handshake failure that means the two ends do
// not share a secret (or one has none): the dial loop logs those at warn
// level, because retrying will not fix them.
var errAuth = errors.New("peer authentication failed")

// hello is one side's opening message.
type hello struct {
	id     string
	secret bool // flagSecret
	nonce  [nonceBytes]byte
}

func newHello(id string, secret bool) (hello, error) {
	h := hello{id: id, secret: secret}
	if _, err := rand.Read(h.nonce[:]); err != nil {
		return hello{}, fmt.Errorf("handshake nonce: %w", err)
	}
	return h, nil
}

func (h hello) append(b []byte) []byte {
	var flags byte
	if h.secret {
		flags |= flagSecret
	}
	b = append(b, handshakeMagic[:]...)
	b = append(b, flags, byte(len(h.id)))
	b = append(b, h.id...)
	return append(b, h.nonce[:]...)
}

func readHello(r io.Reader) (hello, error) {
	var hdr [helloHeaderBytes]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return hello{}, fmt.Errorf("read hello: %w", err)
	}
	if [3]byte(hdr[:3]) == [3]byte(handshakeMagic[:3]) && hdr[3] != handshakeMagic[3] {
		return hello{}, fmt.Errorf("peer speaks handshake version %d, this node %d: run the same kvnode version on every node", hdr[3], handshakeMagic[3])
	}
	if [4]byte(hdr[:4]) != handshakeMagic {
		return hello{}, fmt.Errorf("not a faultline peer (bad magic %q)", hdr[:4])
	}
	flags := hdr[4]
	if flags&^flagSecret != 0 {
		return hello{}, fmt.Errorf("unknown hello flags %#x", flags)
	}
	n := int(hdr[5])
	if n == 0 || n > MaxIDBytes {
		return hello{}, fmt.Errorf("bad id length %d", n)
	}
	rest := make([]byte, n+nonceBytes)
	if _, err := io.ReadFull(r, rest); err != nil {
		return hello{}, fmt.Errorf("read hello id: %w", err)
	}
	h := hello{id: string(rest[:n]), secret: flags&flagSecret != 0}
	copy(h.nonce[:], rest[n:])
	return h, nil
}

// proof is what the side in role, named own, sends to prove it knows secret
// on the connection whose hellos carried dialerNonce and acceptorNonce.
func proof(secret []byte, role byte, own, peer string, dialerNonce, acceptorNonce [nonceBytes]byte) []byte {
	mac := hmac.New(sha256.New, secret)
	b := make([]byte, 0, len(proofDomain)+3+len(own)+len(peer)+2*nonceBytes)
	b = append(b, proofDomain...)
	b = append(b, role, byte(len(own)))
	b = append(b, own...)
	b = append(b, byte(len(peer)))
	b = append(b, peer...)
	b = append(b, dialerNonce[:]...)
	b = append(b, acceptorNonce[:]...)
	mac.Write(b)
	return mac.Sum(nil)
}

// secretMismatch explains hellos whose secret flags disagree.
func secretMismatch(peerID string, peerHasSecret bool) error {
	if peerHasSecret {
		return fmt.Errorf("%w: peer %s has a cluster secret and this node has none: give every node the same --cluster-secret-file", errAuth, peerID)
	}
	return fmt.Errorf("%w: peer %s has no cluster secret and this node requires one: give every node the same --cluster-secret-file", errAuth, peerID)
}

// dialHandshake runs the dialer's half on conn to p and returns once p has
// proved the secret (when there is one) and this node has sent its proof.
// The caller sets the deadline.
func (t *Transport) dialHandshake(conn net.Conn, p *peer) error {
	secret := t.cfg.Secret
	mine, err := newHello(t.cfg.ID, len(secret) > 0)
	if err != nil {
		return err
	}
	if _, err := conn.Write(mine.append(nil)); err != nil {
		return fmt.Errorf("write hello: %w", err)
	}
	r := &io.LimitedReader{R: conn, N: maxHandshakeBytes}
	theirs, err := readHello(r)
	if err != nil {
		return err
	}
	if theirs.id != p.id {
		return fmt.Errorf("%s answers as %q, not %q (check --peers)", p.addr, theirs.id, p.id)
	}
	if theirs.secret != mine.secret {
		return secretMismatch(p.id, theirs.secret)
	}
	if !mine.secret {
		return nil
	}
	got := make([]byte, proofBytes)
	if _, err := io.ReadFull(r, got); err != nil {
		return fmt.Errorf("read proof: %w", err)
	}
	if !hmac.Equal(got, proof(secret, roleAcceptor, p.id, t.cfg.ID, mine.nonce, theirs.nonce)) {
		return fmt.Errorf("%w: %s cannot prove it knows the cluster secret: give every node the same --cluster-secret-file", errAuth, p.id)
	}
	if _, err := conn.Write(proof(secret, roleDialer, t.cfg.ID, p.id, mine.nonce, theirs.nonce)); err != nil {
		return fmt.Errorf("write proof: %w", err)
	}
	return nil
}

// acceptHandshake runs the acceptor's half: the dialer must be a known peer
// with a smaller id and, with a secret, prove it. It returns the peer, or
// the id the dialer claimed (empty if it got that far) and why it was
// refused. The caller sets the deadline.
func (t *Transport) acceptHandshake(conn net.Conn) (p *peer, claimed string, err error) {
	r := &io.LimitedReader{R: conn, N: maxHandshakeBytes}
	theirs, err := readHello(r)
	if err != nil {
		return nil, "", err
	}
	claimed = theirs.id
	p = t.peers[theirs.id]
	if p == nil {
		return nil, claimed, fmt.Errorf("unknown peer %q (check --peers on both nodes)", theirs.id)
	}
	if p.dialer {
		return nil, claimed, fmt.Errorf("%q dials, but it should accept our connection instead (ids compare %q < %q)", theirs.id, t.cfg.ID, theirs.id)
	}
	secret := t.cfg.Secret
	if theirs.secret != (len(secret) > 0) {
		return nil, claimed, secretMismatch(theirs.id, theirs.secret)
	}
	mine, err := newHello(t.cfg.ID, len(secret) > 0)
	if err != nil {
		return nil, claimed, err
	}
	out := mine.append(make([]byte, 0, maxHandshakeBytes))
	if mine.secret {
		out = append(out, proof(secret, roleAcceptor, t.cfg.ID, p.id, theirs.nonce, mine.nonce)...)
	}
	if _, err := conn.Write(out); err != nil {
		return nil, claimed, fmt.Errorf("write hello: %w", err)
	}
	if !mine.secret {
		return p, claimed, nil
	}
	got := make([]byte, proofBytes)
	if _, err := io.ReadFull(r, got); err != nil {
		return nil, claimed, fmt.Errorf("%w: no proof of the cluster secret from %q (an impostor, or a node with another --cluster-secret-file): %w", errAuth, theirs.id, err)
	}
	if !hmac.Equal(got, proof(secret, roleDialer, p.id, t.cfg.ID, theirs.nonce, mine.nonce)) {
		return nil, claimed, fmt.Errorf("%w: %q sent a wrong proof of the cluster secret (an impostor, or a node with another --cluster-secret-file)", errAuth, theirs.id)
	}
	return p, claimed, nil
}
