package campaign

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/sut"
	"github.com/faultline/faultline/workloads"
)

// Catalogue is a store's bug zoo as its adapter lists it (kvnode's is
// kvnode.Bugs()): one entry per unsafe switch, in the order runs are made.
type Catalogue []sut.Bug

// Names lists the catalogue's bug names in order.
func (c Catalogue) Names() []string {
	names := make([]string, len(c))
	for i, b := range c {
		names[i] = b.Name
	}
	return names
}

// ByName returns the catalogue entry for an unsafe switch.
func (c Catalogue) ByName(name string) (sut.Bug, bool) {
	i := slices.IndexFunc(c, func(b sut.Bug) bool { return b.Name == name })
	if i < 0 {
		return sut.Bug{}, false
	}
	return c[i], true
}

// CaughtBugs is the --bugs keyword for every entry without a Missing note:
// the bugs the harness claims to catch, a regression gate for nightly runs.
const CaughtBugs = "caught"

// Select resolves a --bugs list (comma-separated names or "caught"; empty
// means all) to catalogue entries in catalogue order. An unknown name is a
// UsageError.
func (c Catalogue) Select(list []string) ([]sut.Bug, error) {
	if len(c) == 0 {
		return nil, harness.Usagef("--bugs: the store under test has no bug zoo")
	}
	if len(list) == 0 {
		return slices.Clone(c), nil
	}
	want := map[string]bool{}
	for _, name := range list {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if name == CaughtBugs {
			for _, b := range c {
				if b.Missing == "" {
					want[b.Name] = true
				}
			}
			continue
		}
		if _, ok := c.ByName(name); !ok {
			return nil, harness.Usagef("--bugs: unknown bug %q (choose from %s, or %s)", name, strings.Join(c.Names(), ", "), CaughtBugs)
		}
		want[name] = true
	}
	var out []sut.Bug
	for _, b := range c {
		if want[b.Name] {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, harness.Usagef("--bugs: no bug named (choose from %s)", strings.Join(c.Names(), ", "))
	}
	return out, nil
}

// BugFaults parses the bug's nemesis list.
func BugFaults(b sut.Bug) ([]string, error) {
	faults, err := nemesis.ParseFaults(b.Nemesis)
	if err != nil {
		return nil, fmt.Errorf("bug %s: %w", b.Name, err)
	}
	return faults, nil
}

// ValidateBug checks that the entry can run: known workload, parseable
// nemesis, a cluster size and interval a run accepts, a way to turn the
// switch on.
func ValidateBug(b sut.Bug) error {
	if b.Name == "" {
		return fmt.Errorf("bug without a name")
	}
	if _, err := workloads.ByName(b.Workload); err != nil {
		return fmt.Errorf("bug %s: workload %q: %w", b.Name, b.Workload, err)
	}
	if _, err := BugFaults(b); err != nil {
		return err
	}
	if len(b.UnsafeFlags) == 0 {
		return fmt.Errorf("bug %s: no flags turn the switch on", b.Name)
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

// bugConfigKey identifies the configuration a bug runs under, without the
// unsafe switch: bugs with equal keys share the correct node's runs.
func bugConfigKey(b sut.Bug) string {
	return strings.Join([]string{b.Workload, b.Nemesis, b.NemesisInterval.String(), fmt.Sprint(b.Nodes), fmt.Sprint(b.OpsPerKey),
		strings.Join(b.NodeFlags, " "), b.RequestTimeout.String()}, "|")
}

// BugSpec is the run of the bug's configuration: base supplies what the
// catalogue leaves open (concurrency, timeouts, store, time limit). With
// unsafe, the nodes run with the bug's UnsafeFlags; without, it is the
// correct node under the same faults.
func BugSpec(b sut.Bug, base harness.Spec, unsafe bool, seed int64) (harness.Spec, error) {
	faults, err := BugFaults(b)
	if err != nil {
		return harness.Spec{}, err
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
		s.NodeFlags = append(s.NodeFlags, b.UnsafeFlags...)
	} else {
		s.Name = "correct-" + b.Name
	}
	return s, nil
}
