package nemesis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/sut"
)

// apply makes fault happen and fills in what it measured (clock offsets,
// per-node timings). The caller holds n.mu.
func (n *Nemesis) apply(ctx context.Context, fault *history.Fault) error {
	switch fault.Kind {
	case KindPartition:
		n.networkDirty = true
		if err := n.cluster.SetGrudge(ctx, fault.Grudge); err != nil {
			return fmt.Errorf("set grudge: %w", err)
		}
		return nil
	case KindKill:
		return n.eachTarget(ctx, fault, func(node string) error {
			n.killed[node] = true // even on error: the kill may have landed
			return n.cluster.Kill(ctx, node)
		})
	case KindPause:
		return n.eachTarget(ctx, fault, func(node string) error {
			err := n.cluster.Pause(ctx, node)
			n.paused[node] = err == nil
			return err
		})
	case KindClock:
		return n.applyClock(ctx, fault)
	case KindDiskLoss:
		return n.applyDiskLoss(ctx, fault)
	case KindLoss:
		n.networkDirty = true
		return n.eachLink(fault, func(node string, peers []string) error {
			return n.cluster.SetLoss(ctx, node, peers, fault.LossPercent)
		})
	case KindStaleLeader:
		n.networkDirty = true
		return n.applyStaleLeader(ctx, fault)
	case KindSkewedLeader:
		n.networkDirty = true
		return n.applySkewedLeader(ctx, fault)
	case KindVoterCrash:
		n.networkDirty = true
		return n.applyVoterCrash(ctx, fault)
	case KindFigure8:
		n.networkDirty = true
		return n.applyFigure8(ctx, fault)
	case KindDelay:
		n.networkDirty = true
		delayMillis, _ := strconv.ParseInt(fault.Params["delay_ms"], 10, 64)
		jitterMillis, _ := strconv.ParseInt(fault.Params["jitter_ms"], 10, 64)
		return n.eachLink(fault, func(node string, peers []string) error {
			return n.delayer.SetDelay(ctx, node, peers,
				time.Duration(delayMillis)*time.Millisecond, time.Duration(jitterMillis)*time.Millisecond)
		})
	}
	return fmt.Errorf("unknown fault kind %q", fault.Kind)
}

// heal undoes fault and fills in what it measured (recovery times, clock
// offsets after the reset). The caller holds n.mu.
func (n *Nemesis) heal(ctx context.Context, fault *history.Fault) error {
	switch fault.Kind {
	case KindStaleLeader:
		return n.healStaleLeader(ctx)
	case KindPartition, KindLoss, KindDelay:
		return n.healNetwork(ctx)
	case KindSkewedLeader:
		return n.healSkewedLeader(ctx, fault)
	case KindVoterCrash, KindFigure8:
		return n.healCrashFault(ctx, fault)
	case KindDiskLoss:
		return n.healDiskLoss(ctx, fault)
	case KindKill:
		recovery, err := n.startKilled(ctx)
		var longest time.Duration
		for node, d := range recovery {
			fault.Params["recovery_ms."+node] = millis(d)
			longest = max(longest, d)
		}
		if len(recovery) > 0 {
			fault.Params["recovery_ms"] = millis(longest)
		}
		return err
	case KindPause:
		_, err := n.resumePaused(ctx)
		return err
	case KindClock:
		fault.Action = ClockReset
		fault.ClockRate = 0
		offsets, err := n.resetClocks(ctx, fault.Targets)
		fault.ClockOffsetsMillis = offsets
		return err
	}
	return fmt.Errorf("unknown fault kind %q", fault.Kind)
}

// healNetwork removes every network fault and notes the network clean. The
// caller holds n.mu.
func (n *Nemesis) healNetwork(ctx context.Context) error {
	if err := n.cluster.HealNetwork(ctx); err != nil {
		return fmt.Errorf("heal network: %w", err)
	}
	n.networkDirty = false
	return nil
}

// eachTarget calls do for every target in order, timing each call into
// Params["apply_ms.<node>"], and joins the errors.
func (n *Nemesis) eachTarget(ctx context.Context, fault *history.Fault, do func(node string) error) error {
	var errs []error
	for _, node := range fault.Targets {
		began := time.Now()
		if err := do(node); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", fault.Kind, node, err))
		}
		fault.Params["apply_ms."+node] = millis(time.Since(began))
	}
	return errors.Join(errs...)
}

