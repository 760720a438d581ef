package nemesis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/sut"
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

// applyStaleLeader freezes the leader, waits for the others to elect a new
// leader, cuts the old leader off from the new one only, and thaws it. The
// old leader wakes up believing it still leads, with every node but the new
// leader in reach. A correct old leader hears the newer generation in the
// first answer it gets and steps down; if its followers ignore generations,
// it leads a second majority.
//
// Freezing, rather than partitioning, is what keeps the old leader in office
// across the election: a partitioned leader's check-quorum round deposes it
// one to two election timeouts after the cut, about when the others elect,
// and what it sent during the cut leaves its connections in TCP
// retransmission backoff. A frozen leader sends nothing and counts no time
// until it thaws. While it is frozen its peers send it nothing either (a
// frozen container cannot run the agent, so the cut is made on the senders'
// side): otherwise the new leader's first messages would wait in its socket
// buffers and depose it the moment it thaws. If no new leader is elected
// within newLeaderWait the old leader is thawed with its peers still silent.
func (n *Nemesis) applyStaleLeader(ctx context.Context, fault *history.Fault) error {
	old := fault.Targets[0]
	others := without(n.nodes, old)
	before, err := n.cluster.Status(ctx, old)
	if err != nil {
		return fmt.Errorf("status of the leader %s: %w", old, err)
	}
	err = n.cluster.Pause(ctx, old)
	n.paused[old] = err == nil
	if err != nil {
		return fmt.Errorf("pause %s: %w", old, err)
	}
	frozen := time.Now()
	silent := map[string][]string{}
	for _, node := range others {
		silent[node] = []string{old}
	}
	if err := n.silencer.SetSilence(ctx, silent); err != nil {
		return fmt.Errorf("stop the others sending to %s: %w", old, err)
	}
	fault.Grudge = map[string][]string{} // what it drops itself; the silence is on the senders
	began := time.Now()
	elected, err := n.awaitNewLeader(ctx, others, before.Generation, n.newLeaderWait)
	if err != nil {
		fault.Params["new_leader"] = "none"
		fault.Params["new_leader_error"] = err.Error()
	} else {
		fault.Params["new_leader"] = elected
		fault.Params["new_leader_ms"] = millis(time.Since(began))
		// The new leader keeps sending nothing to the old one, whose own
		// rule only takes effect once it is thawed.
		if err := n.silencer.SetSilence(ctx, map[string][]string{elected: {old}}); err != nil {
			return fmt.Errorf("stop %s sending to %s: %w", elected, old, err)
		}
		grudge := Complete([][]string{{old}, {elected}})
		if err := n.cluster.SetGrudge(ctx, grudge); err != nil {
			return fmt.Errorf("cut %s off from %s only: %w", old, elected, err)
		}
		fault.Grudge = grudge
		fault.Targets = []string{old, elected}
	}
	if err := n.cluster.Resume(ctx, old); err != nil {
		return fmt.Errorf("resume %s: %w", old, err)
	}
	delete(n.paused, old)
	fault.Params["frozen_ms"] = millis(time.Since(frozen))
	return nil
}

// healStaleLeader heals the network and thaws the old leader if applying
// the fault failed before it did.
func (n *Nemesis) healStaleLeader(ctx context.Context) error {
	err := n.healNetwork(ctx)
	_, resumeErr := n.resumePaused(ctx)
	return errors.Join(err, resumeErr)
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
		statuses := make([]sut.Status, len(candidates))
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
// later than it should, past the old leader's check-quorum round (one to
// two election timeouts after the cut) and the others' election (after one
// to two). A lease on the monotonic clock is unaffected.
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
	status, err := n.clocker.Clock(ctx, leader, sut.ClockCommand{Action: ClockBump, OffsetMillis: delta})
	if err != nil {
		return fmt.Errorf("jump the clock of %s: %w", leader, err)
	}
	fault.ClockOffsetsMillis = map[string]int64{leader: status.ClockOffsetMillis}
	// Hold the fault from the election on: until then nobody else can
	// take writes, so the window the jump opens has not begun.
	n.awaitElection(ctx, fault, "new_leader", without(n.nodes, leader), before.Generation)
	return nil
}

// awaitElection waits (up to newLeaderWait) for one of candidates to lead a
// generation above the given one, and records in the fault's params under
// key which one it was and after how long (key_ms), or "none" and why
// (key_error). Not finding one is not an error of the fault: the fault is
// in place, the cluster just did not elect in time.
func (n *Nemesis) awaitElection(ctx context.Context, fault *history.Fault, key string, candidates []string, above uint64) {
	began := time.Now()
	elected, err := n.awaitNewLeader(ctx, candidates, above, n.newLeaderWait)
	if err != nil {
		fault.Params[key] = "none"
		fault.Params[key+"_error"] = err.Error()
		return
	}
	fault.Params[key] = elected
	fault.Params[key+"_ms"] = millis(time.Since(began))
}

