// Package test starts real kvnode processes on loopback: the real-process
// tests in this directory and `kvnode bench` use it. Each node is a separate
// OS process with its own data directory, so a kill is a real SIGKILL and a
// restart really recovers from the WAL.
package test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faultline/faultline/node/client"
)

// Options configure a local cluster.
type Options struct {
	// Binary is the kvnode executable.
	Binary string
	// Nodes is the cluster size (n1..nN).
	Nodes int
	// Dir holds each node's data directory and log file.
	Dir string
	// Flags are passed to every node after the generated ones, e.g.
	// "--snapshot-entries=50".
	Flags []string
	// NodeFlags, when set, returns extra flags for one node (after Flags).
	NodeFlags func(n *Node) []string
}

// Node is one kvnode process.
type Node struct {
	ID         string
	ClientAddr string // 127.0.0.1:port
	PeerAddr   string
	DataDir    string
	LogPath    string

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	exitCode int           // valid once done is closed; -1 when killed by a signal
	args     []string
}

// ExitCode returns the exit code of the last process of this node once it
// has exited (-1 when a signal killed it), or false while it runs.
func (n *Node) ExitCode() (int, bool) {
	if n.Running() {
		return 0, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exitCode, n.done != nil
}

// URL returns the node's base URL.
func (n *Node) URL() string { return "http://" + n.ClientAddr }

// Running reports whether the process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Cluster is a set of kvnode processes on loopback.
type Cluster struct {
	opts  Options
	Nodes []*Node
	// SecretFile holds the cluster secret every node is started with: a
	// fresh one per cluster, in Dir, readable only by its owner.
	SecretFile string
	http       *http.Client
}

// Start launches the cluster and returns once every process is running (not
// necessarily once a leader exists; see WaitLeader).
func Start(opts Options) (*Cluster, error) {
	if opts.Nodes <= 0 {
		return nil, errors.New("cluster needs at least one node")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	ports, err := freePorts(2 * opts.Nodes)
	if err != nil {
		return nil, err
	}
	secretFile, err := writeSecret(opts.Dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, SecretFile: secretFile, http: &http.Client{Timeout: 2 * time.Second, Transport: client.Transport()}}
	var peers, peerHTTP []string
	for i := range opts.Nodes {
		id := fmt.Sprintf("n%d", i+1)
		n := &Node{
			ID:         id,
			ClientAddr: fmt.Sprintf("127.0.0.1:%d", ports[2*i]),
			PeerAddr:   fmt.Sprintf("127.0.0.1:%d", ports[2*i+1]),
			DataDir:    filepath.Join(opts.Dir, id),
			LogPath:    filepath.Join(opts.Dir, id+".log"),
		}
		c.Nodes = append(c.Nodes, n)
		peers = append(peers, id+"="+n.PeerAddr)
		peerHTTP = append(peerHTTP, id+"="+n.ClientAddr)
	}
	for _, n := range c.Nodes {
		n.args = append([]string{
			"--id", n.ID,
			"--peers", strings.Join(peers, ","),
			"--peer-http", strings.Join(peerHTTP, ","),
			"--data-dir", n.DataDir,
			"--listen-client", n.ClientAddr,
			"--listen-peer", n.PeerAddr,
			"--cluster-secret-file", secretFile,
		}, opts.Flags...)
		if opts.NodeFlags != nil {
			n.args = append(n.args, opts.NodeFlags(n)...)
		}
		if err := c.startNode(n); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// writeSecret writes a fresh random cluster secret (32 bytes, hex) to
// dir/cluster-secret, mode 0600, and returns the file's path.
func writeSecret(dir string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random cluster secret: %w", err)
	}
	path := filepath.Join(dir, "cluster-secret")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(b[:])+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write cluster secret: %w", err)
	}
	return path, nil
}

// freePorts asks the kernel for n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (c *Cluster) startNode(n *Node) error {
	logFile, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log of %s: %w", n.ID, err)
	}
	cmd := exec.Command(c.opts.Binary, n.args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Its own process group, so a test's Ctrl-C does not reach it first and
	// Close can account for every process it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("start %s: %w", n.ID, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		n.mu.Lock()
		n.exitCode = cmd.ProcessState.ExitCode()
		n.mu.Unlock()
		close(done)
	}()
	n.mu.Lock()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()
	return nil
}

