package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/clock"
	"github.com/faultline/faultline/node/kv"
)

func validConfig() Config {
	return Config{
		ID:                "n1",
		Peers:             map[string]string{"n1": "127.0.0.1:7001", "n2": "127.0.0.1:7002", "n3": "127.0.0.1:7003"},
		PeerHTTP:          map[string]string{"n1": "127.0.0.1:8001", "n2": "127.0.0.1:8002", "n3": "127.0.0.1:8003"},
		DataDir:           "/tmp/x",
		Tick:              10 * time.Millisecond,
		ElectionTimeout:   time.Second,
		HeartbeatInterval: 100 * time.Millisecond,
		RequestTimeout:    2 * time.Second,
		SegmentBytes:      1 << 20,
		SnapshotEntries:   1000,
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Config)
		want   string // "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no id", func(c *Config) { c.ID = "" }, "--id is required"},
		{"id not a peer", func(c *Config) { c.ID = "n9" }, "add n9=host:port to --peers"},
		{"no peers", func(c *Config) { c.Peers = nil }, "--peers is required"},
		{"peer without client address", func(c *Config) { delete(c.PeerHTTP, "n2") }, "add n2=host:port to --peer-http"},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "--data-dir is required"},
		{"heartbeat below tick", func(c *Config) { c.HeartbeatInterval = time.Millisecond }, "at least one tick"},
		{"election too short", func(c *Config) { c.ElectionTimeout = 150 * time.Millisecond }, "at least twice"},
		{"no request timeout", func(c *Config) { c.RequestTimeout = 0 }, "--request-timeout"},
		{"no segment size", func(c *Config) { c.SegmentBytes = 0 }, "--segment-bytes"},
		{"no snapshot interval", func(c *Config) { c.SnapshotEntries = 0 }, "--snapshot-entries"},
		{"bad read mode", func(c *Config) { c.ReadMode = "eventual" }, "use index, lease or local"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.change(&cfg)
			err := cfg.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseUnsafe(t *testing.T) {
	set, err := ParseUnsafe("stale-read, skip-fsync,,forget-vote")
	require.NoError(t, err)
	assert.Equal(t, []string{"forget-vote", "skip-fsync", "stale-read"}, set.List())
	assert.True(t, set.On(UnsafeSkipFsync))
	assert.False(t, set.On(UnsafeAckBeforeQuorum))

	empty, err := ParseUnsafe("")
	require.NoError(t, err)
	assert.Equal(t, []string{}, empty.List(), "an empty list encodes as [] in /status")

	_, err = ParseUnsafe("stale-read,yolo")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"yolo"`)
	assert.Len(t, UnsafeNames(), 7)
}

func TestTicks(t *testing.T) {
	cfg := validConfig()
	assert.Equal(t, 100, cfg.electionTicks())
	assert.Equal(t, 10, cfg.heartbeatTicks())
	assert.Equal(t, 10, cfg.leaseMarginTicks())
	cfg.ElectionTimeout = 50 * time.Millisecond
	assert.Equal(t, 1, cfg.leaseMarginTicks(), "the margin is never zero")
}

// TestResultFor: the state machine's outcomes map to the HTTP codes the
// client classifies: applied 200, cas mismatch 412, wrong type 409, and an
// old retry whose result is gone 504 (it may have been applied).
func TestResultFor(t *testing.T) {
	cases := []struct {
		res  kv.Result
		code int
	}{
		{kv.Result{Status: kv.Applied, Value: "v"}, http.StatusOK},
		{kv.Result{Status: kv.Applied, List: []string{"a"}}, http.StatusOK},
		{kv.Result{Status: kv.CASMismatch, Value: "other"}, http.StatusPreconditionFailed},
		{kv.Result{Status: kv.WrongType}, http.StatusConflict},
		{kv.Result{Status: kv.StaleRequest}, http.StatusGatewayTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.res.Status.String(), func(t *testing.T) {
			got := resultFor(tc.res)
			assert.Equal(t, tc.code, got.status)
			if tc.code == http.StatusOK {
				assert.True(t, got.body.Found)
				assert.Equal(t, tc.res.Value, got.body.Value)
				assert.Equal(t, tc.res.List, got.body.List)
			} else {
				assert.NotEmpty(t, got.body.Error)
			}
		})
	}
}

func TestMetricsText(t *testing.T) {
	m := newMetrics()
	m.observe("write", 200, 3*time.Millisecond)
	m.observe("write", 200, 30*time.Millisecond)
	m.observe("read", 504, 3*time.Second)
	m.commits.Add(7)
	m.observeSync(12, 2*time.Millisecond)
	var b bytes.Buffer
	require.NoError(t, m.write(&b, []gauge{{"kvnode_wal_fsyncs_total", "fsyncs", "counter", 5}}))
	text := b.String()
	for _, want := range []string{
		`kvnode_requests_total{op="write",code="200"} 2`,
		`kvnode_requests_total{op="read",code="504"} 1`,
		`kvnode_request_duration_seconds_bucket{op="write",code="200",le="0.005"} 1`,
		`kvnode_request_duration_seconds_bucket{op="write",code="200",le="0.05"} 2`,
		`kvnode_request_duration_seconds_bucket{op="read",code="504",le="+Inf"} 1`,
		`kvnode_request_duration_seconds_count{op="write",code="200"} 2`,
		`kvnode_wal_sync_duration_seconds_count 1`,
		`kvnode_wal_synced_entries_total 12`,
		"kvnode_commits_total 7",
		"kvnode_wal_fsyncs_total 5",
		"# TYPE kvnode_request_duration_seconds histogram",
	} {
		assert.Contains(t, text, want)
	}
}

// forwardingServer is a Server with just enough state to forward.
func forwardingServer(leaderAddr string) *Server {
	cfg := validConfig()
	cfg.PeerHTTP["n2"] = leaderAddr
	return &Server{
		cfg:       cfg,
		log:       slog.New(slog.DiscardHandler),
		forwarder: &http.Client{Transport: forwardTransport(), Timeout: 2 * time.Second},
	}
}

func forwardOnce(t *testing.T, s *Server, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	body := []byte(`{"value":"v"}`)
	req := httptest.NewRequest(http.MethodPut, "/kv/k", bytes.NewReader(body))
	req.Header.Set(client.HeaderClientID, "c1")
	req.Header.Set(client.HeaderSeq, "7")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	view := &statusView{status: client.Status{Leader: "n2"}}
	var code int
	switch rt := s.route(view, false, req.Header.Get(HeaderForwarded)); {
	case rt.refuse != nil:
		code = replyError(rec, http.StatusServiceUnavailable, rt.refuse)
	default:
		require.Equal(t, "n2", rt.leader)
		code = s.forward(rec, req, body, rt.leader)
	}
	assert.Equal(t, rec.Code, code)
	return rec
}

// TestForward: the leader's answer is relayed with the client's headers and
// an X-Forwarded mark; failures are classified by whether the request left.
func TestForward(t *testing.T) {
	t.Run("relays the leader's answer", func(t *testing.T) {
		leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			assert.Equal(t, "n1", r.Header.Get(HeaderForwarded))
			assert.Equal(t, "c1", r.Header.Get(client.HeaderClientID))
			assert.Equal(t, "7", r.Header.Get(client.HeaderSeq))
			assert.Equal(t, "/kv/k", r.URL.Path)
			replyJSON(w, http.StatusPreconditionFailed, client.KVResponse{Error: "mismatch"})
		}))
		defer leader.Close()
		rec := forwardOnce(t, forwardingServer(strings.TrimPrefix(leader.URL, "http://")), nil)
		assert.Equal(t, http.StatusPreconditionFailed, rec.Code)
		var body client.KVResponse
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		assert.Equal(t, "mismatch", body.Error)
	})
	t.Run("leader unreachable before sending is 503", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		rec := forwardOnce(t, forwardingServer(addr), nil)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	})
	t.Run("leader gone after receiving is 504", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				buf := make([]byte, 4096)
				_, _ = conn.Read(buf) // take the request, then hang up
				_ = conn.Close()
			}
		}()
		rec := forwardOnce(t, forwardingServer(ln.Addr().String()), nil)
		assert.Equal(t, http.StatusGatewayTimeout, rec.Code)
	})
	t.Run("leader gone after receiving on a reused connection is 504, not a replay", func(t *testing.T) {
		// The first request on a connection is answered; the second is
		// read and the connection dropped, as a leader that crashes after
		// taking a write does; any later connection answers like a node
		// that is no longer the leader. A replay would turn an applied
		// write into a definite failure.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		var conns atomic.Int32
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer conn.Close()
					r := bufio.NewReader(conn)
					if conns.Add(1) > 1 {
						if req, err := http.ReadRequest(r); err == nil {
							_, _ = io.Copy(io.Discard, req.Body)
							_, _ = io.WriteString(conn, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
						}
						return
					}
					for i := 0; ; i++ {
						req, err := http.ReadRequest(r)
						if err != nil {
							return
						}
						_, _ = io.Copy(io.Discard, req.Body)
						if i > 0 {
							return // took the write, gone before answering
						}
						_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
					}
				}()
			}
		}()
		s := forwardingServer(ln.Addr().String())
		key := map[string]string{"Idempotency-Key": "c1/7"}
		require.Equal(t, http.StatusOK, forwardOnce(t, s, key).Code)
		rec := forwardOnce(t, s, key)
		assert.Equal(t, http.StatusGatewayTimeout, rec.Code, rec.Body.String())
		assert.Equal(t, int32(1), conns.Load(), "the write was not replayed on a new connection")
	})
	t.Run("forwarded request at a non-leader is 503", func(t *testing.T) {
		rec := forwardOnce(t, forwardingServer("127.0.0.1:1"), map[string]string{HeaderForwarded: "n3"})
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Contains(t, rec.Body.String(), "not the leader")
	})
}

// TestTickCatchesUp: ticks the ticker dropped (a busy loop, a paused
// process) are made up from the monotonic base clock, and the skewable
// clock's jumps and rate changes add or remove none.
func TestTickCatchesUp(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	cfg := validConfig()
	cfg.Peers = map[string]string{"n1": "127.0.0.1:0"}
	cfg.PeerHTTP = map[string]string{"n1": "127.0.0.1:1"}
	cfg.ListenClient = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Clock = fake
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := New(cfg)
	require.NoError(t, err)
	defer s.closeResources()
	elapsed := func() uint64 { return s.raft.Status().Elapsed }

	s.tick() // first event: one tick
	require.Equal(t, uint64(1), elapsed())

	fake.Advance(35 * time.Millisecond) // 3.5 ticks of 10ms in one event
	s.tick()
	assert.Equal(t, uint64(4), elapsed())
	fake.Advance(5 * time.Millisecond) // the half tick left over completes
	s.tick()
	assert.Equal(t, uint64(5), elapsed())

	s.clock.Bump(-time.Hour) // a wall-clock jump adds or removes nothing
	fake.Advance(10 * time.Millisecond)
	s.tick()
	assert.Equal(t, uint64(6), elapsed())

	require.NoError(t, s.clock.SetRate(2)) // a skewed wall-clock rate adds nothing either
	fake.Advance(10 * time.Millisecond)
	s.tick()
	assert.Equal(t, uint64(7), elapsed())

	fake.Advance(time.Hour) // a long pause: capped at two election timeouts
	s.tick()
	assert.Equal(t, uint64(7+2*cfg.electionTicks()), elapsed())
}

func TestSnapshotStagger(t *testing.T) {
	peers := []string{"n1", "n2", "n3"}
	assert.Equal(t, uint64(0), snapshotStagger(peers, "n1", 30000))
	assert.Equal(t, uint64(10000), snapshotStagger(peers, "n2", 30000))
	assert.Equal(t, uint64(20000), snapshotStagger(peers, "n3", 30000))
	assert.Equal(t, uint64(0), snapshotStagger([]string{"n1"}, "n1", 30000))
}
