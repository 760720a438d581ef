package server

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBucketsSeconds are the upper bounds of the request latency
// histogram: from 0.5 ms (a local read) to 5 s (beyond any request timeout).
var latencyBucketsSeconds = []float64{
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5,
}

// histogram is one Prometheus histogram series.
type histogram struct {
	buckets    []uint64 // cumulative counts are computed when written
	count      uint64
	sumSeconds float64
}

type requestKey struct {
	op   string
	code int
}

// metrics holds the counters exported on GET /metrics. Request metrics are
// updated by HTTP handlers under mu; the loop's counters are atomics it alone
// writes; WAL and transport figures are read from their Stats when scraped.
type metrics struct {
	mu       sync.Mutex
	requests map[requestKey]*histogram
	// walSync is the latency of the loop's wal.Sync (the group commit);
	// readyEntries is how many entries each synced Ready carried.
	walSync      histogram
	readyEntries uint64

	commits        atomic.Uint64 // entries applied
	elections      atomic.Uint64 // campaigns this node started (term increases while not following)
	leaderChanges  atomic.Uint64 // times the known leader changed
	snapshots      atomic.Uint64 // snapshots taken
	snapshotsRecvd atomic.Uint64 // snapshots installed from a leader
	readIndexes    atomic.Uint64 // read-index rounds started
	loopIterations atomic.Uint64
	readyBatches   atomic.Uint64 // Ready values handled
	syncs          atomic.Uint64 // wal.Sync calls made by the loop
	proposalsBatch atomic.Uint64 // proposals handed to the core
}

func newMetrics() *metrics {
	return &metrics{
		requests: map[requestKey]*histogram{},
		walSync:  histogram{buckets: make([]uint64, len(latencyBucketsSeconds))},
	}
}

// observeSync records one group commit of entries taking latency.
func (m *metrics) observeSync(entries int, latency time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.walSync.add(latency)
	m.readyEntries += uint64(entries)
}

func (h *histogram) add(latency time.Duration) {
	s := latency.Seconds()
	for i, le := range latencyBucketsSeconds {
		if s <= le {
			h.buckets[i]++
			break
		}
	}
	h.count++
	h.sumSeconds += s
}

// appendHistogram renders one histogram series with the given labels
// (`op="write",code="200"` or empty).
func appendHistogram(b []byte, name, labels string, h *histogram) []byte {
	sep := ""
	if labels != "" {
		sep = ","
	}
	var cumulative uint64
	for i, le := range latencyBucketsSeconds {
		cumulative += h.buckets[i]
		b = fmt.Appendf(b, "%s_bucket{%s%sle=%q} %d\n", name, labels, sep, strconv.FormatFloat(le, 'g', -1, 64), cumulative)
	}
	b = fmt.Appendf(b, "%s_bucket{%s%sle=\"+Inf\"} %d\n", name, labels, sep, h.count)
	if labels != "" {
		labels = "{" + labels + "}"
	}
	b = fmt.Appendf(b, "%s_sum%s %g\n", name, labels, h.sumSeconds)
	b = fmt.Appendf(b, "%s_count%s %d\n", name, labels, h.count)
	return b
}

// observe records one client request.
func (m *metrics) observe(op string, code int, latency time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := requestKey{op, code}
	h := m.requests[k]
	if h == nil {
		h = &histogram{buckets: make([]uint64, len(latencyBucketsSeconds))}
		m.requests[k] = h
	}
	h.add(latency)
}

// gauge is one extra series written at scrape time.
type gauge struct {
	name, help, kind string
	value            float64
}

// write renders the Prometheus text exposition format (version 0.0.4).
func (m *metrics) write(w io.Writer, extra []gauge) error {
	var b []byte
	m.mu.Lock()
	keys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].op != keys[j].op {
			return keys[i].op < keys[j].op
		}
		return keys[i].code < keys[j].code
	})
	b = append(b, "# HELP kvnode_requests_total Client requests answered, by op and HTTP status code.\n"...)
	b = append(b, "# TYPE kvnode_requests_total counter\n"...)
	for _, k := range keys {
		b = fmt.Appendf(b, "kvnode_requests_total{op=%q,code=\"%d\"} %d\n", k.op, k.code, m.requests[k].count)
	}
	b = append(b, "# HELP kvnode_request_duration_seconds Client request latency, by op and HTTP status code.\n"...)
	b = append(b, "# TYPE kvnode_request_duration_seconds histogram\n"...)
	for _, k := range keys {
		b = appendHistogram(b, "kvnode_request_duration_seconds", fmt.Sprintf("op=%q,code=\"%d\"", k.op, k.code), m.requests[k])
	}
	b = append(b, "# HELP kvnode_wal_sync_duration_seconds Latency of the update loop's group commit (append + fsync).\n"...)
	b = append(b, "# TYPE kvnode_wal_sync_duration_seconds histogram\n"...)
	b = appendHistogram(b, "kvnode_wal_sync_duration_seconds", "", &m.walSync)
	b = append(b, "# HELP kvnode_wal_synced_entries_total Log entries made durable by the loop's group commits.\n"...)
	b = append(b, "# TYPE kvnode_wal_synced_entries_total counter\n"...)
	b = fmt.Appendf(b, "kvnode_wal_synced_entries_total %d\n", m.readyEntries)
	m.mu.Unlock()

	counters := []gauge{
		{"kvnode_commits_total", "Log entries committed and applied to the state machine.", "counter", float64(m.commits.Load())},
		{"kvnode_elections_total", "Elections this node started as a candidate.", "counter", float64(m.elections.Load())},
		{"kvnode_leader_changes_total", "Times this node saw the leader change.", "counter", float64(m.leaderChanges.Load())},
		{"kvnode_snapshots_total", "Snapshots taken of the state machine.", "counter", float64(m.snapshots.Load())},
		{"kvnode_snapshots_installed_total", "Snapshots received from a leader and installed.", "counter", float64(m.snapshotsRecvd.Load())},
		{"kvnode_read_index_rounds_total", "Read-index rounds (quorum confirmations) started.", "counter", float64(m.readIndexes.Load())},
		{"kvnode_loop_iterations_total", "Iterations of the singular update queue.", "counter", float64(m.loopIterations.Load())},
		{"kvnode_ready_total", "Ready batches persisted, sent and applied.", "counter", float64(m.readyBatches.Load())},
		{"kvnode_proposals_total", "Client writes proposed to the replication core.", "counter", float64(m.proposalsBatch.Load())},
	}
	for _, g := range append(counters, extra...) {
		b = fmt.Appendf(b, "# HELP %s %s\n# TYPE %s %s\n%s %g\n", g.name, g.help, g.name, g.kind, g.name, g.value)
	}
	_, err := w.Write(b)
	return err
}