// healSkewedLeader heals the network and resets the leader's clock.
func (n *Nemesis) healSkewedLeader(ctx context.Context, fault *history.Fault) error {
	err := n.healNetwork(ctx)
	offsets, resetErr := n.resetClocks(ctx, fault.Targets)
	fault.ClockOffsetsMillis = offsets
	return errors.Join(err, resetErr)
}

// applyVoterCrash kills the leader with the after-vote crash point armed on
// every other node, waits for the others to elect a new leader (each node
// that grants the winner its vote exits right after the vote is durable and
// sent, before the winner's first append reaches it), cuts the winner off,
// and restarts every other node: the voters, which never heard from the
// leader they elected, and then the old leader, one generation behind.
//
// A voter that kept its vote refuses the old leader that generation, and the
// old leader has to win the next one, which deposes the winner when the
// partition heals. A voter that forgot its vote grants it the same
// generation: two leaders, whose no-ops and first writes share indexes and
// generation. The old leader's log is usually exactly as long as the
// winner's was at its election (the kill leaves nothing in flight), so the
// winner, once it follows the old leader, keeps its own entries where the
// old leader committed others: the replicas diverge.
func (n *Nemesis) applyVoterCrash(ctx context.Context, fault *history.Fault) error {
	old := fault.Targets[0]
	others := without(n.nodes, old)
	before, err := n.armVoters(ctx, old, others)
	if err != nil {
		return err
	}
	n.killed[old] = true
	if err := n.cluster.Kill(ctx, old); err != nil {
		return fmt.Errorf("kill the leader %s: %w", old, err)
	}
	elected, electedAfter, err := n.awaitWinner(ctx, fault, others, before.Generation)
	if elected == "" || err != nil {
		return err
	}
	if err := n.cutOffWinner(ctx, fault, old, elected, others); err != nil {
		return err
	}
	// The voters first, the old leader one election later (as long as the
	// one just measured). Started together, a voter still in its
	// post-restart lease would refuse the old leader's first pre-vote and
	// tell it the winner's generation, moving it past that generation; by
	// the time the old leader first asks, the voters have left that lease.
	took, err := n.startSome(ctx, func(node string) bool { return node != old })
	if err != nil {
		return err
	}
	if !sleep(ctx, electedAfter) {
		return ctx.Err()
	}
	tookOld, err := n.startSome(ctx, func(node string) bool { return node == old })
	maps.Copy(took, tookOld)
	for node, d := range took {
		fault.Params["restart_ms."+node] = millis(d)
	}
	if err != nil {
		return err
	}
	// The fault is in place once the restarted nodes have held the election
	// it sets up: the old leader asking a voter that forgot its vote in the
	// winner's generation, or anyone winning the next one. Healed sooner,
	// the winner's heartbeats would end it before either: the old leader
	// needs an election timeout after its restart to leave its own lease
	// and up to another to time out, more than a short hold leaves.
	n.awaitElection(ctx, fault, "next_leader", without(n.nodes, elected), before.Generation)
	return nil
}

// armVoters reads the leader's status and arms the after-vote crash point on
// the others, so the voters of the next election exit right after voting.
func (n *Nemesis) armVoters(ctx context.Context, leader string, others []string) (sut.Status, error) {
	before, err := n.cluster.Status(ctx, leader)
	if err != nil {
		return before, fmt.Errorf("status of the leader %s: %w", leader, err)
	}
	for _, node := range others {
		n.armed[node] = true // even on error: the call may have landed
		if err := n.crasher.SetCrashPoint(ctx, node, sut.CrashPointCommand{Point: sut.CrashAfterVote, Armed: true}); err != nil {
			return before, fmt.Errorf("arm the after-vote crash point on %s: %w", node, err)
		}
	}
	return before, nil
}

// awaitWinner waits for the armed others to elect a leader above the given
// generation, records it (and how long the election took) in the fault and
// disarms it. Without an election it returns "" after restarting them all,
// disarmed: some may have voted and exited.
func (n *Nemesis) awaitWinner(ctx context.Context, fault *history.Fault, others []string, above uint64) (string, time.Duration, error) {
	began := time.Now()
	elected, err := n.awaitNewLeader(ctx, others, above, n.newLeaderWait)
	if err != nil {
		fault.Params["new_leader"] = "none"
		fault.Params["new_leader_error"] = err.Error()
		killErr := n.killArmed(ctx, others)
		_, startErr := n.startKilled(ctx)
		return "", 0, errors.Join(killErr, startErr)
	}
	took := time.Since(began)
	fault.Params["new_leader"] = elected
	fault.Params["new_leader_ms"] = millis(took)
	if err := n.crasher.SetCrashPoint(ctx, elected, sut.CrashPointCommand{Point: sut.CrashAfterVote, Armed: false}); err != nil {
		return elected, took, fmt.Errorf("disarm the crash point on %s: %w", elected, err)
	}
	delete(n.armed, elected)
	return elected, took, nil
}

