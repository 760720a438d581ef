// Package nemesis injects faults into a running cluster on a schedule drawn
// from the run's seed, records every fault in the history, and heals them all
// on demand.
//
// Faults alternate like Jepsen's flip-flop: a quiet spell, a fault, its heal,
// another quiet spell, and so on. One fault is active at a time. Which fault,
// which shape and which parameters come next is a pure function of the seed
// (see Schedule); only targets that exist at run time, such as the current
// leader, are resolved when the fault starts.
//
// The package depends only on the Cluster interface below, so a second
// backend (a remote Docker host, Kubernetes) needs nothing from here.
package nemesis

import (
	"context"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/sut"
)

// Cluster is what the nemesis needs from the nodes it hurts. The docker
// package implements it.
type Cluster interface {
	// Nodes returns the node names, in a fixed order.
	Nodes() []string
	// Primaries returns the nodes that currently believe they lead (usually
	// one, none during an election).
	Primaries(ctx context.Context) ([]string, error)
	// Status returns one node's own view: role, generation, leader, clock.
	Status(ctx context.Context, node string) (sut.Status, error)
	// Kill sends SIGKILL to node's process; its data directory survives.
	Kill(ctx context.Context, node string) error
	// Start starts a killed node again, re-applies the network faults that
	// should still hold for it, and returns once it serves.
	Start(ctx context.Context, node string) error
	// Pause freezes node; Resume thaws it.
	Pause(ctx context.Context, node string) error
	Resume(ctx context.Context, node string) error
	// SetGrudge makes every node drop traffic from the nodes grudge lists for
	// it, replacing the previous grudge.
	SetGrudge(ctx context.Context, grudge map[string][]string) error
	// SetLoss makes node drop percent of the packets it receives from the
	// nodes in from.
	SetLoss(ctx context.Context, node string, from []string, percent float64) error
	// HealNetwork removes every network fault faultline installed, on every
	// node.
	HealNetwork(ctx context.Context) error
	// NetemAvailable reports whether the kernel offers netem (needed for delay).
	NetemAvailable(ctx context.Context) (bool, error)
}

// Clocker is implemented by a Cluster whose store has a clock hook: the clock
// and skewed-leader faults need it (the host clock is never touched).
type Clocker interface {
	// Clock sends a clock command to node's clock hook and returns the
	// node's status after it.
	Clock(ctx context.Context, node string, cmd sut.ClockCommand) (sut.Status, error)
}

// HookReporter is implemented by a Cluster that knows which fault hooks its
// store under test offers (a backend that runs any store): New refuses the
// faults that need a hook the store lacks, naming the store, before the run.
type HookReporter interface {
	StoreName() string
	HasClockHook() bool
	HasCrashPoints() bool
}

// Delayer is implemented by a Cluster that can delay packets (with netem).
// The delay fault needs it in addition to NetemAvailable reporting true.
type Delayer interface {
	// SetDelay delays the packets node sends to the nodes in to by delay,
	// give or take jitter. HealNetwork removes it.
	SetDelay(ctx context.Context, node string, to []string, delay, jitter time.Duration) error
}

// Silencer is implemented by a Cluster that can stop a node sending to
// chosen peers (outbound drops), which cuts off a paused node from the side
// of its peers. stale-leader needs it. HealNetwork removes it.
type Silencer interface {
	// SetSilence replaces the outbound drops: silence[x] lists the nodes x
	// sends nothing to.
	SetSilence(ctx context.Context, silence map[string][]string) error
}

// Recorder records history ops; *history.Recorder implements it. Record
// stamps op with its index and time and returns the stamped op.
type Recorder interface {
	Record(history.Op) history.Op
}

// CrashPointer is implemented by a Cluster whose nodes have crash points:
// fault hooks that make a node's process exit at one step of the protocol.
// voter-crash and figure-8 need it. A restarted node starts with none armed.
type CrashPointer interface {
	// SetCrashPoint arms or disarms a crash point on node.
	SetCrashPoint(ctx context.Context, node string, cmd sut.CrashPointCommand) error
}
