package sim

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/server"
)

// Fault kinds the simulated nemesis draws from (history.Fault.Kind).
const (
	FaultPartition = "partition"
	FaultKill      = "kill"
	FaultPause     = "pause"
	FaultClock     = "clock"
	FaultLoss      = "loss"
	// FaultStepCrash stops a node's machine within its next few disk
	// operations (disk.Sim.FreezeAfter) and cuts its power there: between a
	// write and its fsync, right after a vote is durable and sent, right
	// after an append is acknowledged. A kill from outside lands between
	// steps at random; this one lands inside them. The node restarts soon.
	FaultStepCrash = "step-crash"
	// FaultDelay slows every peer message from or to its targets by one of
	// the container nemesis's delays (20 to 500 ms, netem's jitter of a
	// fifth): messages sent before an election arrive after it, answers
	// after their leader was replaced. Messages already on their way keep
	// their delay when it heals.
	FaultDelay = nemesis.KindDelay
	// FaultDiskLoss takes a minority's disks away, wiped or with a torn
	// tail cut off the log, and restarts the nodes; the heal waits for them
	// to catch up (diskloss.go). It is the container nemesis's kind.
	FaultDiskLoss = nemesis.KindDiskLoss
)

// FaultKinds lists every fault kind the simulation can inject.
func FaultKinds() []string {
	return []string{FaultPartition, FaultKill, FaultPause, FaultClock, FaultLoss, FaultDelay, FaultStepCrash, FaultDiskLoss, FaultCorruptSector}
}

// maxStepCrashOps bounds the disk operations a step-crash lets a node make
// before its machine stops: a loop iteration that persists makes a few
// (write, fsync, a segment's rollover or a snapshot a few more), so the
// stop falls within the next handful of steps, wherever they are.
const maxStepCrashOps = 24

// Restart delays: a crashed node comes back after a delay drawn between
// these on a log scale, so a restart within milliseconds (a supervisor
// restarting a crashed process, before its peers noticed) is as likely as
// one after a second.
const (
	minRestartDelay = time.Millisecond
	maxRestartDelay = time.Second
)

// nemesisLoop is one lane of the nemesis during the main phase: a quiet
// gap, then a random fault that holds for a random time and is healed, over
// and over. Lanes run side by side (Config.FaultLanes), so faults of
// different kinds overlap (a partition while a node restarts, a clock jump
// on a leader that is then cut off); two faults of one kind never do.
func (w *world) nemesisLoop() {
	gap := w.randDuration(w.cfg.FaultInterval/2, w.cfg.FaultInterval*3/2)
	w.after(gap, func() {
		if w.now >= w.cfg.Duration {
			return
		}
		var idle []string
		for _, kind := range w.cfg.Faults {
			if !w.activeFaults[kind] {
				idle = append(idle, kind)
			}
		}
		if len(idle) == 0 {
			w.nemesisLoop()
			return
		}
		kind := idle[w.rng.IntN(len(idle))]
		w.activeFaults[kind] = true
		hold := w.randDuration(w.cfg.FaultInterval/2, w.cfg.FaultInterval*2)
		start := func() {
			if w.now >= w.cfg.Duration {
				// The wait for a leader change or an election outlasted the
				// main phase: the final heal has begun, and a fault now would
				// land in the recovery the checkers judge.
				w.activeFaults[kind] = false
				return
			}
			heal := w.startFault(kind, hold)
			w.after(min(hold, max(w.cfg.Duration-w.now, 0)), func() {
				heal(func() {
					w.activeFaults[kind] = false
					w.nemesisLoop()
				})
			})
		}
		switch w.rng.IntN(4) {
		case 0, 1:
			start()
		case 2:
			// A quarter of the faults wait for the next change of leader and
			// strike within a few message delays of it: while the new
			// leader's first appends are in flight, its voters have just
			// voted, and the old leader may still hold writes nobody else
			// has.
			w.atNextLeaderChange(w.cfg.FaultInterval, w.randDuration(0, 4*w.cfg.MaxDelay), start)
		default:
			// A quarter wait for the next election and strike while its
			// vote requests and answers are in flight: a voter's grant is
			// durable and not yet followed by the winner's first append, a
			// candidate has not yet heard its quorum.
			w.atNextElection(w.cfg.FaultInterval, w.randDuration(0, 3*w.cfg.MaxDelay), start)
		}
	})
}

