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
	// RequestTimeout, when set, replaces the base spec's client request
	// timeout: a short one frees clients stuck on a node that cannot commit
	// to go on reading from it.
	RequestTimeout time.Duration
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
		Name: "no-generation-check", Workload: "register", Nemesis: "stale-leader", NemesisInterval: 4 * time.Second, Nodes: 3,
		NodeFlags: []string{"--election-timeout=2s"}, RequestTimeout: 500 * time.Millisecond,
		Why: "the leader is frozen until the others elect a new one, then thawed cut off from the new leader only, still believing it leads: followers that skip the generation check take its appends and confirm its reads, so two leaders serve at once (a 500 ms request timeout: its clients, stuck while it was frozen, soon send it new requests)",
	},
	{
		Name: "forget-vote", Workload: "set", Nemesis: "voter-crash", NemesisInterval: 3 * time.Second, Nodes: 3, OpsPerKey: 100,
		Why: "the leader is killed and the voter of the next election crashes right after voting (a crash point); with the winner cut off, the voter restarts next to the old leader and, having forgotten its vote, elects it in the winner's generation: two leaders of one generation (the leaders checker sees both), whose entries share indexes and generation, so the winner keeps its own where the other committed acknowledged appends, and serves reads without them once it leads again",
	},
	{
		Name: "lease-wallclock", Workload: "register", Nemesis: "skewed-leader", NemesisInterval: time.Second, Nodes: 3,
		NodeFlags: []string{"--read-mode=lease", "--election-timeout=2s"}, RequestTimeout: 500 * time.Millisecond,
		Why: "the leader is cut off and its wall clock jumped back: a lease measured on that clock outlives the check-quorum round that deposes it, so it goes on serving reads from its local state after the others elected a new leader and took writes, until the heal brings it their generation (a 500 ms request timeout: its clients' writes give up and they go on reading)",
	},
	{
		Name: "commit-old-generation", Workload: "set", Nemesis: "figure-8", NemesisInterval: 3 * time.Second, Nodes: 3, OpsPerKey: 100,
		NodeFlags: []string{"--max-append-entries=1", "--max-inflight-appends=1", "--request-timeout=30s"}, RequestTimeout: 30 * time.Second,
		Why: "the leader is cut off while its clients' appends wait in its log (up to 30 s); the winner of the next election keeps its own entries (its voter crashes after voting) and is cut off in turn; the old leader leads again and, one-entry append at a time, brings the voter its earlier-generation appends: counting replicas it commits them and answers their clients before its no-op leaves it, and it crashes at the last (a crash point); the voter, whose last entry is then older than the winner's, elects the winner, which overwrites them (Raft figure 8)",
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

// CaughtBugs is the --bugs keyword for every entry without a Missing note:
// the bugs the harness claims to catch, a regression gate for nightly runs.
const CaughtBugs = "caught"

// SelectBugs resolves a --bugs list (comma-separated names or "caught";
// empty means all) to catalogue entries in catalogue order. An unknown name
// is a UsageError.
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
		if name == CaughtBugs {
			for _, b := range Bugs {
				if b.Missing == "" {
					want[b.Name] = true
				}
			}
			continue
		}
		if _, ok := BugByName(name); !ok {
			return nil, Usagef("--bugs: unknown bug %q (choose from %s, or %s)", name, strings.Join(BugNames(), ", "), CaughtBugs)
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
	return strings.Join([]string{b.Workload, b.Nemesis, b.NemesisInterval.String(), fmt.Sprint(b.Nodes), fmt.Sprint(b.OpsPerKey),
		strings.Join(b.NodeFlags, " "), b.RequestTimeout.String()}, "|")
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
	if b.RequestTimeout > 0 {
		s.RequestTimeout = b.RequestTimeout
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
