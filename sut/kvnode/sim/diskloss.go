package sim

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/node/disk"
)

// The disk-loss fault speaks the container nemesis's vocabulary
// (nemesis.KindDiskLoss): the same kind, actions, shapes and parameters,
// so a report shows a simulated disk loss as it shows one from a container
// run, and the availability checker reads the same caught_up.<node>.
//
// A target's process is killed, its disk is taken away (wiped, or the end
// of its newest WAL segment cut off and a partial record left there) and it
// is started again after a drawn delay. The node restarts recovering
// (node/README.md, "A node that lost its disk"): it grants no vote and
// starts no election until a leader has caught it up. The heal waits for
// that, as the container heal does.

// catchUpWait bounds the heal's wait for a node that lost its disk to catch
// up, as the container nemesis's wait does. The final reads begin once
// every such wait is over (Run), so a node gets the whole of it; one that
// never catches up is recorded (caught_up.<node> = false) and judged by the
// availability and convergence checkers.
const catchUpWait = 30 * time.Second

// catchUpPoll is how often the heal looks whether the targets caught up.
const catchUpPoll = 100 * time.Millisecond

// maxCutBytes bounds a torn-tail cut, as the container nemesis draws it:
// from one byte (a torn last record) to 64 KiB (a few hundred records of a
// group commit).
const maxCutBytes = 64 << 10

// partialRecord ends a torn tail, as the container nemesis ends one: bytes
// no valid WAL record starts with (a record length of 0xffffffff), so the
// node sees a torn write wherever the cut landed and cannot mistake the
// shorter log for a whole one.
var partialRecord = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// diskLossShapes are the target shapes of a disk loss: one node, the
// leader (its loss is the one that makes the cluster elect a log without
// the lost copy), the former leader, or a minority.
var diskLossShapes = []string{nemesis.TargetOne, nemesis.TargetLeader, TargetFormerLeader, nemesis.TargetMinority}

// startDiskLoss draws and applies a disk-loss fault into f; it returns the
// heal, which restarts any target still down and calls done once every
// target caught up, or when the wait is over.
func (w *world) startDiskLoss(f *history.Fault) (heal func(done func())) {
	f.Action = []string{nemesis.DiskWipe, nemesis.DiskTornTail}[w.rng.IntN(2)]
	var cutBytes int64
	if f.Action == nemesis.DiskTornTail {
		cutBytes = 1 + w.rng.Int64N(maxCutBytes)
		f.Params["cut_bytes"] = strconv.FormatInt(cutBytes, 10)
	}
	targets := w.diskLossBudget(f, w.targets(f, diskLossShapes...))
	for _, n := range targets {
		// Down for as long as a crashed node stays down: a restart within
		// milliseconds, before the peers noticed, is the hard case.
		down := w.logDuration(minRestartDelay, maxRestartDelay)
		f.Params["apply_ms."+n.id] = strconv.FormatInt(down.Milliseconds(), 10)
		w.kill(n, false)
		n.diskLost = true
		if err := w.loseDisk(n, f.Action, cutBytes); err != nil {
			w.fail(err)
			return func(done func()) { done() }
		}
		inc := n.incarnation
		w.after(down, func() {
			if n.incarnation == inc {
				w.restart(n)
			}
		})
	}
	return func(done func()) {
		// The start's record shares the map: the stop's parameters go in
		// a copy.
		f.Params = maps.Clone(f.Params)
		for _, n := range targets {
			w.restart(n)
		}
		deadline := w.now + catchUpWait
		w.awaitCatchUp(f, targets, deadline, done)
	}
}

// diskLossBudget keeps the drawn targets a disk loss may take (see
// keepMajorityDisks) and records the skipped ones in f, as the container
// nemesis does.
func (w *world) diskLossBudget(f *history.Fault, drawn []*node) []*node {
	var recovering, drawnIDs []string
	for _, n := range w.nodes {
		if n.mayBeRecovering() {
			recovering = append(recovering, n.id)
		}
	}
	for _, n := range drawn {
		drawnIDs = append(drawnIDs, n.id)
	}
	kept, skipped := keepMajorityDisks(len(w.nodes), recovering, drawnIDs)
	if len(skipped) > 0 {
		f.Params["skipped"] = strings.Join(skipped, ",")
		f.Params["skipped_because"] = fmt.Sprintf("still recovering: %v; a majority must keep its disks", recovering)
	}
	f.Targets = slices.Sorted(slices.Values(kept))
	var targets []*node
	for _, id := range kept {
		targets = append(targets, w.node(id))
	}
	return targets
}

