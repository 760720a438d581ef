package nemesis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
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
// one to two election timeouts after the cut, while the others elect after
// one to two: the window this opens is a fraction of an election timeout,
// so the grudge switch is made as soon as the new leader is seen. Packets
// the old leader sent during the cut leave its connections in TCP
// retransmission backoff, which can delay its first message after the
// switch past the end of the window: not every attempt lands in it. If no new leader is elected within newLeaderWait the fault stays
// a plain isolation.
func (n *Nemesis) applyStaleLeader(ctx context.Context, fault *history.Fault) error {
	old := fault.Targets[0]
	before, err := n.cluster.Status(ctx, old)
	if err != nil {
		return fmt.Errorf("status of the leader %s: %w", old, err)
	}
	if err := n.cluster.SetGrudge(ctx, fault.Grudge); err != nil {
		return fmt.Errorf("isolate %s: %w", old, err)
	}
	began := time.Now()
	elected, err := n.awaitNewLeader(ctx, without(n.nodes, old), before.Generation, n.newLeaderWait)
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

// awaitNewLeader polls the candidates' own status until one leads in a
// generation above the given one, and returns it. Only the candidates are
// asked: the old leader's own view does not matter, and a node that does
// not answer only slows its own probe.
func (n *Nemesis) awaitNewLeader(ctx context.Context, candidates []string, above uint64, wait time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var lastErr error
	for {
		statuses := make([]client.Status, len(candidates))
		errs := make([]error, len(candidates))
		var wg sync.WaitGroup
		for i, node := range candidates {
			wg.Go(func() { statuses[i], errs[i] = n.cluster.Status(ctx, node) })
		}
		wg.Wait()
		for i, st := range statuses {
			if errs[i] != nil {
				lastErr = errs[i]
				continue
			}
			if strings.EqualFold(st.Role, "leader") && st.Generation > above {
				return candidates[i], nil
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
	before, err := n.cluster.Status(ctx, leader)
	if err != nil {
		return fmt.Errorf("status of the leader %s: %w", leader, err)
	}
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
	elected, err := n.awaitNewLeader(ctx, without(n.nodes, leader), before.Generation, n.newLeaderWait)
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
