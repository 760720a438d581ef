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
	// NodeFlags are passed to every node besides --unsafe, and to the
	// correct node too (e.g. --read-mode=lease).
	NodeFlags []string
	// Why says in one line why this configuration exposes the bug.
	Why string
	// Observable is false when no run of the tuned configuration ever
	// caught the bug; Missing then says what the harness lacks. The bug
	// still runs (and fails `faultline bugs`) so the gap stays visible.
	Observable bool
	Missing    string
}

// Bugs is the catalogue, one entry per kvnode unsafe switch. The
// configurations were tuned against real containers (see the README's bug
// zoo table for the measured detection rates and times).
var Bugs = []Bug{
	{
		Name: "stale-read", Workload: "register", Nemesis: "partition", NemesisInterval: 3 * time.Second, Nodes: 3,
		Why:        "a node cut off by a partition keeps answering reads from its own state while the majority side elects a new leader and accepts new writes",
		Observable: true,
	},
	{
		Name: "ack-before-quorum", Workload: "set", Nemesis: "partition", NemesisInterval: 3 * time.Second, Nodes: 3,
		Why:        "a leader isolated in a minority acknowledges appends only it holds; the majority's new leader never sees them and the heal truncates them, so final reads lack acknowledged elements",
		Observable: true,
	},
	{
		Name: "no-generation-check", Workload: "register", Nemesis: "partition", NemesisInterval: 3 * time.Second, Nodes: 3,
		Why:        "bridge and ring partitions leave a deposed leader reaching a follower that, without the generation check, keeps acknowledging it: two leaders confirm reads and commit writes at once",
		Observable: true,
	},
	{
		Name: "forget-vote", Workload: "register", Nemesis: "kill,partition", NemesisInterval: 2 * time.Second, Nodes: 5,
		NodeFlags:  []string{"--election-timeout=300ms", "--heartbeat-interval=50ms"},
		Why:        "kills during frequent elections restart voters that forgot their vote; one that votes again in the same generation can elect two leaders for one term",
		Observable: true,
	},
	{
		Name: "lease-wallclock", Workload: "register", Nemesis: "clock,partition", NemesisInterval: 2 * time.Second, Nodes: 3,
		NodeFlags:  []string{"--read-mode=lease"},
		Why:        "a leader whose wall clock is bumped or strobed keeps its lease past the followers' election timeout and serves reads after a new leader has taken writes",
		Observable: true,
	},
	{
		Name: "commit-old-generation", Workload: "register", Nemesis: "kill,partition", NemesisInterval: 2 * time.Second, Nodes: 5,
		NodeFlags:  []string{"--election-timeout=300ms", "--heartbeat-interval=50ms"},
		Why:        "leaders killed and isolated in quick succession leave earlier-generation entries on a majority; counting them as committed lets a later leader overwrite an acknowledged write (Raft figure 8)",
		Observable: true,
	},
	{
		Name: "skip-fsync", Workload: "set", Nemesis: "kill", NemesisInterval: 3 * time.Second, Nodes: 3,
		Why:        "killing a majority or all nodes drops the last unsynced second of every killed node's log; acknowledged appends vanish from the final reads",
		Observable: true,
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
	return strings.Join([]string{b.Workload, b.Nemesis, b.NemesisInterval.String(), fmt.Sprint(b.Nodes), strings.Join(b.NodeFlags, " ")}, "|")
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
	s.NodeFlags = append(slices.Clone(base.NodeFlags), b.NodeFlags...)
	if unsafe {
		s.Name = "bug-" + b.Name
		s.NodeFlags = append(s.NodeFlags, "--unsafe="+b.Name)
	} else {
		s.Name = "correct-" + b.Name
	}
	return s, nil
}
