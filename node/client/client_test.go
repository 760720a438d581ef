package client

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOutcomeByStatusCode(t *testing.T) {
	tests := []struct {
		code      int
		body      string
		want      Outcome
		wantFound bool
	}{
		{http.StatusOK, `{"found":true,"value":"v"}`, OK, true},
		{http.StatusNoContent, ``, OK, false},
		{http.StatusNotFound, `{"found":false}`, OK, false},
		{http.StatusBadRequest, `{"error":"bad key"}`, Fail, false},
		{http.StatusConflict, `{"error":"wrong type"}`, Fail, false},
		{http.StatusPreconditionFailed, `{"found":true,"value":"other"}`, Fail, true},
		{http.StatusServiceUnavailable, `{"error":"no leader"}`, Fail, false},
		{http.StatusGatewayTimeout, `{"error":"not known to be committed"}`, Info, false},
		{http.StatusInternalServerError, `oops`, Info, false},
		{http.StatusBadGateway, ``, Info, false},
		{http.StatusOK, `not json`, Info, false}, // applied, but a read's answer is lost
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code)+"/"+tt.body, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.code)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := New(srv.URL, Options{Timeout: time.Second})
			for name, call := range map[string]func() Result{
				"get":    func() Result { return c.Get(context.Background(), "k") },
				"put":    func() Result { return c.Put(context.Background(), "k", "v") },
				"cas":    func() Result { return c.CAS(context.Background(), "k", "a", "b") },
				"append": func() Result { return c.Append(context.Background(), "k", "e") },
			} {
				res := call()
				assert.Equal(t, tt.want, res.Outcome, name)
				assert.Equal(t, tt.code, res.StatusCode, name)
				assert.Equal(t, tt.wantFound, res.Found, name)
				if tt.want == OK {
					assert.NoError(t, res.Err, name)
				} else {
					assert.Error(t, res.Err, name)
				}
			}
		})
	}
}

func TestRequestsCarryIdentityAndBody(t *testing.T) {
	type seen struct {
		method, path, client, seq string
		body                      map[string]string
	}
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{method: r.Method, path: r.URL.EscapedPath(), client: r.Header.Get(HeaderClientID), seq: r.Header.Get(HeaderSeq)}
		_ = json.NewDecoder(r.Body).Decode(&s.body)
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(KVResponse{Found: true, List: []string{"e"}})
	}))
	defer srv.Close()

	ctx := context.Background()
	c := New(srv.URL+"/", Options{ClientID: "w1"})
	assert.Equal(t, "w1", c.ClientID())
	put := c.Put(ctx, "a/b c", "v")
	assert.Equal(t, uint64(1), put.Seq)
	assert.Equal(t, uint64(2), c.CAS(ctx, "k", "x", "y").Seq)
	app := c.Append(ctx, "k", "e")
	assert.Equal(t, []string{"e"}, app.List)
	retry := c.WithSeq(put.Seq).Put(ctx, "a/b c", "v")
	assert.Equal(t, uint64(1), retry.Seq)
	assert.Equal(t, uint64(3), c.Seq(), "a retry does not consume a sequence number")
	c.Get(ctx, "k")

	want := []seen{
		{"PUT", "/kv/a%2Fb%20c", "w1", "1", map[string]string{"value": "v"}},
		{"POST", "/kv/k/cas", "w1", "2", map[string]string{"expect": "x", "value": "y"}},
		{"POST", "/kv/k/append", "w1", "3", map[string]string{"element": "e"}},
		{"PUT", "/kv/a%2Fb%20c", "w1", "1", map[string]string{"value": "v"}},
		{"GET", "/kv/k", "", "", nil},
	}
	assert.Equal(t, want, got)

	other := New(srv.URL, Options{})
	assert.Len(t, other.ClientID(), 24)
	assert.NotEqual(t, other.ClientID(), New(srv.URL, Options{}).ClientID())
}

