package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"sync"
	"time"

	"github.com/docker/docker/client"

	"github.com/faultline/faultline/sut"
)

// Defaults of ClusterOptions.
const (
	DefaultNodes         = 5
	DefaultReadyTimeout  = 60 * time.Second
	DefaultStatusTimeout = time.Second
	// teardownTimeout bounds Teardown, which runs on a fresh context so it
	// also works after the run's context was cancelled (Ctrl-C).
	teardownTimeout = 60 * time.Second
	// readyPollInterval is how often a starting node's /status is polled.
	readyPollInterval = 100 * time.Millisecond
)

// ClusterOptions configures a Cluster.
type ClusterOptions struct {
	// RunID labels every container and network (faultline.run=<RunID>) and
	// names them faultline-<RunID>-n1 ...; empty: a random id.
	RunID string
	// Nodes is the number of nodes, n1..nN (default 5).
	Nodes int
	// Image is the node image (from BuildImage). Required.
	Image string
	// Subnet is the network's IPv4 CIDR, e.g. 10.77.3.0/24; empty: a free
	// 10.77.x.0/24 is chosen (skipping subnets of existing Docker networks).
	Subnet string
	// Node says what a node of the store under test is: command line,
	// ports, files, status and fault hooks. Required.
	Node NodeSpec
	// ReadyTimeout bounds the wait for nodes to serve (Setup, Start); default 60s.
	ReadyTimeout time.Duration
	// StatusTimeout bounds one GET /status (Status, Primaries); default 1s.
	StatusTimeout time.Duration
	// Logger receives progress; nil discards.
	Logger *slog.Logger
}

// Cluster is a kvnode cluster in Docker containers. It implements
// harness.DB and nemesis.Cluster. Fault methods are serialized; Endpoint,
// Status and Primaries may be called concurrently with them.
type Cluster struct {
	opts   ClusterOptions
	logger *slog.Logger

	nodes  []*node // n1..nN, fixed at NewCluster
	byName map[string]*node

	// faultMu serializes Setup, Teardown and every fault, so the desired
	// network rules and the container states change one step at a time.
	faultMu     sync.Mutex
	cli         *client.Client
	subnet      netip.Prefix
	networkID   string
	grudge      map[string][]string // desired: node -> nodes it drops traffic from
	silence     map[string][]string // desired: node -> nodes it sends nothing to
	loss        map[string]lossSpec // desired: node -> packet loss it applies
	netemProbed *bool

	mu sync.RWMutex // guards node.endpoint and node.state
}

type lossSpec struct {
	from    []string
	percent float64
}

type nodeState int

const (
	stateRunning nodeState = iota
	statePaused
	stateKilled
)

type node struct {
	name          string
	ip            netip.Addr
	containerName string
	containerID   string
	endpoint      string    // http://127.0.0.1:<mapped port>; changes on restart
	state         nodeState // guarded by Cluster.mu
	// rulesStale is set when the desired network rules changed while the
	// node could not run the agent (paused); Resume applies them.
	rulesStale bool
	// priorLogs is the output of containers LoseDisk replaced.
	priorLogs []byte
}

var runIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)

// NewCluster validates the options and returns a cluster that does nothing
// until Setup.
func NewCluster(opts ClusterOptions) (*Cluster, error) {
	if opts.Image == "" {
		return nil, errors.New("new cluster: no image: build one with BuildImage")
	}
	if err := opts.Node.validate(); err != nil {
		return nil, fmt.Errorf("new cluster: %w", err)
	}
	if opts.Nodes == 0 {
		opts.Nodes = DefaultNodes
	}
	if opts.Nodes < 1 || opts.Nodes > maxNodes {
		return nil, fmt.Errorf("new cluster: %d nodes: must be between 1 and %d", opts.Nodes, maxNodes)
	}
	if opts.RunID == "" {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("new cluster: random run id: %w", err)
		}
		opts.RunID = hex.EncodeToString(b[:])
	}
	if !runIDPattern.MatchString(opts.RunID) {
		return nil, fmt.Errorf("new cluster: run id %q: use letters, digits, '_', '.' and '-' (at most 63)", opts.RunID)
	}
	if opts.Subnet != "" {
		p, err := netip.ParsePrefix(opts.Subnet)
		if err != nil || !p.Addr().Is4() || p.Bits() > 24 {
			return nil, fmt.Errorf("new cluster: subnet %q: want an IPv4 CIDR of /24 or larger", opts.Subnet)
		}
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	if opts.StatusTimeout <= 0 {
		opts.StatusTimeout = DefaultStatusTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{
		opts:    opts,
		logger:  logger.With("run", opts.RunID),
		byName:  make(map[string]*node, opts.Nodes),
		grudge:  map[string][]string{},
		silence: map[string][]string{},
		loss:    map[string]lossSpec{},
	}
	for i := range opts.Nodes {
		n := &node{name: fmt.Sprintf("n%d", i+1)}
		n.containerName = "faultline-" + opts.RunID + "-" + n.name
		c.nodes = append(c.nodes, n)
		c.byName[n.name] = n
	}
	return c, nil
}

// RunID returns the run id the containers are labelled with.
func (c *Cluster) RunID() string { return c.opts.RunID }

// Nodes returns the node names, n1..nN.
func (c *Cluster) Nodes() []string {
	names := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		names[i] = n.name
	}
	return names
}

