package nemesis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/faultline/faultline/history"
)

// Step is one planned fault of the schedule.
type Step struct {
	// Quiet is how long the cluster is left alone before the fault starts.
	Quiet time.Duration
	// Hold is how long the fault stays before it is healed.
	Hold time.Duration
	// Fault is what to do: kind, shape, action, targets, grudge and
	// parameters. For the leader shape the targets (and the partition
	// grudge) are empty here and filled in when the fault starts.
	Fault history.Fault
	// Fallback is the node a leader-shaped fault hits when no leader can be
	// found at start time, drawn from the seed like everything else.
	Fallback string
}

// planner draws the schedule. It consumes its random source only here, never
// at run time, so the sequence of steps depends on nothing but the seed, the
// node list, the enabled kinds and the interval.
type planner struct {
	rng      *rand.Rand
	nodes    []string
	kinds    []string
	interval time.Duration
}

func newPlanner(nodes []string, kinds []string, interval time.Duration, seed int64) *planner {
	return &planner{
		// The second PCG word is a fixed constant so that a seed means the
		// same schedule in every version of this package.
		rng:      rand.New(rand.NewPCG(uint64(seed), 0x6e656d65736973)),
		nodes:    slices.Clone(nodes),
		kinds:    slices.Clone(kinds),
		interval: interval,
	}
}

// Schedule returns the first count steps that a nemesis with these options
// would run against a cluster of these nodes. It is a pure function: the
// same arguments give the same steps.
func Schedule(nodes []string, opts Options, count int) ([]Step, error) {
	if err := validate(nodes, opts); err != nil {
		return nil, err
	}
	steps := make([]Step, 0, max(count, 0))
	if len(opts.Faults) == 0 {
		return steps, nil // nothing is ever planned
	}
	p := newPlanner(nodes, opts.Faults, opts.Interval, opts.Seed)
	for range count {
		steps = append(steps, p.next())
	}
	return steps, nil
}

// jitter draws a duration uniformly from [0.5, 1.5) of half the interval, so
// that a quiet spell plus a fault last one interval on average: Interval is
// the mean time between fault starts.
func (p *planner) jitter() time.Duration {
	half := float64(p.interval) / 2
	return time.Duration(half * (0.5 + p.rng.Float64()))
}

func (p *planner) next() Step {
	step := Step{Quiet: p.jitter(), Hold: p.jitter()}
	kind := p.kinds[p.rng.IntN(len(p.kinds))]
	step.Fault = history.Fault{Kind: kind, Params: map[string]string{}}
	step.Fallback = p.nodes[p.rng.IntN(len(p.nodes))]
	switch kind {
	case KindPartition:
		p.planPartition(&step)
	case KindKill:
		p.planProcess(&step, killShapes)
	case KindPause:
		p.planProcess(&step, pauseShapes)
	case KindClock:
		p.planClock(&step)
	case KindDiskLoss:
		p.planDiskLoss(&step)
	case KindLoss:
		p.planLink(&step)
		step.Fault.LossPercent = lossPercents[p.rng.IntN(len(lossPercents))]
	case KindDelay:
		p.planLink(&step)
		delayMillis := delaysMillis[p.rng.IntN(len(delaysMillis))]
		step.Fault.Params["delay_ms"] = strconv.FormatInt(delayMillis, 10)
		step.Fault.Params["jitter_ms"] = strconv.FormatInt(delayMillis/5, 10)
	case KindStaleLeader, KindVoterCrash, KindFigure8:
		step.Fault.Shape = ShapeLeader // resolved at start time
	case KindSkewedLeader:
		step.Fault.Shape = ShapeLeader
		// Back by 10 to 60 s: far beyond any election timeout, so the
		// wall-clock lease outlives leadership however the node is tuned.
		deltaMillis := -(10_000 + p.rng.Int64N(50_000))
		step.Fault.Params["delta_ms"] = strconv.FormatInt(deltaMillis, 10)
	}
	return step
}

func (p *planner) planPartition(step *Step) {
	shapes := PartitionShapes(len(p.nodes))
	shape := shapes[p.rng.IntN(len(shapes))]
	step.Fault.Shape = shape
	var grudge map[string][]string
	var targets []string
	switch shape {
	case ShapeOne:
		node := p.nodes[p.rng.IntN(len(p.nodes))]
		grudge, targets = Isolate(p.nodes, node), []string{node}
	case ShapeLeader:
		return // resolved at start time
	case ShapeHalves:
		first, _ := bisect(p.nodes)
		grudge, targets = Halves(p.nodes), first
	case ShapeRandomHalves:
		first, rest := bisect(shuffled(p.nodes, p.rng))
		grudge, targets = Complete([][]string{first, rest}), first
	case ShapeMinorityThird:
		s := shuffled(p.nodes, p.rng)
		k := MinorityThirdSize(len(s))
		grudge, targets = Complete([][]string{s[:k], s[k:]}), s[:k]
	case ShapeMajoritiesRing:
		grudge, targets = MajoritiesRing(p.nodes, p.rng), p.nodes
	case ShapeBridge:
		grudge = Bridge(p.nodes, p.rng)
		targets = []string{BridgeNode(p.nodes, grudge)}
	}
	step.Fault.Grudge = grudge
	step.Fault.Targets = sortedSet(targets)
}