// Node returns the node with id.
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// Kill sends SIGKILL to a node and waits until it is gone. Its data
// directory survives.
func (c *Cluster) Kill(id string) error { return c.signal(id, syscall.SIGKILL) }

// Stop sends SIGTERM (graceful shutdown) and waits until the node exits.
func (c *Cluster) Stop(id string) error { return c.signal(id, syscall.SIGTERM) }

func (c *Cluster) signal(id string, sig syscall.Signal) error {
	n := c.Node(id)
	if n == nil {
		return fmt.Errorf("no node %s", id)
	}
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not exit within 10s of %v; killed", id, sig)
	}
}

// Pause freezes a node with SIGSTOP; Resume continues it with SIGCONT.
func (c *Cluster) Pause(id string) error { return c.send(id, syscall.SIGSTOP) }

// Resume continues a paused node.
func (c *Cluster) Resume(id string) error { return c.send(id, syscall.SIGCONT) }

func (c *Cluster) send(id string, sig syscall.Signal) error {
	n := c.Node(id)
	if n == nil {
		return fmt.Errorf("no node %s", id)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("%s was never started", id)
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s with %v: %w", id, sig, err)
	}
	return nil
}

// Restart starts a stopped or killed node again with the same flags.
func (c *Cluster) Restart(id string) error {
	n := c.Node(id)
	if n == nil {
		return fmt.Errorf("no node %s", id)
	}
	if n.Running() {
		return fmt.Errorf("%s is still running", id)
	}
	return c.startNode(n)
}

// StopAll stops every running node gracefully (SIGTERM), so that they
// flush what they write at exit (profiles, final log lines).
func (c *Cluster) StopAll() {
	for _, n := range c.Nodes {
		if n.Running() {
			_ = c.Stop(n.ID)
		}
	}
}

// Close kills every node that is still running (paused ones included).
func (c *Cluster) Close() {
	for _, n := range c.Nodes {
		if n.Running() {
			_ = c.Resume(n.ID)
			_ = c.Kill(n.ID)
		}
	}
}

// Status returns one node's GET /status.
func (c *Cluster) Status(ctx context.Context, id string) (client.Status, error) {
	n := c.Node(id)
	if n == nil {
		return client.Status{}, fmt.Errorf("no node %s", id)
	}
	return client.New(n.URL(), client.Options{HTTPClient: c.http}).Status(ctx)
}

// Leader returns the node that calls itself leader in the highest
// generation among running nodes, or "" if none does.
func (c *Cluster) Leader(ctx context.Context) (string, uint64) {
	var leader string
	var gen uint64
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		st, err := c.Status(ctx, n.ID)
		if err != nil {
			continue
		}
		if st.Role == "leader" && st.Generation >= gen {
			leader, gen = st.ID, st.Generation
		}
	}
	return leader, gen
}

// WaitLeader polls until a running node is leader and every running node
// agrees on it, or ctx ends.
func (c *Cluster) WaitLeader(ctx context.Context) (string, error) {
	for {
		if id := c.agreedLeader(ctx); id != "" {
			return id, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no agreed leader: %w (see node logs in %s)", ctx.Err(), c.opts.Dir)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) agreedLeader(ctx context.Context) string {
	leader := ""
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		st, err := c.Status(ctx, n.ID)
		if err != nil || st.Leader == "" {
			return ""
		}
		if leader == "" {
			leader = st.Leader
		} else if leader != st.Leader {
			return ""
		}
	}
	if leader != "" {
		if n := c.Node(leader); n == nil || !n.Running() {
			return ""
		}
	}
	return leader
}

// Client returns a client for node id.
func (c *Cluster) Client(id string, opts client.Options) *client.Client {
	return client.New(c.Node(id).URL(), opts)
}

// Logs returns the concatenated logs of every node (for test failure output).
func (c *Cluster) Logs() string {
	var b strings.Builder
	for _, n := range c.Nodes {
		data, err := os.ReadFile(n.LogPath)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "===== %s =====\n%s\n", n.ID, tail(string(data), 8000))
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}