// eachLink calls do for every node of a loss or delay fault's grudge with
// the peers whose traffic it degrades, in node order.
func (n *Nemesis) eachLink(fault *history.Fault, do func(node string, peers []string) error) error {
	var errs []error
	for _, node := range n.nodes {
		peers := fault.Grudge[node]
		if len(peers) == 0 {
			continue
		}
		if err := do(node, peers); err != nil {
			errs = append(errs, fmt.Errorf("%s on %s from %v: %w", fault.Kind, node, peers, err))
		}
	}
	return errors.Join(errs...)
}

// applyClock sends the planned clock command to each target and records the
// offset each node reports afterwards.
func (n *Nemesis) applyClock(ctx context.Context, fault *history.Fault) error {
	fault.ClockOffsetsMillis = map[string]int64{}
	param := func(key string) int64 {
		v, _ := strconv.ParseInt(fault.Params[key], 10, 64)
		return v
	}
	var errs []error
	for _, node := range fault.Targets {
		n.clockDirty[node] = true
		cmd := sut.ClockCommand{Action: fault.Action}
		switch fault.Action {
		case ClockBump:
			cmd.OffsetMillis = param("delta_ms." + node)
		case ClockStrobe:
			cmd.DeltaMillis = param("delta_ms")
			cmd.PeriodMillis = param("period_ms")
			cmd.DurationMillis = param("duration_ms")
		case ClockRate:
			cmd.Rate = fault.ClockRate
		}
		status, err := n.clocker.Clock(ctx, node, cmd)
		if err != nil {
			errs = append(errs, fmt.Errorf("clock %s on %s: %w", fault.Action, node, err))
			continue
		}
		fault.ClockOffsetsMillis[node] = status.ClockOffsetMillis
	}
	return errors.Join(errs...)
}

// resetClocks resets the clock of each node and returns the offsets the
// nodes report afterwards.
func (n *Nemesis) resetClocks(ctx context.Context, nodes []string) (map[string]int64, error) {
	offsets := map[string]int64{}
	var errs []error
	for _, node := range nodes {
		status, err := n.clocker.Clock(ctx, node, sut.ClockCommand{Action: ClockReset})
		if err != nil {
			errs = append(errs, fmt.Errorf("reset clock on %s: %w", node, err))
			continue
		}
		delete(n.clockDirty, node)
		offsets[node] = status.ClockOffsetMillis
	}
	return offsets, errors.Join(errs...)
}

// resumePaused resumes every node the nemesis paused. A node whose pause
// call failed is resumed too, but its resume error is only logged: it was
// most likely never paused.
func (n *Nemesis) resumePaused(ctx context.Context) (map[string]time.Duration, error) {
	took := map[string]time.Duration{}
	var errs []error
	for _, node := range n.nodes {
		certain, ok := n.paused[node]
		if !ok {
			continue
		}
		began := time.Now()
		err := n.cluster.Resume(ctx, node)
		took[node] = time.Since(began)
		switch {
		case err == nil:
			delete(n.paused, node)
		case !certain:
			n.log.Warn("resume after a failed pause", "node", node, "err", err)
			delete(n.paused, node)
		default:
			errs = append(errs, fmt.Errorf("resume %s: %w", node, err))
		}
	}
	return took, errors.Join(errs...)
}

// startKilled starts every killed node, all at once (with every node killed
// none can serve until a quorum is back), and returns how long each took to
// serve again.
func (n *Nemesis) startKilled(ctx context.Context) (map[string]time.Duration, error) {
	return n.startSome(ctx, func(string) bool { return true })
}

// startSome starts the killed nodes that pick selects, all at once.
func (n *Nemesis) startSome(ctx context.Context, pick func(node string) bool) (map[string]time.Duration, error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		took = map[string]time.Duration{}
		errs []error
	)
	for _, node := range n.nodes {
		if !n.killed[node] || !pick(node) {
			continue
		}
		wg.Go(func() {
			began := time.Now()
			err := n.cluster.Start(ctx, node)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("start %s: %w", node, err))
				return
			}
			took[node] = time.Since(began)
		})
	}
	wg.Wait()
	for node := range took {
		delete(n.killed, node)
	}
	return took, errors.Join(errs...)
}