// atNextLeaderChange runs fn delay after the next leadership the world
// sees (a node leading a generation for the first time), or after wait if
// none comes by then.
func (w *world) atNextLeaderChange(wait, delay time.Duration, fn func()) {
	w.leaderWatchers = w.atNext(w.leaderWatchers, wait, delay, fn)
}

// atNextElection runs fn delay after the next vote request a node sends
// (not a pre-vote: a candidate that passed its pre-vote has moved to a new
// generation and asks for votes), or after wait if none comes by then.
func (w *world) atNextElection(wait, delay time.Duration, fn func()) {
	w.electionWatchers = w.atNext(w.electionWatchers, wait, delay, fn)
}

// atNext adds to watchers one that runs fn delay after it is woken, or
// runs fn after wait if it is not woken by then; fn runs once.
func (w *world) atNext(watchers []func(), wait, delay time.Duration, fn func()) []func() {
	done := false
	once := func() {
		if !done {
			done = true
			fn()
		}
	}
	w.after(wait, once)
	return append(watchers, func() { w.after(delay, once) })
}

// noteElection wakes the faults waiting for an election. It runs while a
// node's loop iteration sends, so they start in events of their own.
func (w *world) noteElection() { wake(&w.electionWatchers) }

// noteLeaderChange wakes the faults waiting for a change of leader. It runs
// inside a node's loop iteration, so they start in events of their own.
func (w *world) noteLeaderChange() { wake(&w.leaderWatchers) }

// wake empties *watchers and runs each of them (atNext's watchers only
// schedule their fault).
func wake(watchers *[]func()) {
	woken := *watchers
	*watchers = nil
	for _, fn := range woken {
		fn()
	}
}

// formerLeader is the node that led before the latest leader the world
// saw, or "": it may still believe it leads, and hold writes nobody else
// has.
func (w *world) formerLeader() string {
	if len(w.leaders) == 0 {
		return ""
	}
	latest := w.leaders[len(w.leaders)-1].Node
	for i := len(w.leaders) - 2; i >= 0; i-- {
		if w.leaders[i].Node != latest {
			return w.leaders[i].Node
		}
	}
	return ""
}