// keepMajorityDisks splits the drawn targets of a disk loss into those it
// may take and those it skips: with a majority's disks gone, acknowledged
// writes are lost by any store, so at most a minority of the nodes may have
// lost its disk and not caught up at any time. Nodes still recovering from
// an earlier loss (or down, which may be) count against the minority and
// are not taken again.
func keepMajorityDisks(nodes int, recovering, drawn []string) (kept, skipped []string) {
	budget := (nodes-1)/2 - len(recovering)
	for _, id := range drawn {
		if budget > 0 && !slices.Contains(recovering, id) {
			kept = append(kept, id)
			budget--
		} else {
			skipped = append(skipped, id)
		}
	}
	return kept, skipped
}

// loseDisk takes the stopped node's disk away: a new, empty one (wipe), or
// its newest WAL segment cut short and ending in a partial record
// (torn-tail). A node whose WAL holds no segment of two bytes or more has
// nothing to tear and keeps its disk, as the container nemesis refuses it.
func (w *world) loseDisk(n *node, action string, cutBytes int64) error {
	if action == nemesis.DiskWipe {
		n.fs = disk.NewSim()
		return nil
	}
	path, size, err := newestSegment(n.fs, w.nodeConfig(n.id).DataDir)
	if err != nil {
		return fmt.Errorf("tear the log tail of %s: %w", n.id, err)
	}
	if size < 2 {
		w.logf("disk-loss: %s has no WAL segment to tear", n.id)
		return nil
	}
	cut := min(max(cutBytes, 1), size-1)
	if err := n.fs.TearTail(path, cut, partialRecord); err != nil {
		return fmt.Errorf("tear the log tail of %s: %w", n.id, err)
	}
	return nil
}

// walSegmentSuffix names kvnode's WAL segments (as the container SUT's
// LogFileSuffix does).
const walSegmentSuffix = ".wal"

// awaitCatchUp waits, polling, until every target runs and no longer
// recovers, or until deadline; it records each target's recovery_ms, or
// caught_up = false, as the container heal does, then calls done.
func (w *world) awaitCatchUp(f *history.Fault, targets []*node, deadline time.Duration, done func()) {
	w.catchUps++
	waiting := slices.Clone(targets)
	var longest time.Duration
	var poll func()
	poll = func() {
		waiting = slices.DeleteFunc(waiting, func(n *node) bool {
			if !n.up() || n.paused || n.srv.Status().Recovering {
				return false
			}
			n.diskLost = false
			took := w.now - n.startedAt
			f.Params["recovery_ms."+n.id] = strconv.FormatInt(took.Milliseconds(), 10)
			longest = max(longest, took)
			return true
		})
		if len(waiting) > 0 && w.now < deadline {
			w.after(catchUpPoll, poll)
			return
		}
		if len(targets) > len(waiting) {
			f.Params["recovery_ms"] = strconv.FormatInt(longest.Milliseconds(), 10)
		}
		for _, n := range waiting {
			f.Params["caught_up."+n.id] = "false"
			w.logf("disk-loss: %s did not catch up by %v", n.id, deadline)
		}
		w.catchUps--
		done()
	}
	poll()
}

// mayTearWrites reports whether a power cut of n may keep a torn write.
// kvnode cannot tell a torn write from a disk that lost writes it had
// reported durable, so after either it restarts recovering (node/README.md,
// "A node that lost its disk"), and a cluster in which too few nodes are
// left to make a majority of votes waits for ever, as the README says it
// must once a majority's disks are gone. The simulation promises that a
// majority keeps its disks, torn writes included: while the nodes that may
// lack what they acknowledged (a lost disk not yet caught up, or recovering
// for any reason, or down while recovering, which it still is when it comes
// back) leave no room in the minority, a power cut loses the unsynced bytes
// whole instead of keeping a torn part of them.
func (w *world) mayTearWrites(n *node) bool {
	amnesiac := 0
	for _, m := range w.nodes {
		if m != n && (m.diskLost || m.recovering()) {
			amnesiac++
		}
	}
	return amnesiac < (len(w.nodes)-1)/2
}

// recovering reports whether the node recovers: it runs recovering, or it
// went down recovering and restarts so.
func (n *node) recovering() bool {
	if n.up() {
		return n.srv.Status().Recovering
	}
	return n.downRecovering
}

// mayBeRecovering reports whether the node may still lack what it lost with
// a disk: it is down, or it runs and has not caught up from a leader.
func (n *node) mayBeRecovering() bool {
	return !n.up() || n.srv.Status().Recovering
}
