package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/test"
)

// benchOptions are the flags of `kvnode bench`.
type benchOptions struct {
	nodes      int
	clients    int
	duration   time.Duration
	keys       int
	valueBytes int
	target     string
	dir        string
	keep       bool
	nodeFlags  string
	profile    bool
	client     string
}

func parseBenchFlags(args []string, stdout io.Writer) (benchOptions, error) {
	var o benchOptions
	fs := flag.NewFlagSet("kvnode bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&o.nodes, "nodes", 3, "cluster size")
	fs.IntVar(&o.clients, "clients", 64, "concurrent clients, each with one request in flight")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each phase (writes, then reads)")
	fs.IntVar(&o.keys, "keys", 10000, "distinct keys written and read")
	fs.IntVar(&o.valueBytes, "value-bytes", 32, "size of each written value")
	fs.StringVar(&o.target, "target", "leader", "where clients send requests: leader, or all (spread over every node; followers forward)")
	fs.StringVar(&o.dir, "dir", "", "directory for the nodes' data and logs (default: a new temporary directory, removed afterwards)")
	fs.BoolVar(&o.keep, "keep", false, "keep the data directory afterwards")
	fs.StringVar(&o.nodeFlags, "node-flags", "", "extra flags for every node, space-separated, e.g. \"--read-mode=lease\"")
	fs.StringVar(&o.client, "client", "raw", "raw (a lean HTTP/1.1 client, so the CPU goes to the store) or go (node/client over net/http, as the harness uses)")
	fs.BoolVar(&o.profile, "cpu-profile", false, "write each node's CPU profile to <dir>/<node>.pprof (implies --keep)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: kvnode bench [flags]\n\nStarts a local cluster of kvnode processes (fsync on) and measures writes, then reads.\n\nflags:")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return o, err
		}
		return o, usageError{fmt.Errorf("bench: %w (run kvnode bench --help)", err)}
	}
	switch {
	case o.nodes < 1:
		return o, usageError{errors.New("bench: --nodes must be at least 1")}
	case o.clients < 1:
		return o, usageError{errors.New("bench: --clients must be at least 1")}
	case o.duration <= 0:
		return o, usageError{errors.New("bench: --duration must be positive, e.g. --duration 10s")}
	case o.keys < 1:
		return o, usageError{errors.New("bench: --keys must be at least 1")}
	case o.client != "raw" && o.client != "go":
		return o, usageError{fmt.Errorf("bench: --client %q: use raw or go", o.client)}
	case o.target != "leader" && o.target != "all":
		return o, usageError{fmt.Errorf("bench: --target %q: use leader or all", o.target)}
	}
	return o, nil
}

func runBench(args []string, stdout, stderr io.Writer) error {
	o, err := parseBenchFlags(args, stdout)
	if err != nil {
		return err
	}
	binary, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the kvnode binary: %w", err)
	}
	if o.profile {
		o.keep = true
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "kvnode-bench-"); err != nil {
			return fmt.Errorf("create bench directory: %w", err)
		}
		if !o.keep {
			defer os.RemoveAll(dir)
		}
	}
	cluster, err := test.Start(test.Options{
		Binary: binary, Nodes: o.nodes, Dir: dir,
		Flags: append([]string{"--log-level=warn"}, strings.Fields(o.nodeFlags)...),
		NodeFlags: func(n *test.Node) []string {
			if !o.profile {
				return nil
			}
			return []string{"--cpu-profile=" + filepath.Join(dir, n.ID+".pprof")}
		},
	})
	if err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	defer cluster.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	leader, err := cluster.WaitLeader(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("wait for a leader: %w", err)
	}
	var targets []string
	if o.target == "leader" {
		targets = []string{cluster.Node(leader).ClientAddr}
	} else {
		for _, n := range cluster.Nodes {
			targets = append(targets, n.ClientAddr)
		}
	}
	fmt.Fprintf(stdout, "kvnode bench: %d nodes on loopback, fsync on, %d clients, %s per phase, %d keys, %d-byte values, target %s (leader %s), %s client, data in %s\n",
		o.nodes, o.clients, o.duration, o.keys, o.valueBytes, o.target, leader, o.client, dir)

	httpClient := &http.Client{Transport: client.Transport()}
	value := strings.Repeat("v", o.valueBytes)
	fmt.Fprintf(stdout, "%-6s %9s %10s %7s %7s %9s %9s %9s %11s\n", "phase", "ok", "ok/s", "fail", "info", "p50", "p99", "max", "fsyncs/s")
	for _, phase := range []string{"write", "read"} {
		before := scrapeFsyncs(httpClient, cluster)
		res := drive(o, targets, httpClient, phase, value)
		after := scrapeFsyncs(httpClient, cluster)
		fsyncsPerSecond := float64(after-before) / res.elapsed.Seconds()
		fmt.Fprintf(stdout, "%-6s %9d %10.0f %7d %7d %9s %9s %9s %11.0f\n", phase, res.ok,
			float64(res.ok)/res.elapsed.Seconds(), res.fail, res.info,
			res.quantile(0.50), res.quantile(0.99), res.quantile(1), fsyncsPerSecond)
		if res.firstErr != nil {
			fmt.Fprintf(stdout, "       first error: %v\n", res.firstErr)
		}
	}
	for _, n := range cluster.Nodes {
		m := scrapeMetrics(httpClient, n.URL())
		syncs := m["kvnode_wal_sync_duration_seconds_count"]
		if syncs == 0 {
			continue
		}
		fmt.Fprintf(stdout, "%s: %.0f group commits, mean %.2fms each, %.1f entries per commit, %.0f ready batches\n", n.ID,
			syncs, 1000*m["kvnode_wal_sync_duration_seconds_sum"]/syncs, m["kvnode_wal_synced_entries_total"]/syncs, m["kvnode_ready_total"])
	}
	cluster.StopAll()
	fmt.Fprintln(stdout, "fsyncs/s is summed over all nodes; latency is per request as seen by the client (ok requests only).")
	return nil
}

