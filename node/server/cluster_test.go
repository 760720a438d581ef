package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/wal"
)

// inProcessCluster runs n servers in this process (so the race detector
// sees the loop, the handlers and forwarding together). The real-process
// tests live in node/test.
type inProcessCluster struct {
	servers map[string]*Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var lns []net.Listener
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	for _, ln := range lns {
		require.NoError(t, ln.Close())
	}
	return addrs
}

func startInProcess(t *testing.T, n int, change func(*Config)) *inProcessCluster {
	t.Helper()
	addrs := freeAddrs(t, 2*n)
	peers, peerHTTP := map[string]string{}, map[string]string{}
	for i := range n {
		id := fmt.Sprintf("n%d", i+1)
		peerHTTP[id], peers[id] = addrs[2*i], addrs[2*i+1]
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &inProcessCluster{servers: map[string]*Server{}, cancel: cancel}
	for id := range peers {
		cfg := Config{
			ID: id, Peers: peers, PeerHTTP: peerHTTP, DataDir: t.TempDir(),
			ListenClient: peerHTTP[id], ListenPeer: peers[id],
			Tick: 10 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond, HeartbeatInterval: 30 * time.Millisecond,
			RequestTimeout: 3 * time.Second, SegmentBytes: 1 << 20, SnapshotEntries: 50,
			Logger: slog.New(slog.DiscardHandler),
		}
		if change != nil {
			change(&cfg)
		}
		s, err := New(cfg)
		require.NoError(t, err)
		c.servers[id] = s
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			assert.NoError(t, s.Run(ctx))
		}()
	}
	t.Cleanup(func() {
		cancel()
		c.wg.Wait()
	})
	return c
}

func (c *inProcessCluster) leader(t *testing.T) string {
	t.Helper()
	var leader string
	require.Eventually(t, func() bool {
		for id, s := range c.servers {
			if v := s.view.Load(); v.isLeader {
				leader = id
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	return leader
}

func (c *inProcessCluster) client(id string) *client.Client {
	return client.New("http://"+c.servers[id].ClientAddr(), client.Options{Timeout: 5 * time.Second})
}

// untilNotFailed repeats a request while it fails definitely (not applied:
// a 503 while the cluster elects a leader, as a 300 ms election timeout
// under -race on a loaded machine sometimes makes it), as a client told to
// retry later does; an indeterminate or successful result ends it.
func untilNotFailed(do func() client.Result) client.Result {
	res := do()
	for range 100 {
		if res.Outcome != client.Fail {
			break
		}
		time.Sleep(20 * time.Millisecond)
		res = do()
	}
	return res
}

// TestInProcessCluster drives concurrent writes and reads through the
// leader and the followers, with snapshots every 50 entries, and checks
// that every replica converges to the same digest.
func TestInProcessCluster(t *testing.T) {
	c := startInProcess(t, 3, nil)
	leader := c.leader(t)
	ctx := context.Background()

	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("n%d", w%3+1)
			cl := c.client(id)
			for i := range 40 {
				key := fmt.Sprintf("k%d", i%5)
				res := untilNotFailed(func() client.Result { return cl.Append(ctx, key, fmt.Sprintf("w%d-%d", w, i)) })
				if !assert.Equal(t, client.OK, res.Outcome, "append via %s: %v", id, res.Err) {
					return
				}
				got := untilNotFailed(func() client.Result { return cl.Get(ctx, key) })
				if !assert.Equal(t, client.OK, got.Outcome, "get via %s: %v", id, got.Err) {
					return
				}
				assert.Contains(t, got.List, fmt.Sprintf("w%d-%d", w, i), "read-your-writes via %s", id)
			}
		}()
	}
	wg.Wait()

	var total int
	for i := range 5 {
		res := untilNotFailed(func() client.Result { return c.client(leader).Get(ctx, fmt.Sprintf("k%d", i)) })
		require.Equal(t, client.OK, res.Outcome)
		total += len(res.List)
	}
	assert.Equal(t, 6*40, total, "every append applied exactly once")

	require.Eventually(t, func() bool {
		var digests []string
		for id := range c.servers {
			st, err := c.client(id).Status(ctx)
			if err != nil {
				return false
			}
			digests = append(digests, fmt.Sprintf("%d/%s", st.AppliedIndex, st.Digest))
		}
		return digests[0] == digests[1] && digests[1] == digests[2]
	}, 10*time.Second, 20*time.Millisecond, "replicas converge")

	// Keys are path segments: the client escapes them, forwarding keeps
	// the escaping.
	for id := range c.servers {
		odd := "dir/key with spaces%" + id
		require.Equal(t, client.OK, c.client(id).Put(ctx, odd, "v").Outcome, "put via %s", id)
		res := c.client(id).Get(ctx, odd)
		require.Equal(t, client.OK, res.Outcome, "get via %s: %v", id, res.Err)
		assert.Equal(t, "v", res.Value)
	}

	st, err := c.client(leader).Status(ctx)
	require.NoError(t, err)
	assert.Greater(t, st.LowWaterMark, uint64(0), "snapshots every 50 entries set the low-water mark")
	assert.Equal(t, "leader", st.Role)
	assert.Equal(t, "index", st.ReadMode)
	assert.Equal(t, []string{}, st.Unsafe)

	resp, err := http.Get("http://" + c.servers[leader].ClientAddr() + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), `kvnode_requests_total{op="append",code="200"}`)
	assert.True(t, strings.Contains(string(body), "kvnode_wal_fsyncs_total"))

	resp, err = http.Post("http://"+c.servers[leader].ClientAddr()+"/admin/clock", "application/json", strings.NewReader(`{"action":"reset"}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "no fault hooks without the flag")
}

// TestForgetVotePersistsNoVote: with the forget-vote switch the hard state
// in the WAL carries no vote, so a restarted node could vote again in the
// same generation; without it the vote is durable.
func TestForgetVotePersistsNoVote(t *testing.T) {
	for _, forget := range []bool{false, true} {
		t.Run(fmt.Sprintf("forget-vote=%v", forget), func(t *testing.T) {
			var dataDir string
			c := startInProcess(t, 1, func(cfg *Config) {
				dataDir = cfg.DataDir
				if forget {
					cfg.Unsafe = UnsafeSet{UnsafeForgetVote: true}
				}
			})
			c.leader(t)
			c.cancel()
			c.wg.Wait()

			w, rec, err := wal.Open(dataDir, wal.Options{})
			require.NoError(t, err)
			defer w.Close()
			require.Positive(t, rec.HardState.Term, "the election's generation is durable")
			if forget {
				assert.Empty(t, rec.HardState.Vote)
			} else {
				assert.Equal(t, "n1", rec.HardState.Vote)
			}
		})
	}
}
