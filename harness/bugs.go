package harness

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
)

// Bug is one entry of the bug zoo: a kvnode unsafe switch and the test
// configuration that should expose it.
type Bug struct {
	// Name is the kvnode unsafe switch (--unsafe=Name).
	Name     string
	Workload string
	// Nemesis is the fault list, as --nemesis takes it (comma-separated).
	Nemesis         string
	NemesisInterval time.Duration
	// Nodes is the cluster size.
	Nodes int
	// OpsPerKey, when set, replaces the base spec's ops per key: fewer ops
	// per key keep porcupine fast on histories full of indeterminate ops.
	OpsPerKey int
	// NodeFlags are passed to every node besides --unsafe, and to the
	// correct node too (e.g. --read-mode=lease).
	NodeFlags []string
	// Why says in one line why this configuration exposes the bug.
	Why string
	// Missing, when set, says why no run of this configuration has caught
	// the bug yet and what the harness lacks to do so. The bug still runs
	// (and fails `faultline bugs`), so the gap stays visible.
	Missing string
}

// Bugs is the catalogue, one entry per kvnode unsafe switch. The
// configurations were tuned against real containers (see the README's bug
// zoo table for the measured detection rates and times).
var Bugs = []Bug{
	{
		Name: "stale-read", Workload: "register", Nemesis: "partition", NemesisInterval: 3 * time.Second, Nodes: 3,
		Why: "a node cut off by a partition keeps answering reads from its own state while the majority side elects a new leader and accepts new writes",
	},
	{
		Name: "ack-before-quorum", Workload: "set", Nemesis: "partition", NemesisInterval: 3 * time.Second, Nodes: 3, OpsPerKey: 50,
		Why: "a leader isolated in a minority acknowledges appends only it holds; the majority's new leader never sees them and the heal truncates them, so final reads lack acknowledged elements",
	},
	{
		Name: "no-generation-check", Workload: "register", Nemesis: "partition", NemesisInterval: 2 * time.Second, Nodes: 3,
		NodeFlags: []string{"--election-timeout=500ms", "--heartbeat-interval=50ms"},
		Why:       "an isolated leader can still be leading when a new generation is elected; if the partition heals in that window, followers that skip the generation check accept its appends and confirm its read-index rounds, so it serves reads the new leader's writes have made stale",
		Missing:   "kvnode's pre-vote, check-quorum and made-up ticks after a pause make an old leader step down before, or as soon as, a newer generation exists, so a lower-generation append almost never reaches a follower; catching it needs a nemesis that delivers a deposed leader's messages late (netem delay beyond the election timeout; this kernel has no netem) or composed faults (cut the old leader off from the new one only, while it still reaches a follower)",
	},
	{
		Name: "forget-vote", Workload: "register", Nemesis: "kill,partition", NemesisInterval: 3 * time.Second, Nodes: 5,
		Why:     "kills and partitions of five nodes force elections and restart voters mid-election; a restarted voter that forgot its vote can grant a second candidate of the same generation, electing two leaders for one term",
		Missing: "a double vote needs two candidates of one generation that cannot hear each other and a voter killed and restarted between their requests, within one election timeout; with container restarts taking seconds and pre-vote, random kills never line this up: it needs a targeted nemesis that restarts the node that just voted during an election while the candidates are partitioned apart",
	},
	{
		Name: "lease-wallclock", Workload: "register", Nemesis: "clock,partition", NemesisInterval: 2 * time.Second, Nodes: 3,
		NodeFlags: []string{"--read-mode=lease"},
		Why:       "lease reads with clock bumps, strobes and rate changes, plus partitions that depose the leader: a leader whose wall clock jumps back keeps its lease past the followers' election timeout and serves reads after a new leader has taken writes",
		Missing:   "the wall clock only matters while a leader that lost its quorum still holds its lease, so a clock jump must overlap the partition that deposes it; the nemesis runs one fault at a time and resets clocks before the next starts, so that never happens: it needs composed faults (jump the leader's clock back while partitioning it away)",
	},
	{
		Name: "commit-old-generation", Workload: "register", Nemesis: "kill,partition", NemesisInterval: 3 * time.Second, Nodes: 5,
		Why:     "leaders killed and isolated in succession leave earlier-generation entries on some nodes; a leader that commits one by counting replicas, before its own no-op, lets a later leader lacking it overwrite a write already visible (Raft figure 8)",
		Missing: "figure 8 needs an earlier-generation entry counted on a majority before the new leader's no-op, then a crash before the no-op commits, then a leader lacking the entry; kvnode's new leader sends the old entries and its no-op in one append, so followers acknowledge both at once and the own-generation rule is almost never what holds a commit back: it needs a scripted fault sequence driven by leader and log state",
	},
	{
		Name: "skip-fsync", Workload: "set", Nemesis: "kill", NemesisInterval: 3 * time.Second, Nodes: 3, OpsPerKey: 100,
		Why: "every kill drops the killed node's unsynced last second of log: a killed majority or whole cluster loses acknowledged appends (final reads lack them), a killed follower forgets entries the leader counted and is never repaired (replicas diverge)",
	},
}