// startFault applies one fault of kind, records its start and returns the
// function that heals it, records the stop and then calls healed. Most
// faults are healed at once; a disk loss's heal waits for its nodes to
// catch up, and the lane holds the fault until then.
func (w *world) startFault(kind string, hold time.Duration) (heal func(healed func())) {
	f := history.Fault{Kind: kind, Params: map[string]string{}}
	var undo func()
	// settle, if set, runs after undo and calls its argument once the
	// fault is over.
	var settle func(done func())
	switch kind {
	case FaultPartition:
		w.drawPartition(&f)
		// Half of the partitions change shape at every change of leader
		// while they hold, as a network that keeps failing does: a leader
		// cut off, then the one elected in its place cut off while the old
		// one, which may not yet know it was replaced, is let back in.
		ended := false
		if w.rng.IntN(2) == 0 {
			f.Params["redrawn_at_leader_change"] = "true"
			var redraw func()
			redraw = func() {
				w.atNextLeaderChange(hold, w.randDuration(0, 4*w.cfg.MaxDelay), func() {
					if ended {
						return
					}
					w.recordNemesis(history.FStop, f)
					f = history.Fault{Kind: kind, Params: map[string]string{"redrawn_at_leader_change": "true"}}
					w.drawPartition(&f)
					w.recordNemesis(history.FStart, f)
					redraw()
				})
			}
			redraw()
		}
		undo = func() {
			ended = true
			w.net.grudge = nil
		}
	case FaultKill:
		targets := w.targets(&f)
		// Half of the kills are power cuts: the disk loses what was not
		// fsynced, and the last writes may be torn.
		powerCut := w.rng.IntN(2) == 0
		f.Params["power_cut"] = strconv.FormatBool(powerCut)
		// The killed nodes come back after a drawn delay, often long before
		// the fault ends; a third of the kills then crash them again after a
		// drawn time up, and again, until it ends (a crash loop).
		loop := w.rng.IntN(3) == 0
		f.Params["crash_loop"] = strconv.FormatBool(loop)
		down := w.logDuration(minRestartDelay, max(hold, minRestartDelay))
		f.Params["restart_after_ms"] = strconv.FormatInt(down.Milliseconds(), 10)
		var dropped int64
		ended := false
		for _, n := range targets {
			dropped += w.kill(n, powerCut)
			w.crashLoop(n, down, powerCut, loop, &ended)
		}
		f.Params["dropped_bytes"] = strconv.FormatInt(dropped, 10)
		undo = func() {
			ended = true
			for _, n := range targets {
				w.restart(n)
			}
		}
	case FaultStepCrash:
		// One machine at a time: the fault is about where inside its own
		// steps a machine stops. (Several machines cut at once are the
		// kill fault's power cuts.)
		targets := w.targets(&f, nemesis.TargetOne, nemesis.TargetLeader, nemesis.TargetLeader, TargetFormerLeader)
		if len(targets) > 1 { // stacked on a fault that hits several
			targets, f.Targets = targets[:1], []string{targets[0].id}
		}
		ops := w.rng.IntN(maxStepCrashOps + 1)
		f.Params["after_ops"] = strconv.Itoa(ops)
		for _, n := range targets {
			if n.up() && !n.freezeArmed {
				n.fs.FreezeAfter(ops)
				n.freezeArmed = true
			}
		}
		undo = func() {
			// A node that made too few disk operations to stop loses its
			// power now.
			for _, n := range targets {
				if n.freezeArmed {
					n.powerCut()
				}
				w.restart(n)
			}
		}
	case FaultPause:
		targets := w.targets(&f)
		for _, n := range targets {
			n.paused = n.up()
		}
		// A stall lasts from milliseconds (a long GC pause, a slow disk) to
		// the whole fault, drawn on a log scale: a paused leader that
		// resumes within one or two election timeouts may not yet know it
		// was replaced.
		stall := w.logDuration(10*time.Millisecond, max(hold, 10*time.Millisecond))
		f.Params["stall_ms"] = strconv.FormatInt(stall.Milliseconds(), 10)
		incarnations := make([]int, len(targets))
		for i, n := range targets {
			incarnations[i] = n.incarnation
		}
		resume := func() {
			for i, n := range targets {
				if n.incarnation == incarnations[i] {
					n.resume()
				}
			}
		}
		w.after(stall, resume)
		undo = resume
	case FaultClock:
		n := w.clockTarget(&f)
		f.Targets = []string{n.id}
		cmd := w.clockCommand()
		f.Action = cmd.Action
		f.ClockRate = cmd.Rate
		f.Params["offset_ms"] = strconv.FormatInt(cmd.OffsetMillis, 10)
		w.clockFault(n, cmd)
		undo = func() { w.clockFault(n, client.ClockCommand{Action: client.ClockReset}) }
	case FaultLoss:
		f.LossPercent = float64(10 + w.rng.IntN(41))
		w.net.lossPercent = f.LossPercent
		undo = func() { w.net.lossPercent = 0 }
	case FaultDelay:
		targets := w.targets(&f)
		delays := nemesis.DelaysMillis()
		delay := time.Duration(delays[w.rng.IntN(len(delays))]) * time.Millisecond
		f.Params["delay_ms"] = strconv.FormatInt(delay.Milliseconds(), 10)
		f.Params["jitter_ms"] = strconv.FormatInt((delay / 5).Milliseconds(), 10)
		w.net.slow, w.net.slowDelay, w.net.slowJitter = map[string]bool{}, delay, delay/5
		for _, n := range targets {
			w.net.slow[n.id] = true
		}
		undo = func() { w.net.slow = nil }
	case FaultDiskLoss:
		undo = func() {}
		settle = w.startDiskLoss(&f)
	case FaultCorruptSector:
		undo = func() {}
		settle = w.startCorruptSector(&f)
	}
	w.recordNemesis(history.FStart, f)
	return func(healed func()) {
		undo()
		stop := func() {
			w.recordNemesis(history.FStop, f)
			healed()
		}
		if settle == nil {
			stop()
			return
		}
		settle(stop)
	}
}