func TestRefusedPortIsFail(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	c := New("http://"+addr, Options{Timeout: time.Second})
	res := c.Put(context.Background(), "k", "v")
	assert.Equal(t, Fail, res.Outcome, "nothing was sent: %v", res.Err)
	assert.Equal(t, 0, res.StatusCode)
	_, err = c.Status(context.Background())
	assert.Error(t, err)
}

func TestHangingServerIsInfo(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	c := New(srv.URL, Options{Timeout: 50 * time.Millisecond})
	start := time.Now()
	res := c.Put(context.Background(), "k", "v")
	assert.Equal(t, Info, res.Outcome, "the request was sent: %v", res.Err)
	assert.ErrorIs(t, res.Err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)

	// The caller's own deadline counts the same way.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	assert.Equal(t, Info, New(srv.URL, Options{}).Append(ctx, "k", "e").Outcome)
}

func TestResetAfterSendIsInfo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.(*net.TCPConn).SetLinger(0) // RST instead of FIN
			_ = conn.Close()
		}
	}))
	defer srv.Close()
	res := New(srv.URL, Options{Timeout: time.Second}).CAS(context.Background(), "k", "a", "b")
	assert.Equal(t, Info, res.Outcome, "%v", res.Err)
}

func TestStatusAndClock(t *testing.T) {
	want := Status{ID: "n1", Role: "leader", Generation: 3, Leader: "n1", CommitIndex: 10, AppliedIndex: 9,
		LowWaterMark: 4, LastLogIndex: 11, Digest: "ab", ReadMode: "index", Unsafe: []string{"skip-fsync"},
		ClockOffsetMillis: -1500, ClockRate: 1.5}
	var gotCmd ClockCommand
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { _ = json.NewEncoder(w).Encode(want) })
	mux.HandleFunc("POST /admin/clock", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&gotCmd)
		_ = json.NewEncoder(w).Encode(want)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := New(srv.URL, Options{Timeout: time.Second})
	st, err := c.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, want, st)

	cmd := ClockCommand{Action: ClockStrobe, DeltaMillis: 200, PeriodMillis: 10, DurationMillis: 5000}
	st, err = c.Clock(context.Background(), cmd)
	require.NoError(t, err)
	assert.Equal(t, want, st)
	assert.Equal(t, cmd, gotCmd)

	// The JSON names are part of the contract.
	b, err := json.Marshal(want)
	require.NoError(t, err)
	for _, name := range []string{"id", "role", "generation", "leader", "commit_index", "applied_index",
		"low_water_mark", "last_log_index", "digest", "read_mode", "unsafe", "clock_offset_ms", "clock_rate"} {
		assert.Contains(t, string(b), `"`+name+`":`)
	}
	b, err = json.Marshal(ClockCommand{Action: ClockBump, OffsetMillis: 5})
	require.NoError(t, err)
	assert.JSONEq(t, `{"action":"bump","offset_ms":5}`, string(b))
}

func TestClockWithoutFaultHooks(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := New(srv.URL, Options{}).Clock(context.Background(), ClockCommand{Action: ClockReset})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--enable-fault-hooks")
}

func TestOutcomeString(t *testing.T) {
	assert.Equal(t, "ok", OK.String())
	assert.Equal(t, "fail", Fail.String())
	assert.Equal(t, "info", Info.String())
}

func TestConcurrentCallersReuseConnections(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(KVResponse{Found: true, Value: "v"})
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns[c.RemoteAddr().String()] = true
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()

	const callers, callsEach = 64, 20
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := New(srv.URL, Options{Timeout: 5 * time.Second})
			for j := 0; j < callsEach; j++ {
				assert.Equal(t, OK, c.Put(context.Background(), "k", "v").Outcome)
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	// Without pooling every call would dial (1280 connections); a few
	// extra dials happen when a call starts just before another returns its
	// connection to the pool.
	assert.LessOrEqual(t, len(conns), 2*callers, "connections are pooled, not opened per call")
}
