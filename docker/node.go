package docker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/faultline/faultline/sut"
)

// NodeSpec is what one node of the store under test is in a container. The
// store's adapter provides it (sut/kvnode, sut/etcd); the backend knows
// nothing else of the store: it runs the image with this command, maps the
// client port to the host, copies the files in, and asks the node through
// these functions.
type NodeSpec struct {
	// Store names the store in messages ("kvnode", "etcd").
	Store string
	// Command returns the node's command line, given every member of the
	// cluster in order with its address on the cluster network.
	Command func(node string, members []Member) []string
	// ClientPort is the container port of the node's client API: its host
	// mapping (http://127.0.0.1:<port>) is the node's endpoint. PeerPort is
	// its replication port (CanConnect tests use it).
	ClientPort, PeerPort int
	// DataDir is the node's data dir in the container; LogFileSuffix names
	// its log files there (disk-loss's torn-tail cuts the newest of them).
	DataDir, LogFileSuffix string
	// Files are copied into every container before it starts (a cluster
	// secret, say): nothing the store needs is ever on the command line
	// unless the adapter puts it there.
	Files []File
	// Status returns the node's status with its state digest; Peek a cheap
	// one for frequent polling (nil: Status is used).
	Status func(ctx context.Context, endpoint string) (sut.Status, error)
	Peek   func(ctx context.Context, endpoint string) (sut.Status, error)
	// Clock drives the node's clock hook; nil when the store has none.
	Clock func(ctx context.Context, endpoint string, cmd sut.ClockCommand) (sut.Status, error)
	// CrashPoint arms or disarms a crash point; nil when the store has none.
	CrashPoint func(ctx context.Context, endpoint string, cmd sut.CrashPointCommand) error
}

// Member is one node of the cluster as a command line names it.
type Member struct {
	Name string
	IP   netip.Addr
}

// File is copied into a node's container before it starts.
type File struct {
	Path    string
	Content []byte
	Mode    int64
}

// ErrNoHook is returned (wrapped) by Clock and SetCrashPoint when the store
// under test has no such fault hook.
var ErrNoHook = errors.New("the store under test has no such fault hook")

func (s NodeSpec) validate() error {
	switch {
	case s.Store == "":
		return errors.New("node spec: no store name")
	case s.Command == nil:
		return fmt.Errorf("node spec of %s: no command", s.Store)
	case s.ClientPort <= 0 || s.ClientPort > 65535:
		return fmt.Errorf("node spec of %s: client port %d", s.Store, s.ClientPort)
	case s.Status == nil:
		return fmt.Errorf("node spec of %s: no status function", s.Store)
	case s.DataDir == "":
		return fmt.Errorf("node spec of %s: no data dir", s.Store)
	}
	return nil
}

// StoreName names the store under test.
func (c *Cluster) StoreName() string { return c.opts.Node.Store }

// HasClockHook reports whether the store's nodes have a clock hook (the clock
// faults need one: the host clock is never touched).
func (c *Cluster) HasClockHook() bool { return c.opts.Node.Clock != nil }

// HasCrashPoints reports whether the store's nodes have crash points.
func (c *Cluster) HasCrashPoints() bool { return c.opts.Node.CrashPoint != nil }