// TargetFormerLeader is the sim's process shape for the node that led
// before the current leader (see formerLeader).
const TargetFormerLeader = "former-leader"

// TargetStacked is the sim's shape for a fault that hits the nodes another
// active fault already hits (stackedTargets).
const TargetStacked = "stacked"

// stackedTargets draws, for a third of the faults that start while another
// one holds, the nodes one of the active faults hits (a partition hits the
// nodes it cut off from a majority); nil otherwise. Failures in production
// are correlated: a machine whose clock drifts is the one whose network
// flaps, a node cut off is then restarted, a paused process's host loses
// power. Drawn independently, two faults rarely meet on one node, and what
// only their meeting shows (a lease judged on a clock set back while the
// node is cut off, a voter crashed while the partition isolates the node
// it voted for) is rarely tried.
func (w *world) stackedTargets() []string {
	kinds := make([]string, 0, len(w.faultTargets))
	for kind, ids := range w.faultTargets {
		if len(ids) > 0 {
			kinds = append(kinds, kind)
		}
	}
	if len(kinds) == 0 {
		return nil
	}
	slices.Sort(kinds) // map order is random; the draw must not be
	if w.rng.IntN(3) != 0 {
		return nil
	}
	return slices.Clone(w.faultTargets[kinds[w.rng.IntN(len(kinds))]])
}

// cutOff lists the nodes the current partition cuts off from a majority
// of the cluster (counting themselves): those that can neither lead nor
// hear a leader.
func (w *world) cutOff() []string {
	var ids []string
	for _, n := range w.nodes {
		reach := 0
		for _, m := range w.nodes {
			if n == m || w.net.linked(n.id, m.id) {
				reach++
			}
		}
		if reach <= len(w.nodes)/2 {
			ids = append(ids, n.id)
		}
	}
	return ids
}

// processShapes are the shapes a kill or pause draws from: the nemesis's
// process shapes (one node, the leader, a minority, a majority or all) and
// the former leader.
var processShapes = []string{nemesis.TargetOne, nemesis.TargetLeader, nemesis.TargetLeader, TargetFormerLeader,
	nemesis.TargetMinority, nemesis.TargetMajority, nemesis.TargetAll}

// targets picks the nodes a fault hits, with a shape drawn from shapes
// (processShapes if none).
func (w *world) targets(f *history.Fault, shapes ...string) []*node {
	if len(shapes) == 0 {
		shapes = processShapes
	}
	if stacked := w.stackedTargets(); stacked != nil {
		f.Shape, f.Targets = TargetStacked, stacked
		targets := make([]*node, len(stacked))
		for i, id := range stacked {
			targets[i] = w.node(id)
		}
		return targets
	}
	f.Shape = shapes[w.rng.IntN(len(shapes))]
	order := slices.Clone(w.nodes)
	w.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	var targets []*node
	switch f.Shape {
	case nemesis.TargetLeader, TargetFormerLeader:
		id := w.currentLeader()
		if f.Shape == TargetFormerLeader {
			id = w.formerLeader()
		}
		if id != "" {
			targets = []*node{w.node(id)}
		} else {
			f.Shape, targets = nemesis.TargetOne, order[:1]
		}
	case nemesis.TargetMinority:
		targets = order[:max(1, (len(order)-1)/2)]
	case nemesis.TargetMajority:
		targets = order[:len(order)/2+1]
	case nemesis.TargetAll:
		targets = order
	default:
		targets = order[:1]
	}
	for _, n := range targets {
		f.Targets = append(f.Targets, n.id)
	}
	slices.Sort(f.Targets)
	return targets
}

