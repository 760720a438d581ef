package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/faultline/faultline/node/transport"
)

// newTransport binds the peer listener now (so a port in use is reported at
// start-up, naming the address) and builds the single socket channel on it.
// The transport starts dialing in Run.
func newTransport(cfg Config, log *slog.Logger) (*transport.Transport, error) {
	listen := cfg.ListenPeer
	if listen == "" {
		listen = cfg.Peers[cfg.ID]
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listen for peers on %s: %w (stop the process using it or choose another --listen-peer)", listen, err)
	}
	t, err := transport.New(transport.Config{
		ID:            cfg.ID,
		Listener:      ln,
		Peers:         cfg.Peers,
		Logger:        log,
		Secret:        cfg.ClusterSecret,
		MaxFrameBytes: cfg.peerFrameBytes(),
	})
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("peer transport: %w", err)
	}
	return t, nil
}

// The peer frame limit. The largest frame a leader sends is an append of
// MaxEntriesPerAppend entries, or a snapshot of the whole state machine.
//
// One entry is one client write. Its JSON body (the value, and for a cas the
// expected value) is read up to maxRequestBytes, and decoding can triple it:
// encoding/json turns each byte of invalid UTF-8 into U+FFFD, three bytes.
// Its key (in the URL path) and client id (a header) arrive in the request
// head, which net/http bounds at http.DefaultMaxHeaderBytes plus 4 KiB of
// slack. maxEntryFrameBytes adds 8 KiB for that slack, the command's length
// prefixes and the entry's own fields: about 4 MiB, so the default 256
// entries make an append of up to 1026 MiB. Only a peer that proved the
// cluster secret can send a frame at all, and the receiver allocates what a
// frame's length says, not the limit, so a generous limit costs nothing in
// normal operation; it only has to keep a legitimate append deliverable.
const (
	maxEntryFrameBytes = 3*maxRequestBytes + http.DefaultMaxHeaderBytes + 8<<10
	// messageFrameBytes covers a message's other fields: version, type,
	// flags, two ids and six uvarints.
	messageFrameBytes = 1 << 10
)

// largestAppendBytes is the largest append frame the leader may send.
func (c *Config) largestAppendBytes() int64 {
	n := c.MaxEntriesPerAppend
	if n <= 0 {
		n = defaultMaxEntriesPerAppend
	}
	return int64(n)*maxEntryFrameBytes + messageFrameBytes
}

// peerFrameBytes is the transport's frame limit: MaxPeerFrameBytes when
// set, else room for the largest append and at least
// transport.DefaultMaxFrameBytes for a snapshot. Validate keeps it within
// what a frame's 4-byte length can carry.
func (c *Config) peerFrameBytes() uint32 {
	if c.MaxPeerFrameBytes > 0 {
		return uint32(min(c.MaxPeerFrameBytes, transport.MaxFrameLimit))
	}
	return uint32(min(max(c.largestAppendBytes(), transport.DefaultMaxFrameBytes), transport.MaxFrameLimit))
}

// validatePeers checks the cluster secret and the frame limit.
func (c *Config) validatePeers() []error {
	var errs []error
	if n := len(c.ClusterSecret); n > 0 && n < transport.MinSecretBytes {
		errs = append(errs, fmt.Errorf("the cluster secret is %d bytes: use at least %d, e.g. head -c 32 /dev/urandom | base64 > secret, then --cluster-secret-file secret on every node", n, transport.MinSecretBytes))
	}
	appendBytes := c.largestAppendBytes()
	switch {
	case appendBytes > transport.MaxFrameLimit:
		errs = append(errs, fmt.Errorf("--max-append-entries %d allows appends of up to %d bytes, more than a peer frame carries (%d): lower it", c.MaxEntriesPerAppend, appendBytes, int64(transport.MaxFrameLimit)))
	case c.MaxPeerFrameBytes < 0 || c.MaxPeerFrameBytes > transport.MaxFrameLimit:
		errs = append(errs, fmt.Errorf("--max-peer-frame-bytes %d: use 0 (sized for the largest append) or up to %d", c.MaxPeerFrameBytes, int64(transport.MaxFrameLimit)))
	case c.MaxPeerFrameBytes > 0 && c.MaxPeerFrameBytes < appendBytes:
		errs = append(errs, fmt.Errorf("--max-peer-frame-bytes %d is below the largest append (%d bytes for --max-append-entries %d): raise it, lower --max-append-entries, or use 0", c.MaxPeerFrameBytes, appendBytes, c.MaxEntriesPerAppend))
	}
	return errs
}

// scrapeGauges reads the WAL's and the transport's counters for /metrics.
// Both are safe to read from any goroutine.
func (s *Server) scrapeGauges() []gauge {
	var drops, sent, received, reconnects float64
	rejects := float64(s.transport.HandshakeRejects())
	for _, st := range s.transport.Stats() {
		drops += float64(st.Dropped)
		sent += float64(st.Sent)
		received += float64(st.Received)
		reconnects += float64(st.Reconnects)
	}
	ws := s.wal.Stats()
	return []gauge{
		{"kvnode_wal_fsyncs_total", "fsync calls made by the write-ahead log.", "counter", float64(ws.Fsyncs)},
		{"kvnode_wal_bytes_written_total", "Bytes written to the write-ahead log.", "counter", float64(ws.BytesWritten)},
		{"kvnode_wal_segments", "Write-ahead log segment files on disk.", "gauge", float64(ws.Segments)},
		{"kvnode_transport_messages_sent_total", "Peer messages written to a connection.", "counter", sent},
		{"kvnode_transport_messages_received_total", "Peer messages received.", "counter", received},
		{"kvnode_transport_drops_total", "Peer messages dropped (queue full or connection lost).", "counter", drops},
		{"kvnode_transport_reconnects_total", "Peer connections re-established.", "counter", reconnects},
		{"kvnode_transport_handshake_rejects_total", "Peer connections refused in the handshake (no or wrong cluster secret, unknown peer, too many pending).", "counter", rejects},
	}
}
