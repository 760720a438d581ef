// Package harness runs one test end to end: it sets up the store under test,
// drives concurrent client workers and the nemesis, heals, reads back, checks
// the history and writes the run directory. It depends on a store only
// through DB and on a fault injector only through nemesis.Cluster.
package harness

import (
	"context"
	"time"

	"github.com/faultline/faultline/sut"
	"github.com/faultline/faultline/workloads"
)

// ClientFactory makes a store client of the node whose client API is at
// endpoint, for one logical process: clientID is unique to that process (a
// store with an idempotent receiver keys its sessions on it), and every call
// is bounded by timeout. The store's adapter provides it.
type ClientFactory func(endpoint, clientID string, timeout time.Duration) workloads.Client

// DB is what the harness needs from a store under test. The Docker backend
// for kvnode implements it; a second store or backend is one new
// implementation of these methods.
type DB interface {
	// Setup starts the store and returns once every node serves requests.
	Setup(ctx context.Context) error
	// Nodes lists node names (n1..nN).
	Nodes() []string
	// Endpoint is the base URL the harness uses to reach node's client API.
	Endpoint(node string) string
	// Status is the node's own report (role, indexes, state digest).
	Status(ctx context.Context, node string) (sut.Status, error)
	// Peek is the node's last published status without the state digest:
	// cheap enough to poll many times a second.
	Peek(ctx context.Context, node string) (sut.Status, error)
	// Primaries are the nodes that currently claim leadership, if known.
	Primaries(ctx context.Context) ([]string, error)
	// CollectLogs writes dir/<node>.log for every node.
	CollectLogs(ctx context.Context, dir string) error
	// Teardown removes everything Setup created. It is idempotent and must
	// work with a fresh context after the run's context was cancelled.
	Teardown(ctx context.Context) error
}
