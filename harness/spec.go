package harness

import (
	"regexp"
	"strings"
	"time"

	"github.com/faultline/faultline/rundir"
	"github.com/faultline/faultline/workloads"
)

// Spec is everything that defines a run. Together with the seed it is enough
// to reproduce the generated operations and the fault schedule.
type Spec struct {
	// Name is the test name, used as the store directory (e.g. register-partition).
	Name     string   `json:"name"`
	Workload string   `json:"workload"`
	Nemesis  []string `json:"nemesis"`
	// NemesisInterval is the mean time between fault starts.
	NemesisInterval time.Duration `json:"nemesis_interval"`
	Nodes           int           `json:"nodes"`
	Concurrency     int           `json:"concurrency"`
	// Rate limits ops/s over all workers; 0 means as fast as possible.
	Rate      float64       `json:"rate"`
	TimeLimit time.Duration `json:"time_limit"`
	OpsPerKey int           `json:"ops_per_key"`
	Seed      int64         `json:"seed"`
	// NodeFlags are passed to every node process: the store's own flags,
	// opaque to the harness. The store's adapter checks them (kvnode's
	// parses them into its typed Config); programmatic producers (the bug
	// zoo, the explore sampler) render them from typed values.
	NodeFlags []string `json:"node_flags"`
	// RequestTimeout bounds one client request; past it the op is info.
	RequestTimeout time.Duration `json:"request_timeout"`
	// RecoveryTimeout bounds the wait for the healed cluster to serve again
	// and for the replicas to converge.
	RecoveryTimeout time.Duration `json:"recovery_timeout"`
	CheckTimeout    time.Duration `json:"check_timeout"`
	KeepCluster     bool          `json:"keep_cluster"`
	Store           string        `json:"store"`
	// SUT names the store under test (kvnode, etcd); "" in records written
	// before it existed means kvnode. SUTVersion is the version that ran,
	// filled in by the caller that built its image.
	SUT        string `json:"sut,omitempty"`
	SUTVersion string `json:"sut_version,omitempty"`
}

// DefaultSUT is the store under test when none is named: kvnode.
const DefaultSUT = rundir.DefaultSUT

// SUTName is the store under test, kvnode when the spec names none.
func (s Spec) SUTName() string {
	if s.SUT == "" {
		return DefaultSUT
	}
	return s.SUT
}

// DefaultSpec is the configuration of `faultline test` with no flags.
func DefaultSpec() Spec {
	return Spec{
		Workload:        "register",
		Nemesis:         nil,
		NemesisInterval: 5 * time.Second,
		Nodes:           5,
		Concurrency:     10,
		Rate:            0,
		TimeLimit:       30 * time.Second,
		OpsPerKey:       100,
		RequestTimeout:  5 * time.Second,
		RecoveryTimeout: 60 * time.Second,
		CheckTimeout:    60 * time.Second,
		Store:           "store",
		SUT:             DefaultSUT,
	}
}

var testNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$`)

// Validate returns a UsageError describing the first bad option.
func (s *Spec) Validate() error {
	if _, err := workloads.ByName(s.Workload); err != nil {
		return Usagef("--workload %q: %v (choose one of %s)", s.Workload, err, strings.Join(workloads.Names(), ", "))
	}
	switch {
	case s.Nodes < 1 || s.Nodes > 9:
		return Usagef("--nodes %d: choose between 1 and 9 nodes", s.Nodes)
	case s.Concurrency < 1 || s.Concurrency > 1000:
		return Usagef("--concurrency %d: choose between 1 and 1000 clients", s.Concurrency)
	case s.Rate < 0:
		return Usagef("--rate %v: must be >= 0 (0 = as fast as possible)", s.Rate)
	case s.TimeLimit < time.Second || s.TimeLimit > 24*time.Hour:
		return Usagef("--time-limit %v: choose between 1s and 24h", s.TimeLimit)
	case s.OpsPerKey < 1 || s.OpsPerKey > 100_000:
		return Usagef("--ops-per-key %d: choose between 1 and 100000", s.OpsPerKey)
	case s.NemesisInterval < 100*time.Millisecond:
		return Usagef("--nemesis-interval %v: must be at least 100ms", s.NemesisInterval)
	case s.RequestTimeout < 10*time.Millisecond:
		return Usagef("--request-timeout %v: must be at least 10ms", s.RequestTimeout)
	case s.RecoveryTimeout < time.Second:
		return Usagef("--recovery-timeout %v: must be at least 1s", s.RecoveryTimeout)
	case s.CheckTimeout < time.Second:
		return Usagef("--check-timeout %v: must be at least 1s", s.CheckTimeout)
	case s.Store == "":
		return Usagef("--store must name a directory")
	}
	if s.Name == "" {
		s.Name = DefaultName(s.Workload, s.Nemesis)
	}
	return ValidateName(s.Name)
}

// ValidateName refuses a test name that cannot be a store directory.
func ValidateName(name string) error {
	if !testNameRE.MatchString(name) {
		return Usagef("--name %q: use letters, digits, '.', '_', '+' and '-' only", name)
	}
	return nil
}

// DefaultName is workload-nemesis, e.g. register-partition+kill.
func DefaultName(workload string, nemesis []string) string {
	if len(nemesis) == 0 {
		return workload + "-none"
	}
	return workload + "-" + strings.Join(nemesis, "+")
}
