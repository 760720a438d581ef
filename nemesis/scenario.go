package nemesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/node/client"
)

// Targeted faults: each composes basic faults around the leader and, where
// the window it opens depends on the cluster, follows the cluster's state
// while it is applied.

// newLeaderWait bounds how long stale-leader waits for the rest of the
// cluster to elect a new leader; newLeaderPoll is how often it asks.
const (
	newLeaderWait = 15 * time.Second
	newLeaderPoll = 20 * time.Millisecond
)

// applyStaleLeader cuts the leader off from every other node, waits for the
// others to elect a new leader, and then cuts the old leader off from the
// new one only. A correct old leader hears the newer generation from the
// first node it reaches and steps down; until it does, or if its followers
// ignore generations, it leads a second majority.
//
// The old leader stays leader until its check-quorum round finds no quorum,
// up to two election timeouts after the cut, while the others elect after
// one to two: the window this opens is a fraction of an election timeout, so
// the grudge switch is made as soon as the new leader is seen. If none is
// elected within newLeaderWait the fault stays a plain isolation.
func (n *Nemesis) applyStaleLeader(ctx context.Context, fault *history.Fault) error {
	old := fault.Targets[0]
	if err := n.cluster.SetGrudge(ctx, fault.Grudge); err != nil {
		return fmt.Errorf("isolate %s: %w", old, err)
	}
	began := time.Now()
	elected, err := n.awaitNewLeader(ctx, old, n.newLeaderWait)
	if err != nil {
		fault.Params["new_leader"] = "none"
		fault.Params["new_leader_error"] = err.Error()
		return nil // the isolation holds: a fault, just not the targeted one
	}
	fault.Params["new_leader"] = elected
	fault.Params["new_leader_ms"] = millis(time.Since(began))
	grudge := Complete([][]string{{old}, {elected}})
	if err := n.cluster.SetGrudge(ctx, grudge); err != nil {
		return fmt.Errorf("reconnect %s to all but %s: %w", old, elected, err)
	}
	fault.Grudge = grudge
	fault.Targets = []string{old, elected}
	return nil
}

// awaitNewLeader polls until a node other than old leads, and returns it.
func (n *Nemesis) awaitNewLeader(ctx context.Context, old string, wait time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var lastErr error
	for {
		primaries, err := n.cluster.Primaries(ctx)
		if err != nil {
			lastErr = err
		}
		for _, p := range primaries {
			if p != old && slices.Contains(n.nodes, p) {
				return p, nil
			}
		}
		if !sleep(ctx, newLeaderPoll) {
			if lastErr != nil {
				return "", fmt.Errorf("no new leader within %s: %w", wait, lastErr)
			}
			return "", fmt.Errorf("no new leader within %s", wait)
		}
	}
}

// applySkewedLeader cuts the leader off from every other node, jumps its
// clock back by Params["delta_ms"] and waits for the others to elect a new
// leader. The jump comes after the cut, so no acknowledgement after it can
// restart a lease measured on the wall clock: such a lease now ends delta
// later than it should, and only the old leader's check-quorum round (up to
// two election timeouts after the cut) stops it serving, while the others
// elect after one to two. A lease on the monotonic clock is unaffected.
func (n *Nemesis) applySkewedLeader(ctx context.Context, fault *history.Fault) error {
	leader := fault.Targets[0]
	if err := n.cluster.SetGrudge(ctx, fault.Grudge); err != nil {
		return fmt.Errorf("isolate %s: %w", leader, err)
	}
	delta, err := strconv.ParseInt(fault.Params["delta_ms"], 10, 64)
	if err != nil {
		return fmt.Errorf("skewed-leader: bad delta_ms %q: %w", fault.Params["delta_ms"], err)
	}
	n.clockDirty[leader] = true
	status, err := n.cluster.Clock(ctx, leader, client.ClockCommand{Action: ClockBump, OffsetMillis: delta})
	if err != nil {
		return fmt.Errorf("jump the clock of %s: %w", leader, err)
	}
	fault.ClockOffsetsMillis = map[string]int64{leader: status.ClockOffsetMillis}
	// Hold the fault from the election on: until then nobody else can
	// take writes, so the window the jump opens has not begun.
	began := time.Now()
	elected, err := n.awaitNewLeader(ctx, leader, n.newLeaderWait)
	if err != nil {
		fault.Params["new_leader"] = "none"
		fault.Params["new_leader_error"] = err.Error()
		return nil
	}
	fault.Params["new_leader"] = elected
	fault.Params["new_leader_ms"] = millis(time.Since(began))
	return nil
}

// healSkewedLeader heals the network and resets the leader's clock.
func (n *Nemesis) healSkewedLeader(ctx context.Context, fault *history.Fault) error {
	var errs []error
	if err := n.cluster.HealNetwork(ctx); err != nil {
		errs = append(errs, fmt.Errorf("heal network: %w", err))
	} else {
		n.networkDirty = false
	}
	offsets, err := n.resetClocks(ctx, fault.Targets)
	fault.ClockOffsetsMillis = offsets
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
