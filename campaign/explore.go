package campaign

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
)

// Ranges of the configurations --explore draws.
const (
	// MinExploreNemesisInterval and MaxExploreNemesisInterval bound the mean
	// time between fault starts.
	MinExploreNemesisInterval = 2 * time.Second
	MaxExploreNemesisInterval = 10 * time.Second
	// DefaultExploreMinTimeLimit and DefaultExploreMaxTimeLimit bound the
	// drawn main-phase length.
	DefaultExploreMinTimeLimit = 20 * time.Second
	DefaultExploreMaxTimeLimit = 90 * time.Second
)

// ExploreClusterSizes are the cluster sizes --explore draws from: odd, so a
// majority is well defined, and up to 7 so a 2-core machine can host them.
var ExploreClusterSizes = []int{3, 5, 7}

// NodeSampler draws a node configuration for one explored run, as the
// store's own node flags. A store's adapter offers one when it has knobs
// worth exploring (kvnode: timeouts, snapshot and segment thresholds); it
// must make the same number of draws from r every time, so the sequence of
// configurations depends only on the master seed.
type NodeSampler func(r *rand.Rand) []string

// ExploreSpace is what --explore draws from. The zero value of a field means
// its default (see DefaultExploreSpace).
type ExploreSpace struct {
	// Workloads to choose from; default workloads.Names().
	Workloads []string `json:"workloads"`
	// Faults is the pool a nemesis combination is a non-empty subset of;
	// default nemesis.AllKinds (partition, kill, pause, clock, loss). An empty
	// pool after defaults (NoFaults) means every run has no nemesis.
	Faults   []string `json:"faults"`
	NoFaults bool     `json:"no_faults,omitempty"`
	// MinTimeLimit and MaxTimeLimit bound the drawn main-phase length.
	MinTimeLimit time.Duration `json:"min_time_limit"`
	MaxTimeLimit time.Duration `json:"max_time_limit"`
	// SampleNode, when set, draws each run's node flags; without it the
	// nodes run with the base spec's flags only.
	SampleNode NodeSampler `json:"-"`
}

// DefaultExploreSpace draws every workload, every fault of "all", and time
// limits of 20-90s.
func DefaultExploreSpace() ExploreSpace {
	return ExploreSpace{
		Workloads:    workloads.Names(),
		Faults:       slices.Clone(nemesis.AllKinds),
		MinTimeLimit: DefaultExploreMinTimeLimit,
		MaxTimeLimit: DefaultExploreMaxTimeLimit,
	}
}

func (sp ExploreSpace) withDefaults() ExploreSpace {
	d := DefaultExploreSpace()
	if len(sp.Workloads) == 0 {
		sp.Workloads = d.Workloads
	}
	if len(sp.Faults) == 0 && !sp.NoFaults {
		sp.Faults = d.Faults
	}
	if sp.MinTimeLimit <= 0 {
		sp.MinTimeLimit = d.MinTimeLimit
	}
	if sp.MaxTimeLimit <= 0 {
		sp.MaxTimeLimit = d.MaxTimeLimit
	}
	return sp
}

// Validate reports a space --explore cannot draw from as a UsageError.
func (sp ExploreSpace) Validate() error {
	sp = sp.withDefaults()
	for _, w := range sp.Workloads {
		if _, err := workloads.ByName(w); err != nil {
			return harness.Usagef("--workloads: %q: %v (choose from %s)", w, err, strings.Join(workloads.Names(), ", "))
		}
	}
	for _, f := range sp.Faults {
		if !slices.Contains(nemesis.Kinds, f) {
			return harness.Usagef("--nemeses: unknown fault %q (choose from %s)", f, strings.Join(nemesis.Kinds, ", "))
		}
	}
	if len(sp.Faults) > 16 {
		return harness.Usagef("--nemeses: at most 16 faults in the explore pool")
	}
	if sp.MinTimeLimit < time.Second || sp.MaxTimeLimit < sp.MinTimeLimit {
		return harness.Usagef("explore time limits %v-%v: need 1s <= min <= max", sp.MinTimeLimit, sp.MaxTimeLimit)
	}
	return nil
}

// ExploreConfig is one drawn configuration. Spec turns it into a run; the
// run's own Seed then fixes the ops and the fault schedule.
type ExploreConfig struct {
	// Index is the position in the exploration (0 for the first run).
	Index    int      `json:"index"`
	Workload string   `json:"workload"`
	Nemesis  []string `json:"nemesis"`
	Nodes    int      `json:"nodes"`
	// NodeFlags is the drawn node configuration (ExploreSpace.SampleNode),
	// nil for a store without a sampler.
	NodeFlags       []string      `json:"node_flags,omitempty"`
	NemesisInterval time.Duration `json:"nemesis_interval"`
	TimeLimit       time.Duration `json:"time_limit"`
	Seed            int64         `json:"seed"`
}

