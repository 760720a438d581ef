package sim

import (
	"slices"
	"strconv"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/disk"
	"github.com/faultline/faultline/node/server"
)

// Fault kinds the simulated nemesis draws from (history.Fault.Kind).
const (
	FaultPartition = "partition"
	FaultKill      = "kill"
	FaultPause     = "pause"
	FaultClock     = "clock"
	FaultLoss      = "loss"
)

// FaultKinds lists every fault kind the simulation can inject.
func FaultKinds() []string {
	return []string{FaultPartition, FaultKill, FaultPause, FaultClock, FaultLoss}
}

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
		heal := w.startFault(kind)
		hold := w.randDuration(w.cfg.FaultInterval/2, w.cfg.FaultInterval*2)
		w.after(min(hold, w.cfg.Duration-w.now), func() {
			heal()
			w.activeFaults[kind] = false
			w.nemesisLoop()
		})
	})
}

// startFault applies one fault of kind, records its start and returns the
// function that heals it and records the stop.
func (w *world) startFault(kind string) (heal func()) {
	f := history.Fault{Kind: kind, Params: map[string]string{}}
	var undo func()
	switch kind {
	case FaultPartition:
		shapes := nemesis.PartitionShapes(len(w.nodes))
		f.Shape = shapes[w.rng.IntN(len(shapes))]
		f.Grudge = w.grudgeOf(f.Shape)
		w.net.grudge = f.Grudge
		undo = func() { w.net.grudge = nil }
	case FaultKill:
		targets := w.targets(&f)
		// Half of the kills are power cuts: the disk loses what was not
		// fsynced, and the last writes may be torn.
		powerCut := w.rng.IntN(2) == 0
		f.Params["power_cut"] = strconv.FormatBool(powerCut)
		var dropped int64
		for _, n := range targets {
			n.crash()
			if powerCut {
				dropped += n.fs.Crash(w.rand1(), disk.CrashOptions{TornWrites: true}).DroppedBytes
			}
		}
		f.Params["dropped_bytes"] = strconv.FormatInt(dropped, 10)
		undo = func() {
			for _, n := range targets {
				w.restart(n)
			}
		}
	case FaultPause:
		targets := w.targets(&f)
		for _, n := range targets {
			n.paused = n.up()
		}
		undo = func() {
			for _, n := range targets {
				n.resume()
			}
		}
	case FaultClock:
		n := w.nodes[w.rng.IntN(len(w.nodes))]
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
	}
	w.recordNemesis(history.FStart, f)
	return func() {
		undo()
		w.recordNemesis(history.FStop, f)
	}
}

// targets picks the nodes a kill or pause hits, with the nemesis's
// process shapes: one node, the leader, a minority, a majority or all.
func (w *world) targets(f *history.Fault) []*node {
	shapes := []string{nemesis.TargetOne, nemesis.TargetLeader, nemesis.TargetLeader,
		nemesis.TargetMinority, nemesis.TargetMajority, nemesis.TargetAll}
	f.Shape = shapes[w.rng.IntN(len(shapes))]
	order := slices.Clone(w.nodes)
	w.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	var targets []*node
	switch f.Shape {
	case nemesis.TargetLeader:
		if leader := w.currentLeader(); leader != "" {
			targets = []*node{w.node(leader)}
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

// clockCommand draws a clock fault: a jump of up to ±10 s, a strobe, or a
// rate change of the node's skewable (wall) clock.
func (w *world) clockCommand() client.ClockCommand {
	switch w.rng.IntN(3) {
	case 0:
		return client.ClockCommand{Action: client.ClockBump, OffsetMillis: w.rng.Int64N(20_001) - 10_000}
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
	w.net.grudge, w.net.lossPercent = nil, 0
	for _, n := range w.nodes {
		n.resume()
		if !n.up() {
			w.restart(n)
		}
		w.clockFault(n, client.ClockCommand{Action: client.ClockReset})
	}
}

// restart starts a node that is down from its disk.
func (w *world) restart(n *node) {
	if n.up() {
		return
	}
	if err := n.start(); err != nil {
		w.fail(err)
	}
}

func (w *world) recordNemesis(f string, fault history.Fault) {
	ref := fault
	w.record(history.Op{Type: history.Invoke, Process: history.NemesisProcess, F: f, Fault: &ref})
	done := fault
	w.record(history.Op{Type: history.OK, Process: history.NemesisProcess, F: f, Fault: &done})
}

// randDuration draws a duration in [lo, hi).
func (w *world) randDuration(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)))
}