// cutOffWinner takes every node but the winner down and cuts the winner off
// from them: the voters have exited (or are about to, handling nothing
// more), and a node that did not vote restarts with the rest, so all of them
// start from what they made durable, without the winner. The fault records
// the old leader and the winner as its targets.
func (n *Nemesis) cutOffWinner(ctx context.Context, fault *history.Fault, old, elected string, others []string) error {
	fault.Targets = []string{old, elected}
	down := without(others, elected)
	if err := n.killArmed(ctx, down); err != nil {
		return err
	}
	fault.Params["restarted"] = strings.Join(down, ",")
	grudge := Isolate(n.nodes, elected)
	if err := n.cluster.SetGrudge(ctx, grudge); err != nil {
		return fmt.Errorf("cut %s off: %w", elected, err)
	}
	fault.Grudge = grudge
	return nil
}

// killArmed makes sure nodes are down (a node that reached its crash point
// already is) and notes them killed and disarmed: a restarted node starts
// with no crash point armed.
func (n *Nemesis) killArmed(ctx context.Context, nodes []string) error {
	var errs []error
	for _, node := range nodes {
		n.killed[node] = true
		if err := n.cluster.Kill(ctx, node); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", node, err))
			continue
		}
		delete(n.armed, node)
	}
	return errors.Join(errs...)
}

// healCrashFault (voter-crash, figure-8) heals the network, starts whatever
// is still down and disarms the crash points left armed.
func (n *Nemesis) healCrashFault(ctx context.Context, fault *history.Fault) error {
	reapErr := n.reapCrashed(ctx)
	err := errors.Join(reapErr, n.healNetwork(ctx))
	recovery, startErr := n.startKilled(ctx)
	for node, d := range recovery {
		fault.Params["recovery_ms."+node] = millis(d)
	}
	return errors.Join(err, startErr, n.disarmAll(ctx))
}