// phaseResult aggregates one phase over all clients.
type phaseResult struct {
	ok, fail, info int
	latencies      []time.Duration // of ok requests
	elapsed        time.Duration
	firstErr       error
}

func (r *phaseResult) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(q * float64(len(r.latencies)-1))
	return r.latencies[i].Round(10 * time.Microsecond)
}

// drive runs o.clients workers for o.duration, each with one request in
// flight, writing or reading keys round-robin.
func drive(o benchOptions, targets []string, httpClient *http.Client, phase, value string) phaseResult {
	var (
		mu  sync.Mutex
		out phaseResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(o.duration)
	for w := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do := newWorker(o, targets[w%len(targets)], httpClient, fmt.Sprintf("bench-%s-%d-%d", phase, w, start.UnixNano()))
			var local phaseResult
			local.latencies = make([]time.Duration, 0, 4096)
			for i := 0; time.Now().Before(deadline); i++ {
				key := "k" + strconv.Itoa((w+i*o.clients)%o.keys)
				t0 := time.Now()
				outcome, err := do(phase, key, value)
				latency := time.Since(t0)
				switch outcome {
				case client.OK:
					local.ok++
					local.latencies = append(local.latencies, latency)
				case client.Fail:
					local.fail++
				default:
					local.info++
				}
				if err != nil && local.firstErr == nil {
					local.firstErr = err
				}
			}
			mu.Lock()
			defer mu.Unlock()
			out.ok += local.ok
			out.fail += local.fail
			out.info += local.info
			out.latencies = append(out.latencies, local.latencies...)
			if out.firstErr == nil {
				out.firstErr = local.firstErr
			}
		}()
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	slices.Sort(out.latencies)
	return out
}

// newWorker returns one client's request function.
func newWorker(o benchOptions, addr string, httpClient *http.Client, clientID string) func(phase, key, value string) (client.Outcome, error) {
	if o.client == "go" {
		c := client.New("http://"+addr, client.Options{ClientID: clientID, Timeout: 5 * time.Second, HTTPClient: httpClient})
		return func(phase, key, value string) (client.Outcome, error) {
			var res client.Result
			if phase == "write" {
				res = c.Put(context.Background(), key, value)
			} else {
				res = c.Get(context.Background(), key)
			}
			return res.Outcome, res.Err
		}
	}
	c := newRawClient(addr, clientID, 5*time.Second)
	return func(phase, key, value string) (client.Outcome, error) {
		var status int
		var err error
		if phase == "write" {
			status, err = c.put(key, value)
		} else {
			status, err = c.get(key)
		}
		switch {
		case err != nil:
			return client.Info, err
		case status/100 == 2, status == http.StatusNotFound:
			return client.OK, nil
		case status == http.StatusServiceUnavailable, status == http.StatusPreconditionFailed,
			status == http.StatusConflict, status == http.StatusBadRequest:
			return client.Fail, fmt.Errorf("%s %s: status %d", phase, key, status)
		}
		return client.Info, fmt.Errorf("%s %s: status %d", phase, key, status)
	}
}

// scrapeFsyncs sums kvnode_wal_fsyncs_total over every node's /metrics.
func scrapeFsyncs(httpClient *http.Client, cluster *test.Cluster) uint64 {
	var total uint64
	for _, n := range cluster.Nodes {
		total += uint64(scrapeMetrics(httpClient, n.URL())["kvnode_wal_fsyncs_total"])
	}
	return total
}

// scrapeMetrics returns the unlabelled series of a node's /metrics.
func scrapeMetrics(httpClient *http.Client, baseURL string) map[string]float64 {
	out := map[string]float64{}
	resp, err := httpClient.Get(baseURL + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = f
		}
	}
	return out
}