// IP returns the node's address on the cluster network (valid after Setup).
func (c *Cluster) IP(node string) string {
	n, ok := c.byName[node]
	if !ok {
		return ""
	}
	return n.ip.String()
}

// Endpoint returns the node's client base URL on the host, e.g.
// http://127.0.0.1:32768. The port changes when the node is restarted.
func (c *Cluster) Endpoint(node string) string {
	n, ok := c.byName[node]
	if !ok {
		return ""
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return n.endpoint
}

// Status returns the node's own status with its state digest, bounded by
// StatusTimeout.
func (c *Cluster) Status(ctx context.Context, node string) (sut.Status, error) {
	return c.askStatus(ctx, node, c.opts.Node.Status)
}

// Peek returns the node's last published status without the state digest,
// bounded by StatusTimeout.
func (c *Cluster) Peek(ctx context.Context, node string) (sut.Status, error) {
	peek := c.opts.Node.Peek
	if peek == nil {
		peek = c.opts.Node.Status
	}
	return c.askStatus(ctx, node, peek)
}

func (c *Cluster) askStatus(ctx context.Context, node string, ask func(context.Context, string) (sut.Status, error)) (sut.Status, error) {
	endpoint := c.Endpoint(node)
	if endpoint == "" {
		return sut.Status{}, fmt.Errorf("status of %s: unknown node or cluster not set up", node)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.StatusTimeout)
	defer cancel()
	st, err := ask(ctx, endpoint)
	if err != nil {
		return sut.Status{}, fmt.Errorf("status of %s: %w", node, err)
	}
	return st, nil
}

// Primaries returns the nodes that claim leadership in the highest generation
// any node claims it in (normally one; empty when no node answers as leader).
// Nodes that do not answer are skipped: a partitioned old leader that still
// believes it leads is reported only if no newer generation has a leader.
func (c *Cluster) Primaries(ctx context.Context) ([]string, error) {
	statuses := c.statusAll(ctx)
	var best uint64
	var leaders []string
	answered := 0
	for i, res := range statuses {
		if res.err != nil {
			continue
		}
		answered++
		if !res.status.IsLeader() {
			continue
		}
		switch g := res.status.Generation; {
		case g > best || leaders == nil:
			best, leaders = g, []string{c.nodes[i].name}
		case g == best:
			leaders = append(leaders, c.nodes[i].name)
		}
	}
	if answered == 0 {
		return nil, fmt.Errorf("primaries: no node answered /status: %w", firstErr(statuses))
	}
	return leaders, nil
}

type statusResult struct {
	status sut.Status
	err    error
}

// statusAll queries every node's /status concurrently.
func (c *Cluster) statusAll(ctx context.Context) []statusResult {
	out := make([]statusResult, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() {
			out[i].status, out[i].err = c.Status(ctx, n.name)
		})
	}
	wg.Wait()
	return out
}

func firstErr(results []statusResult) error {
	for _, r := range results {
		if r.err != nil {
			return r.err
		}
	}
	return nil
}

var errNotSetUp = errors.New("cluster is not set up: call Setup first")

// setUpNode looks up a node of a cluster that has been set up.
func (c *Cluster) setUpNode(name string) (*node, error) {
	if c.cli == nil {
		return nil, errNotSetUp
	}
	return c.node(name)
}

func (c *Cluster) node(name string) (*node, error) {
	n, ok := c.byName[name]
	if !ok {
		return nil, fmt.Errorf("unknown node %q (nodes are n1..n%d)", name, len(c.nodes))
	}
	return n, nil
}

func (c *Cluster) state(n *node) nodeState {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return n.state
}

func (c *Cluster) setState(n *node, s nodeState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n.state = s
}