// BugNames lists the catalogue's bug names in order.
func BugNames() []string {
	names := make([]string, len(Bugs))
	for i, b := range Bugs {
		names[i] = b.Name
	}
	return names
}

// BugByName returns the catalogue entry for an unsafe switch.
func BugByName(name string) (Bug, bool) {
	for _, b := range Bugs {
		if b.Name == name {
			return b, true
		}
	}
	return Bug{}, false
}

// SelectBugs resolves a --bugs list (comma-separated; empty means all) to
// catalogue entries in catalogue order. An unknown name is a UsageError.
func SelectBugs(list []string) ([]Bug, error) {
	if len(list) == 0 {
		return slices.Clone(Bugs), nil
	}
	want := map[string]bool{}
	for _, name := range list {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if _, ok := BugByName(name); !ok {
			return nil, Usagef("--bugs: unknown bug %q (choose from %s)", name, strings.Join(BugNames(), ", "))
		}
		want[name] = true
	}
	var out []Bug
	for _, b := range Bugs {
		if want[b.Name] {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, Usagef("--bugs: no bug named (choose from %s)", strings.Join(BugNames(), ", "))
	}
	return out, nil
}

// Faults parses the bug's nemesis list.
func (b Bug) Faults() ([]string, error) {
	faults, err := nemesis.ParseFaults(b.Nemesis)
	if err != nil {
		return nil, fmt.Errorf("bug %s: %w", b.Name, err)
	}
	return faults, nil
}

// Validate checks that the entry can run: known workload, parseable
// nemesis, a cluster size and interval a run accepts.
func (b Bug) Validate() error {
	if b.Name == "" {
		return fmt.Errorf("bug without a name")
	}
	if _, err := workloads.ByName(b.Workload); err != nil {
		return fmt.Errorf("bug %s: workload %q: %w", b.Name, b.Workload, err)
	}
	if _, err := b.Faults(); err != nil {
		return err
	}
	if b.Nodes < 1 || b.Nodes > 9 {
		return fmt.Errorf("bug %s: %d nodes: choose between 1 and 9", b.Name, b.Nodes)
	}
	if b.NemesisInterval < 100*time.Millisecond {
		return fmt.Errorf("bug %s: nemesis interval %v: must be at least 100ms", b.Name, b.NemesisInterval)
	}
	if b.Why == "" {
		return fmt.Errorf("bug %s: say why the configuration exposes it", b.Name)
	}
	return nil
}

// configKey identifies the configuration a bug runs under, without the
// unsafe switch: bugs with equal keys share the correct node's runs.
func (b Bug) configKey() string {
	return strings.Join([]string{b.Workload, b.Nemesis, b.NemesisInterval.String(), fmt.Sprint(b.Nodes), fmt.Sprint(b.OpsPerKey), strings.Join(b.NodeFlags, " ")}, "|")
}

// Spec is the run of this bug's configuration: base supplies what the
// catalogue leaves open (concurrency, timeouts, store, time limit). With
// unsafe, the nodes run with --unsafe=Name; without, it is the correct node
// under the same faults.
func (b Bug) Spec(base Spec, unsafe bool, seed int64) (Spec, error) {
	faults, err := b.Faults()
	if err != nil {
		return Spec{}, err
	}
	s := base
	s.Workload = b.Workload
	s.Nemesis = faults
	s.NemesisInterval = b.NemesisInterval
	s.Nodes = b.Nodes
	s.Seed = seed
	if b.OpsPerKey > 0 {
		s.OpsPerKey = b.OpsPerKey
	}
	s.NodeFlags = append(slices.Clone(base.NodeFlags), b.NodeFlags...)
	if unsafe {
		s.Name = "bug-" + b.Name
		s.NodeFlags = append(s.NodeFlags, "--unsafe="+b.Name)
	} else {
		s.Name = "correct-" + b.Name
	}
	return s, nil
}
