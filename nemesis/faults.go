package nemesis

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Fault kinds, recorded in history.Fault.Kind and accepted by ParseFaults.
const (
	KindPartition = "partition"
	KindKill      = "kill"
	KindPause     = "pause"
	KindClock     = "clock"
	KindLoss      = "loss"
	KindDelay     = "delay"
)

// Targeted faults compose the basic ones around the current leader and follow
// the cluster's state while they are applied (see scenario.go). They are
// built to open the narrow windows that specific bugs need, which random
// faults almost never line up.
const (
	// KindStaleLeader freezes the leader until the others elect a new
	// leader, cuts it off from the new one only and thaws it: it wakes up
	// believing it leads, with every other node in reach.
	KindStaleLeader = "stale-leader"
	// KindSkewedLeader cuts the leader off from every other node and then
	// jumps its clock back, so a lease measured on the wall clock outlives
	// its leadership.
	KindSkewedLeader = "skewed-leader"
	// KindVoterCrash kills the leader with the after-vote crash point
	// armed on the other nodes, so the voters of the next election exit
	// right after voting; it then cuts the winner off and restarts the rest
	// without it. A voter that forgot its vote can elect a second leader in
	// the winner's generation.
	KindVoterCrash = "voter-crash"
	// KindFigure8 plays Raft's figure 8: it cuts the leader off while its
	// clients' writes pile up in its log, lets the others elect a leader
	// whose voter crashes after voting (so only the winner holds its
	// generation's entries), cuts the winner off and brings the voter back
	// to the old leader, which leads again and crashes right after its
	// first commit (a crash point); then the winner and the voter elect. A
	// leader that commits an earlier generation's entry by counting
	// replicas has told a client about a write the winner overwrites.
	KindFigure8 = "figure-8"
)

// Kinds lists every fault kind in the order ParseFaults reports them.
var Kinds = []string{KindPartition, KindKill, KindPause, KindClock, KindLoss, KindDiskLoss, KindDelay, KindStaleLeader, KindSkewedLeader, KindVoterCrash, KindFigure8}

// AllKinds is what "all" expands to: every basic kind that runs on any
// kernel (delay needs netem, and the targeted kinds are for hunting specific
// bugs, so those must be asked for by name).
var AllKinds = []string{KindPartition, KindKill, KindPause, KindClock, KindLoss, KindDiskLoss}

// ErrNoNetem is returned when delay is requested on a kernel without netem.
var ErrNoNetem = errors.New("the kernel lacks netem: --nemesis delay cannot run here")

// ParseFaults parses a --nemesis value: a comma-separated list of fault
// kinds, "all" (partition,kill,pause,clock,loss) or "none" (no faults, an
// empty list). Duplicates collapse; the result is in the canonical order of
// Kinds. An unknown name is an error that lists the valid ones.
func ParseFaults(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return []string{}, nil
	}
	want := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		switch {
		case name == "all":
			for _, k := range AllKinds {
				want[k] = true
			}
		case name == "none":
			return nil, fmt.Errorf("--nemesis %q: none cannot be combined with other faults", s)
		case slices.Contains(Kinds, name):
			want[name] = true
		default:
			return nil, fmt.Errorf("--nemesis %q: unknown fault %q; valid: %s, all, none", s, name, strings.Join(Kinds, ", "))
		}
	}
	var faults []string
	for _, k := range Kinds {
		if want[k] {
			faults = append(faults, k)
		}
	}
	return faults, nil
}

// Shapes of the process faults (kill, pause), recorded in Fault.Shape.
const (
	TargetOne      = "one"
	TargetMinority = "minority"
	TargetMajority = "majority"
	TargetAll      = "all"
	TargetLeader   = "leader"
)

// Shapes of the packet faults (loss, delay): traffic is degraded in both
// directions between one node and the rest, between two nodes, or between
// two random halves.
const (
	LinkOne    = "one"
	LinkPair   = "pair"
	LinkHalves = "random-halves"
)

// Clock actions, recorded in Fault.Action.
const (
	ClockBump   = "bump"
	ClockStrobe = "strobe"
	ClockRate   = "rate"
	ClockReset  = "reset"
)

var (
	killShapes   = []string{TargetOne, TargetMinority, TargetMajority, TargetAll, TargetLeader}
	pauseShapes  = []string{TargetOne, TargetMinority, TargetLeader}
	linkShapes   = []string{LinkOne, LinkPair, LinkHalves}
	clockActions = []string{ClockBump, ClockStrobe, ClockRate}
	// lossPercents are the drop probabilities the loss fault draws from:
	// mild, heavy, severe and total (a one-way-free partition).
	lossPercents = []float64{10, 30, 60, 100}
	// clockRates are the rate skews the clock fault draws from: a clock
	// running at half speed or double speed is far outside any NTP-disciplined
	// drift; 1% is a badly drifting crystal.
	clockRates = []float64{0.5, 0.9, 0.99, 1.01, 1.1, 2}
	// delaysMillis are the one-way delays the delay fault draws from.
	delaysMillis = []int64{20, 50, 100, 250, 500}
)

// DelaysMillis are the one-way delays the delay fault draws from (a copy);
// the simulation's delay fault draws from the same values.
func DelaysMillis() []int64 { return slices.Clone(delaysMillis) }

func isNetworkKind(kind string) bool {
	switch kind {
	case KindPartition, KindLoss, KindDelay, KindStaleLeader, KindSkewedLeader, KindVoterCrash, KindFigure8:
		return true
	}
	return false
}