// drawPartition draws a partition shape and puts it in place. Cutting the
// leader off is drawn twice as often as each other shape: it is the cut
// that makes a cluster change leaders.
func (w *world) drawPartition(f *history.Fault) {
	if stacked := w.stackedTargets(); stacked != nil {
		id := stacked[w.rng.IntN(len(stacked))]
		f.Shape, f.Targets = TargetStacked, []string{id}
		f.Grudge = nemesis.Isolate(w.ids(), id)
		w.net.grudge = f.Grudge
		return
	}
	shapes := append(nemesis.PartitionShapes(len(w.nodes)), nemesis.ShapeLeader)
	f.Shape = shapes[w.rng.IntN(len(shapes))]
	f.Grudge = w.grudgeOf(f.Shape)
	if f.Shape == nemesis.ShapeLeader {
		f.Targets = []string{w.currentLeader()}
	}
	w.net.grudge = f.Grudge
}

// grudgeOf builds a partition of the named shape with the nemesis's own
// shape functions.
func (w *world) grudgeOf(shape string) map[string][]string {
	ids := w.ids()
	switch shape {
	case nemesis.ShapeOne:
		return nemesis.One(ids, w.rng)
	case nemesis.ShapeLeader:
		if leader := w.currentLeader(); leader != "" {
			return nemesis.Isolate(ids, leader)
		}
		return nemesis.One(ids, w.rng)
	case nemesis.ShapeHalves:
		return nemesis.Halves(ids)
	case nemesis.ShapeRandomHalves:
		return nemesis.RandomHalves(ids, w.rng)
	case nemesis.ShapeMinorityThird:
		return nemesis.MinorityThird(ids, w.rng)
	case nemesis.ShapeMajoritiesRing:
		return nemesis.MajoritiesRing(ids, w.rng)
	default:
		return nemesis.Bridge(ids, w.rng)
	}
}

// clockTarget picks the node whose clock a clock fault skews: the leader
// (whose clock decides how long it serves reads on its own) for half of
// them, the former leader or any node for the others.
func (w *world) clockTarget(f *history.Fault) *node {
	if stacked := w.stackedTargets(); stacked != nil {
		f.Shape = TargetStacked
		return w.node(stacked[w.rng.IntN(len(stacked))])
	}
	f.Shape = nemesis.TargetOne
	switch w.rng.IntN(4) {
	case 0, 1:
		if id := w.currentLeader(); id != "" {
			f.Shape = nemesis.TargetLeader
			return w.node(id)
		}
	case 2:
		if id := w.formerLeader(); id != "" {
			f.Shape = TargetFormerLeader
			return w.node(id)
		}
	}
	return w.nodes[w.rng.IntN(len(w.nodes))]
}

// clockCommand draws a clock fault: a jump of up to ±60 s (mostly within
// ±10 s), a strobe, or a rate change of the node's skewable (wall) clock.
func (w *world) clockCommand() client.ClockCommand {
	switch w.rng.IntN(3) {
	case 0:
		bound := []int64{10_000, 60_000}[w.rng.IntN(2)]
		return client.ClockCommand{Action: client.ClockBump, OffsetMillis: w.rng.Int64N(2*bound+1) - bound}
	case 1:
		return client.ClockCommand{Action: client.ClockStrobe, DeltaMillis: w.rng.Int64N(2001) - 1000,
			PeriodMillis: 10 + w.rng.Int64N(90), DurationMillis: 1000 + w.rng.Int64N(4000)}
	default:
		return client.ClockCommand{Action: client.ClockRate, Rate: []float64{0.5, 0.9, 1.1, 2}[w.rng.IntN(4)]}
	}
}

