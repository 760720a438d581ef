package kvnode_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/node/server"
	"github.com/faultline/faultline/sut/kvnode"
	"github.com/faultline/faultline/workloads"
)

// startNode runs a real single-node kvnode in this process and returns its
// client base URL.
func startNode(t *testing.T) string {
	t.Helper()
	freeAddr := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		return l.Addr().String()
	}
	peer, httpAddr := freeAddr(), freeAddr()
	srv, err := server.New(server.Config{
		ID:                "n1",
		Peers:             map[string]string{"n1": peer},
		PeerHTTP:          map[string]string{"n1": httpAddr},
		DataDir:           t.TempDir(),
		ListenClient:      httpAddr,
		ListenPeer:        peer,
		Tick:              5 * time.Millisecond,
		ElectionTimeout:   50 * time.Millisecond,
		HeartbeatInterval: 10 * time.Millisecond,
		RequestTimeout:    2 * time.Second,
		SegmentBytes:      1 << 20,
		SnapshotEntries:   1000,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	url := "http://" + srv.ClientAddr()
	admin := kvnode.Admin{Timeout: time.Second}
	require.Eventually(t, func() bool {
		st, err := admin.Status(context.Background(), url)
		return err == nil && st.IsLeader()
	}, 10*time.Second, 10*time.Millisecond, "single node never became leader")
	return url
}

// runWorkload drives w against url with clients concurrent processes for
// opsTotal ops, then the final reads, recording everything.
func runWorkload(t *testing.T, w workloads.Workload, url string, clients, opsTotal, opsPerKey int) history.History {
	t.Helper()
	rec := history.NewMemoryRecorder()
	gen := w.NewGenerator(rand.New(rand.NewSource(1)), opsPerKey)
	var mu sync.Mutex
	left := opsTotal
	next := func() (history.Op, bool) {
		mu.Lock()
		defer mu.Unlock()
		if left == 0 {
			return history.Op{}, false
		}
		left--
		return gen.Next(), true
	}
	apply := func(c workloads.Client, process int, inv history.Op) history.Op {
		inv.Process = history.Process(process)
		inv = rec.Record(inv)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return rec.Record(w.Apply(ctx, c, inv))
	}
	var wg sync.WaitGroup
	for p := 0; p < clients; p++ {
		wg.Add(1)
		go func(process int) {
			defer wg.Done()
			c := kvnode.NewClient(url, kvnode.ClientOptions{Timeout: 2 * time.Second})
			for {
				inv, ok := next()
				if !ok {
					return
				}
				if done := apply(c, process, inv); done.Type == history.Info {
					process += clients
					c = kvnode.NewClient(url, kvnode.ClientOptions{Timeout: 2 * time.Second})
				}
			}
		}(p)
	}
	wg.Wait()
	c := kvnode.NewClient(url, kvnode.ClientOptions{Timeout: 2 * time.Second})
	for i, inv := range w.FinalReads(rec.History()) {
		done := apply(c, 1_000_000+i, inv)
		require.Equal(t, history.OK, done.Type, done.Error)
		require.True(t, done.Final)
	}
	h := rec.History()
	require.NoError(t, h.Validate())
	return h
}

func TestRegisterAgainstKVNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kvnode")
	}
	url := startNode(t)
	h := runWorkload(t, workloads.Register{}, url, 4, 400, 25)

	var mismatches, casOK, readsFound int
	for _, op := range h {
		switch {
		case op.F == history.FCAS && op.Type == history.Fail:
			assert.Contains(t, op.Error, checker.CASMismatchError)
			mismatches++
		case op.F == history.FCAS && op.Type == history.OK:
			casOK++
		case op.F == history.FRead && op.Type == history.OK && op.Value != nil:
			readsFound++
		}
	}
	assert.Positive(t, casOK, "some cas succeed")
	assert.Positive(t, readsFound, "reads return written values")
	t.Logf("%d ops: %d cas ok, %d cas mismatches, %d reads found a value", len(h)/2, casOK, mismatches, readsFound)

	rs := checker.Run(context.Background(), checker.Input{History: h, CheckTimeout: time.Minute}, workloads.Register{}.Checkers()...)
	for _, r := range rs.Checkers {
		if r.Checker == "convergence" {
			assert.Equal(t, checker.Unknown, r.Verdict, "no replica states were given")
			continue
		}
		assert.Equal(t, checker.Valid, r.Verdict, "%s: %s", r.Checker, r.Reason)
	}

	// The same history with one read corrupted must fail.
	for i := range h {
		if h[i].F == history.FRead && h[i].Type == history.OK && h[i].Value != nil {
			h[i].Value = history.IntPtr(*h[i].Value + 1_000_000)
			break
		}
	}
	r := checker.Linearizability{Model: checker.ModelRegister}.Check(context.Background(), checker.Input{History: h})
	assert.Equal(t, checker.Invalid, r.Verdict)
}

func TestSetAgainstKVNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kvnode")
	}
	url := startNode(t)
	h := runWorkload(t, workloads.Set{}, url, 4, 300, 30)
	rs := checker.Run(context.Background(), checker.Input{History: h, CheckTimeout: time.Minute}, workloads.Set{}.Checkers()...)
	for _, r := range rs.Checkers {
		if r.Checker == "convergence" {
			continue
		}
		assert.Equal(t, checker.Valid, r.Verdict, "%s: %s", r.Checker, r.Reason)
	}
	var finals int
	for _, op := range h {
		if op.Final && op.Type == history.OK {
			finals++
			assert.NotEmpty(t, op.List)
		}
	}
	assert.Positive(t, finals)
}

func TestApplyRejectsUnknownFunction(t *testing.T) {
	c := kvnode.NewClient("http://127.0.0.1:1", kvnode.ClientOptions{})
	for _, w := range []workloads.Workload{workloads.Register{}, workloads.Set{}} {
		done := w.Apply(context.Background(), c, history.Op{Type: history.Invoke, F: "dequeue", Key: "k"})
		assert.Equal(t, history.Fail, done.Type)
		assert.Contains(t, done.Error, "dequeue")
	}
}

func TestApplyClassifiesUnreachableNode(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	c := kvnode.NewClient("http://"+addr, kvnode.ClientOptions{Timeout: time.Second})
	done := workloads.Register{}.Apply(context.Background(), c, history.Op{Type: history.Invoke, F: history.FWrite, Key: "k", Value: history.IntPtr(1)})
	assert.Equal(t, history.Fail, done.Type, "a refused dial is a definite failure")
	assert.NotEmpty(t, done.Error)
	assert.Equal(t, int64(1), *done.Value)
}
