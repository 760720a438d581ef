package nemesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/history"
)

// KindDiskLoss stops nodes, takes their disk away (the whole data dir, or
// the end of the newest log file) and starts them again; the heal waits for
// them to catch up. A minority at a time: with a majority's disks gone,
// acknowledged writes are lost by any store.
const KindDiskLoss = "disk-loss"

// Disk-loss actions, recorded in Fault.Action.
const (
	// DiskWipe: the node restarts with an empty data dir.
	DiskWipe = "wipe"
	// DiskTornTail: the newest log file loses its last cut_bytes bytes and
	// ends in a partial record, as on a disk that lost writes it reported
	// durable.
	DiskTornTail = "torn-tail"
)

var diskActions = []string{DiskWipe, DiskTornTail}

// DiskLoser is implemented by a Cluster that can take a node's disk away.
// disk-loss needs it.
type DiskLoser interface {
	// LoseDisk kills node and wipes its data dir (DiskWipe) or cuts
	// cutBytes off its newest log file and leaves a torn record
	// (DiskTornTail). The node is left stopped; Start brings it back.
	LoseDisk(ctx context.Context, node, action string, cutBytes int64) error
}

// catchUpWait bounds the heal's wait for a node that lost its disk to catch
// up. With a healthy majority a catch-up takes a few heartbeats plus the
// log's transfer; one that has not happened in 30 s is a finding, recorded
// in the fault (caught_up.<node> = false) and left for the convergence and
// availability checkers.
const catchUpWait = 30 * time.Second

// catchUpPoll is how often the heal asks the nodes whether they caught up.
const catchUpPoll = 100 * time.Millisecond

func (p *planner) planDiskLoss(step *Step) {
	f := &step.Fault
	f.Action = diskActions[p.rng.IntN(len(diskActions))]
	f.Shape = TargetOne
	count := 1
	if len(p.nodes) >= 5 && p.rng.IntN(2) == 0 {
		f.Shape = TargetMinority
		count = (len(p.nodes) - 1) / 2
	}
	f.Targets = sortedSet(shuffled(p.nodes, p.rng)[:count])
	if f.Action == DiskTornTail {
		// From one byte (a torn last record) to 64 KiB (a few hundred
		// records of a group commit).
		f.Params["cut_bytes"] = strconv.FormatInt(1+p.rng.Int64N(64<<10), 10)
	}
}

// applyDiskLoss takes the targets' disks away and restarts them. Nodes
// still recovering from an earlier disk loss count against the minority:
// targets beyond it are skipped (Params["skipped"]).
func (n *Nemesis) applyDiskLoss(ctx context.Context, fault *history.Fault) error {
	budget := (len(n.nodes) - 1) / 2
	recovering := n.recoveringNodes(ctx)
	budget -= len(recovering)
	var targets, skipped []string
	for _, node := range fault.Targets {
		if budget > 0 && !slices.Contains(recovering, node) {
			targets = append(targets, node)
			budget--
		} else {
			skipped = append(skipped, node)
		}
	}
	if len(skipped) > 0 {
		fault.Params["skipped"] = strings.Join(skipped, ",")
		fault.Params["skipped_because"] = fmt.Sprintf("still recovering: %v; a majority must keep its disks", recovering)
	}
	fault.Targets = targets
	cut, _ := strconv.ParseInt(fault.Params["cut_bytes"], 10, 64)
	var errs []error
	for _, node := range targets {
		began := time.Now()
		n.killed[node] = true // even on error: the kill may have landed
		if err := n.diskLoser.LoseDisk(ctx, node, fault.Action, cut); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", fault.Kind, node, err))
			continue
		}
		if err := n.cluster.Start(ctx, node); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: start: %w", fault.Kind, node, err))
			continue
		}
		delete(n.killed, node)
		n.restartedAt[node] = time.Now()
		fault.Params["apply_ms."+node] = millis(time.Since(began))
	}
	return errors.Join(errs...)
}

// healDiskLoss starts any target that did not come back and waits, up to
// catchUpWait, for each to report it caught up: Params["recovery_ms.<node>"]
// is the time from its restart to then, Params["caught_up.<node>"] is false
// for one that did not.
func (n *Nemesis) healDiskLoss(ctx context.Context, fault *history.Fault) error {
	started, err := n.startKilled(ctx)
	for node := range started {
		n.restartedAt[node] = time.Now()
	}
	waiting := map[string]bool{}
	for _, node := range fault.Targets {
		waiting[node] = true
	}
	deadline := time.Now().Add(catchUpWait)
	var longest time.Duration
	for len(waiting) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		for node := range waiting {
			st, serr := n.cluster.Status(ctx, node)
			if serr != nil || st.Recovering {
				continue
			}
			took := time.Since(n.restartedAt[node])
			fault.Params["recovery_ms."+node] = millis(took)
			longest = max(longest, took)
			delete(waiting, node)
			delete(n.restartedAt, node)
		}
		if len(waiting) > 0 {
			sleep(ctx, catchUpPoll)
		}
	}
	if len(fault.Targets) > len(waiting) {
		fault.Params["recovery_ms"] = millis(longest)
	}
	for node := range waiting {
		fault.Params["caught_up."+node] = "false"
		n.log.Warn("node did not catch up after losing its disk", "node", node, "waited", catchUpWait)
	}
	return err
}

// recoveringNodes returns the nodes that report they are still recovering
// from a lost disk, and those that do not answer (they may be).
func (n *Nemesis) recoveringNodes(ctx context.Context) []string {
	var out []string
	for _, node := range n.nodes {
		st, err := n.cluster.Status(ctx, node)
		if err != nil || st.Recovering {
			out = append(out, node)
		}
	}
	return out
}