// clockFault applies cmd to n's clock through the node's clock hook, if
// the node runs.
func (w *world) clockFault(n *node, cmd client.ClockCommand) {
	n.input(n.incarnation, func(srv *server.Server) {
		if err := srv.ApplyClock(cmd); err != nil {
			w.logf("clock fault on %s: %v", n.id, err)
		}
	})
}

// healAll ends every fault: the network is whole, every process runs and
// every clock is true again.
func (w *world) healAll() {
	w.net.grudge, w.net.lossPercent, w.net.slow = nil, 0, nil
	for _, n := range w.nodes {
		n.resume()
		if !n.up() {
			w.restart(n)
		}
		w.clockFault(n, client.ClockCommand{Action: client.ClockReset})
	}
}

// kill crashes n's process, and its machine too on a power cut (or when a
// step-crash armed its disk); it returns the bytes the disk lost.
func (w *world) kill(n *node, powerCut bool) int64 {
	if powerCut || n.freezeArmed {
		return n.powerCut()
	}
	n.crash()
	return 0
}

// crashLoop restarts n after down, and, in a loop, crashes it again after
// a drawn time up and restarts it after down, until *ended.
func (w *world) crashLoop(n *node, down time.Duration, powerCut, loop bool, ended *bool) {
	w.after(down, func() {
		if *ended {
			return
		}
		w.restart(n)
		if !loop {
			return
		}
		w.after(w.logDuration(minRestartDelay, maxRestartDelay), func() {
			if *ended || !n.up() {
				return
			}
			w.kill(n, powerCut)
			w.crashLoop(n, down, powerCut, loop, ended)
		})
	})
}

// restartSoon restarts n, which crashed on its own, after a drawn delay,
// unless something else restarted it first.
func (w *world) restartSoon(n *node) {
	inc := n.incarnation
	w.after(w.logDuration(minRestartDelay, maxRestartDelay), func() {
		if n.incarnation == inc {
			w.restart(n)
		}
	})
}

// restart starts a node that is down from its disk. A node whose WAL a
// corrupt-sector fault damaged may refuse to start; it then stays down
// (n.refusedStart) until that fault's heal removes its data dir.
func (w *world) restart(n *node) {
	if n.up() || n.refusedStart != nil {
		return
	}
	if err := n.start(); err != nil {
		if n.refusesCorruptWAL(err) {
			w.logf("%s refused to start: %v", n.id, err)
			n.refusedStart = err
			return
		}
		w.fail(err)
	}
}

func (w *world) recordNemesis(f string, fault history.Fault) {
	switch {
	case f == history.FStop:
		delete(w.faultTargets, fault.Kind)
	case fault.Kind == FaultPartition:
		w.faultTargets[fault.Kind] = w.cutOff()
	case len(fault.Targets) > 0:
		w.faultTargets[fault.Kind] = fault.Targets
	}
	ref := fault
	w.record(history.Op{Type: history.Invoke, Process: history.NemesisProcess, F: f, Fault: &ref})
	done := fault
	w.record(history.Op{Type: history.OK, Process: history.NemesisProcess, F: f, Fault: &done})
}

// logDuration draws a duration in [lo, hi] uniformly on a log scale.
func (w *world) logDuration(lo, hi time.Duration) time.Duration {
	if hi <= lo || lo <= 0 {
		return lo
	}
	return time.Duration(float64(lo) * math.Exp(w.rng.Float64()*math.Log(float64(hi)/float64(lo))))
}

// randDuration draws a duration in [lo, hi).
func (w *world) randDuration(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)))
}