// reapCrashed marks killed (and makes sure are down) the armed nodes that no
// longer answer: they reached a crash point the nemesis did not see them
// reach, e.g. a voter of an election held while a failed start was under way.
// The heal then starts them like any killed node.
func (n *Nemesis) reapCrashed(ctx context.Context) error {
	var errs []error
	for _, node := range n.nodes {
		if !n.armed[node] || n.killed[node] {
			continue
		}
		if _, err := n.cluster.Status(ctx, node); err == nil {
			continue
		}
		if err := n.killArmed(ctx, []string{node}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// crashPointsUsed are the crash points the targeted faults arm.
var crashPointsUsed = []string{sut.CrashAfterVote, sut.CrashAfterCommit}

// disarmAll disarms every crash point on the nodes the nemesis armed one
// on. A node that is not running has none armed (its next process starts
// clean), so it is skipped.
func (n *Nemesis) disarmAll(ctx context.Context) error {
	var errs []error
	for _, node := range n.nodes {
		if !n.armed[node] {
			continue
		}
		if n.killed[node] {
			delete(n.armed, node)
			continue
		}
		var nodeErrs []error
		for _, point := range crashPointsUsed {
			if err := n.crasher.SetCrashPoint(ctx, node, sut.CrashPointCommand{Point: point, Armed: false}); err != nil {
				nodeErrs = append(nodeErrs, fmt.Errorf("disarm the %s crash point on %s: %w", point, node, err))
			}
		}
		if len(nodeErrs) > 0 {
			errs = append(errs, nodeErrs...)
			continue
		}
		delete(n.armed, node)
	}
	return errors.Join(errs...)
}

// applyFigure8 plays the schedule of the Raft paper's figure 8 on the
// cluster. Generations below are relative to the leader's, g.
//
//  1. The leader L is cut off from every other node, then the after-vote
//     crash point is armed on the others. Its clients' writes go on entering
//     its log (generation g, on L only) and wait there for a commit.
//  2. The others elect a winner W in g+1; its voters exit right after
//     voting, so W's no-op and the writes it takes stay on W alone.
//  3. W is cut off instead and the voters restart next to L, with the
//     after-commit crash point armed on L. L leads again (g+2 or later),
//     sends the voters what they lack and, at its first commit, answers the
//     writes it committed and exits before telling anyone. L needs those
//     writes of step 1: without them its log equals the voters', a voter
//     may lead first, and the fault records crashed_after_commit_ms none.
//  4. The network heals with L down: W and the voters elect.
//
// A correct L commits nothing before its own no-op reaches a majority, so
// the voters then hold a later generation than W and W cannot win. A leader
// that commits an earlier generation's entry by counting replicas does so
// when the first voter acknowledges it (with one-entry appends, before its
// no-op gets there): it told a client, and the voter, whose last entry is
// of generation g, then votes for W, which overwrites it.
//
// L stays down until the fault heals: restarted with its no-op in g+2 it
// could win before W and commit what it had, hiding the overwrite.
func (n *Nemesis) applyFigure8(ctx context.Context, fault *history.Fault) error {
	old := fault.Targets[0]
	others := without(n.nodes, old)
	// Cut first, then arm: the others elect no sooner than an election
	// timeout after the cut, and a voter that exited before its part of
	// the cut was installed would fail it.
	cutOld := Isolate(n.nodes, old)
	if err := n.cluster.SetGrudge(ctx, cutOld); err != nil {
		return fmt.Errorf("cut %s off: %w", old, err)
	}
	fault.Grudge = cutOld
	before, err := n.armVoters(ctx, old, others)
	if err != nil {
		return err
	}
	elected, _, err := n.awaitWinner(ctx, fault, others, before.Generation)
	if elected == "" || err != nil {
		return err
	}
	won, err := n.cluster.Status(ctx, elected)
	if err != nil {
		return fmt.Errorf("status of the new leader %s: %w", elected, err)
	}
	if err := n.cutOffWinner(ctx, fault, old, elected, others); err != nil {
		return err
	}
	// L crashes at the commit of its last entry of generation g, or of its
	// no-op if it has none past the winner's no-op. Those entries are where
	// the two logs differ, and the voter receives them one at a time: a
	// leader that commits them by counting replicas answers their clients
	// one by one, the last just before it exits, and its no-op never
	// leaves it. A correct L commits nothing before its no-op, which lies
	// past all of them.
	cut, err := n.cluster.Status(ctx, old)
	if err != nil {
		return fmt.Errorf("status of the cut-off leader %s: %w", old, err)
	}
	above := max(won.GenerationStartIndex, cut.LastLogIndex)
	fault.Params["crash_commit_index"] = strconv.FormatUint(above, 10)
	n.armed[old] = true
	arm := sut.CrashPointCommand{Point: sut.CrashAfterCommit, Armed: true, AboveIndex: above - min(above, 1)}
	if err := n.crasher.SetCrashPoint(ctx, old, arm); err != nil {
		return fmt.Errorf("arm the after-commit crash point on %s: %w", old, err)
	}
	took, err := n.startSome(ctx, func(node string) bool { return node != old })
	for node, d := range took {
		fault.Params["restart_ms."+node] = millis(d)
	}
	if err != nil {
		return err
	}
	began := time.Now()
	if n.awaitExit(ctx, old, n.newLeaderWait) {
		fault.Params["crashed_after_commit_ms"] = millis(time.Since(began))
		if err := n.killArmed(ctx, []string{old}); err != nil {
			return err
		}
	} else {
		fault.Params["crashed_after_commit_ms"] = "none"
		if err := n.crasher.SetCrashPoint(ctx, old, sut.CrashPointCommand{Point: sut.CrashAfterCommit, Armed: false}); err != nil {
			return fmt.Errorf("disarm the crash point on %s: %w", old, err)
		}
		delete(n.armed, old)
	}

	if err := n.healNetwork(ctx); err != nil {
		return err
	}
	fault.Grudge = map[string][]string{} // healed within the start; the old leader stays down
	began = time.Now()
	last, err := n.awaitNewLeader(ctx, without(n.nodes, old), won.Generation, n.newLeaderWait)
	if err != nil {
		fault.Params["last_leader"] = "none"
		fault.Params["last_leader_error"] = err.Error()
		return nil
	}
	fault.Params["last_leader"] = last
	fault.Params["last_leader_ms"] = millis(time.Since(began))
	return nil
}

// awaitExit waits until node stops answering (refused twice in a row): it
// reached its armed crash point. It reports false if the node still
// answers after wait. A status poll may never see it lead: from its
// election to its first commit takes one round trip.
func (n *Nemesis) awaitExit(ctx context.Context, node string, wait time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	refused := 0
	for {
		if _, err := n.cluster.Status(ctx, node); err != nil && ctx.Err() == nil {
			refused++
		} else {
			refused = 0
		}
		if refused >= 2 {
			return true
		}
		if !sleep(ctx, newLeaderPoll) {
			return false
		}
	}
}