func (p *planner) planProcess(step *Step, shapes []string) {
	shape := shapes[p.rng.IntN(len(shapes))]
	step.Fault.Shape = shape
	n := len(p.nodes)
	var count int
	switch shape {
	case TargetOne:
		count = 1
	case TargetMinority:
		count = max((n-1)/2, 1)
	case TargetMajority:
		count = n/2 + 1
	case TargetAll:
		count = n
	case TargetLeader:
		return // resolved at start time
	}
	step.Fault.Targets = sortedSet(shuffled(p.nodes, p.rng)[:count])
}

func (p *planner) planClock(step *Step) {
	f := &step.Fault
	f.Action = clockActions[p.rng.IntN(len(clockActions))]
	// A random nonempty subset of the nodes, as Jepsen's clock generators.
	s := shuffled(p.nodes, p.rng)
	f.Targets = sortedSet(s[:1+p.rng.IntN(len(s))])
	switch f.Action {
	case ClockBump:
		// Each target jumps by its own ±1.5^(6..31) ms: about 11 ms to
		// 5 minutes, exponentially distributed (Jepsen's bump generator).
		for _, node := range f.Targets {
			deltaMillis := int64(math.Pow(1.5, 6+25*p.rng.Float64()))
			if p.rng.IntN(2) == 0 {
				deltaMillis = -deltaMillis
			}
			f.Params["delta_ms."+node] = strconv.FormatInt(deltaMillis, 10)
		}
	case ClockStrobe:
		// Jepsen's strobe: flip between the normal offset and the normal
		// offset + delta (2^(2..18) ms) every period (2^(0..10) ms), here
		// for as long as the fault is held.
		deltaMillis := int64(math.Pow(2, 2+16*p.rng.Float64()))
		periodMillis := int64(1) << p.rng.IntN(11)
		f.Params["delta_ms"] = strconv.FormatInt(deltaMillis, 10)
		f.Params["period_ms"] = strconv.FormatInt(periodMillis, 10)
		f.Params["duration_ms"] = strconv.FormatInt(step.Hold.Milliseconds(), 10)
	case ClockRate:
		f.ClockRate = clockRates[p.rng.IntN(len(clockRates))]
	}
}

// planLink chooses the node pairs whose traffic a loss or delay fault
// degrades, in both directions, and records them in Grudge (node -> nodes
// whose packets it degrades) and Targets.
func (p *planner) planLink(step *Step) {
	f := &step.Fault
	f.Shape = linkShapes[p.rng.IntN(len(linkShapes))]
	s := shuffled(p.nodes, p.rng)
	switch {
	case len(s) < 2:
		f.Grudge = map[string][]string{}
	case f.Shape == LinkOne:
		f.Grudge, f.Targets = Complete([][]string{s[:1], s[1:]}), s[:1]
	case f.Shape == LinkPair:
		f.Grudge, f.Targets = Complete([][]string{s[:1], s[1:2]}), sortedSet(s[:2])
	case f.Shape == LinkHalves:
		first, rest := bisect(s)
		f.Grudge, f.Targets = Complete([][]string{first, rest}), sortedSet(first)
	}
}

// validate checks options against the node list, without touching a cluster.
func validate(nodes []string, opts Options) error {
	if len(nodes) == 0 {
		return fmt.Errorf("nemesis: the cluster has no nodes")
	}
	for _, kind := range opts.Faults {
		if !slices.Contains(Kinds, kind) {
			return fmt.Errorf("nemesis: unknown fault %q; valid: %v", kind, Kinds)
		}
	}
	if len(opts.Faults) > 0 && opts.Interval <= 0 {
		return fmt.Errorf("nemesis: interval must be positive, got %s", opts.Interval)
	}
	for _, kind := range opts.Faults {
		if kind == KindStaleLeader && len(nodes) < 3 {
			return fmt.Errorf("nemesis: %s needs at least 3 nodes (old leader, new leader and a node both reach), the cluster has %d", kind, len(nodes))
		}
		if (kind == KindVoterCrash || kind == KindFigure8) && len(nodes) < 3 {
			return fmt.Errorf("nemesis: %s needs at least 3 nodes (old leader, winner and voter), the cluster has %d", kind, len(nodes))
		}
		if kind == KindDiskLoss && len(nodes) < 3 {
			return fmt.Errorf("nemesis: %s needs at least 3 nodes (a minority loses its disks while a majority keeps them), the cluster has %d", kind, len(nodes))
		}
		if isNetworkKind(kind) && len(nodes) < 2 {
			return fmt.Errorf("nemesis: %s needs at least 2 nodes, the cluster has %d", kind, len(nodes))
		}
	}
	return nil
}
