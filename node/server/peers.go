package server

import (
	"fmt"
	"log/slog"
	"net"

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
		ID:       cfg.ID,
		Listener: ln,
		Peers:    cfg.Peers,
		Logger:   log,
	})
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("peer transport: %w", err)
	}
	return t, nil
}

// scrapeGauges reads the WAL's and the transport's counters for /metrics.
// Both are safe to read from any goroutine.
func (s *Server) scrapeGauges() []gauge {
	var drops, sent, received, reconnects float64
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
	}
}