// DrawConfig draws configuration number index from master. It always
// consumes the same number of draws from master, whatever timeLimitCap is, so
// the sequence of configurations depends only on the master seed: the cap
// (what is left of the budget, 0 for none) only shortens a time limit. The
// caller must not draw when timeLimitCap is below space.MinTimeLimit.
func DrawConfig(master *rand.Rand, space ExploreSpace, index int, timeLimitCap time.Duration) ExploreConfig {
	sp := space.withDefaults()
	c := ExploreConfig{Index: index}

	c.Workload = sp.Workloads[master.Intn(len(sp.Workloads))]

	// A non-empty subset of the pool, uniformly: a bit mask in [1, 2^n).
	mask := master.Int63()
	if n := len(sp.Faults); n > 0 {
		mask = mask%(int64(1)<<n-1) + 1
		for i, f := range sp.Faults {
			if mask&(int64(1)<<i) != 0 {
				c.Nemesis = append(c.Nemesis, f)
			}
		}
		c.Nemesis = canonicalFaults(c.Nemesis)
	}

	c.Nodes = ExploreClusterSizes[master.Intn(len(ExploreClusterSizes))]

	if sp.SampleNode != nil {
		c.NodeFlags = sp.SampleNode(master)
	}

	steps := int64((MaxExploreNemesisInterval - MinExploreNemesisInterval) / (500 * time.Millisecond))
	c.NemesisInterval = MinExploreNemesisInterval + time.Duration(master.Int63n(steps+1))*500*time.Millisecond

	secs := int64((sp.MaxTimeLimit - sp.MinTimeLimit) / time.Second)
	c.TimeLimit = sp.MinTimeLimit + time.Duration(master.Int63n(secs+1))*time.Second
	if timeLimitCap > 0 && c.TimeLimit > timeLimitCap {
		c.TimeLimit = timeLimitCap.Truncate(time.Second)
	}

	c.Seed = master.Int63()
	return c
}

// canonicalFaults orders faults as nemesis.Kinds does, as ParseFaults would.
func canonicalFaults(faults []string) []string {
	var out []string
	for _, k := range nemesis.Kinds {
		if slices.Contains(faults, k) {
			out = append(out, k)
		}
	}
	return out
}

// Validate checks that the configuration is one DrawConfig can produce:
// known workload and faults, 3, 5 or 7 nodes, intervals within their
// ranges. The drawn node flags are the store adapter's to check.
func (c ExploreConfig) Validate() error {
	var errs []error
	if _, err := workloads.ByName(c.Workload); err != nil {
		errs = append(errs, fmt.Errorf("workload %q: %w", c.Workload, err))
	}
	for i, f := range c.Nemesis {
		if !slices.Contains(nemesis.Kinds, f) {
			errs = append(errs, fmt.Errorf("unknown fault %q", f))
		}
		if slices.Contains(c.Nemesis[:i], f) {
			errs = append(errs, fmt.Errorf("fault %q listed twice", f))
		}
	}
	if !slices.Contains(ExploreClusterSizes, c.Nodes) {
		errs = append(errs, fmt.Errorf("nodes %d: must be one of %v", c.Nodes, ExploreClusterSizes))
	}
	if c.NemesisInterval < MinExploreNemesisInterval || c.NemesisInterval > MaxExploreNemesisInterval {
		errs = append(errs, fmt.Errorf("nemesis interval %v: must be in [%v, %v]", c.NemesisInterval, MinExploreNemesisInterval, MaxExploreNemesisInterval))
	}
	if c.TimeLimit < time.Second || c.TimeLimit > 24*time.Hour {
		errs = append(errs, fmt.Errorf("time limit %v: must be in [1s, 24h]", c.TimeLimit))
	}
	if c.Seed < 0 {
		errs = append(errs, fmt.Errorf("seed %d: must not be negative", c.Seed))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("explore config %d: %w", c.Index, err)
	}
	return nil
}

// Name is the run's test name, the one `faultline test` gives the same
// workload and faults (DefaultName, e.g. register-partition+kill), so a
// replayed run lands next to the explored one in store/<name>/.
func (c ExploreConfig) Name() string { return harness.DefaultName(c.Workload, c.Nemesis) }

// Spec is the run of this configuration: base supplies what is not drawn
// (concurrency, rate, ops per key, client and check timeouts, store). The
// drawn node flags come after base.NodeFlags, so they win over a duplicate.
// The base spec is not modified.
func (c ExploreConfig) Spec(base harness.Spec) harness.Spec {
	s := base
	s.Name = c.Name()
	s.Workload = c.Workload
	s.Nemesis = slices.Clone(c.Nemesis)
	s.Nodes = c.Nodes
	s.NemesisInterval = c.NemesisInterval
	s.TimeLimit = c.TimeLimit
	s.Seed = c.Seed
	if len(c.NodeFlags) > 0 {
		s.NodeFlags = append(slices.Clone(base.NodeFlags), c.NodeFlags...)
	}
	return s
}

// String is a one-line description for the explore log.
func (c ExploreConfig) String() string {
	nem := "none"
	if len(c.Nemesis) > 0 {
		nem = strings.Join(c.Nemesis, ",")
	}
	return fmt.Sprintf("workload=%s nemesis=%s (every ~%v) nodes=%d node-flags=%s time-limit=%v seed=%d",
		c.Workload, nem, c.NemesisInterval, c.Nodes, c.nodeFlags(), c.TimeLimit, c.Seed)
}

// nodeFlags is the drawn node flags on one line, "-" for none.
func (c ExploreConfig) nodeFlags() string {
	if len(c.NodeFlags) == 0 {
		return "-"
	}
	return strings.Join(c.NodeFlags, " ")
}
