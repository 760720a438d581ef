package mutate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Mutant outcomes in a campaign.
const (
	// OutcomeStillborn: the mutant does not build; it is not a mutant.
	OutcomeStillborn = "stillborn"
	// OutcomeCaught: a harness sweep caught it.
	OutcomeCaught = "caught"
	// OutcomeSurvived: no sweep caught it and nobody argued it equivalent.
	OutcomeSurvived = "survived"
	// OutcomeEquivalent: no sweep caught it and equivalent.json argues no
	// client or checker can see it.
	OutcomeEquivalent = "equivalent"
)

// Options configure a campaign.
type Options struct {
	// Root is the module root (the directory holding go.mod).
	Root string
	// Packages are module-relative directories to mutate (node/raft).
	Packages []string
	// MaxMutants bounds the mutants that build (stillborn ones are
	// skipped and the next in the seeded order is taken).
	MaxMutants int
	// Seed orders the sites (Sample).
	Seed int64
	// Only, when set, replaces the seeded sample with these mutants (by
	// ID, in this order; MaxMutants still bounds those that build).
	Only []string
	// Sweeps are the harness budget of each mutant, one per workload.
	Sweeps []Sweep
	// UnitTimeout bounds one run of a package's unit tests.
	UnitTimeout time.Duration
	// Dir is the campaign directory (created).
	Dir string
	// Equivalents are the arguments of equivalent.json.
	Equivalents map[string]Equivalence
	// Command is the command line, recorded in the summary.
	Command string
	// Progress receives one line per mutant; nil discards.
	Progress io.Writer
}

// Result is one mutant's record in mutants.json.
type Result struct {
	Mutant
	Outcome string `json:"outcome"`
	// CaughtBy is how the harness caught it: invalid, crash or timeout.
	CaughtBy   string `json:"caught_by,omitempty"`
	BuildError string `json:"build_error,omitempty"`
	Unit       UnitResult
	Harness    []HarnessRun `json:"harness,omitempty"`
	// Equivalence is the checked-in argument, when there is one.
	Equivalence string        `json:"equivalence,omitempty"`
	Duration    time.Duration `json:"duration_ns"`
}

// Campaign is the outcome of Run.
type Campaign struct {
	Summary Summary  `json:"summary"`
	Results []Result `json:"mutants"`
}

// ErrUnknownMutant is an Options.Only ID that no operator makes.
var ErrUnknownMutant = errors.New("unknown mutant")

// ErrFalseAlarm is a sweep of the correct node that was not valid: the
// campaign cannot score mutants with a harness that flags correct code.
var ErrFalseAlarm = errors.New("the harness flagged the unmutated node")

// Run runs a campaign: the correct node's sweeps first (they must all be
// valid), then each sampled mutant: build, unit tests, sweeps. It writes
// mutants.json, summary.json, index.html and junit.xml into opts.Dir after
// every mutant, so an interrupted campaign leaves what it measured.
func Run(ctx context.Context, opts Options) (*Campaign, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	start := time.Now()
	all, err := Enumerate(opts.Root, opts.Packages)
	if err != nil {
		return nil, err
	}
	order := Sample(all, 0, opts.Seed)
	if len(opts.Only) > 0 {
		order = nil
		for _, id := range opts.Only {
			i := slices.IndexFunc(all, func(m Mutant) bool { return m.ID == id })
			if i < 0 {
				return nil, fmt.Errorf("%w: %s is not among the %d mutants of %s (faultline mutate --list shows them)",
					ErrUnknownMutant, id, len(all), strings.Join(opts.Packages, ","))
			}
			order = append(order, all[i])
		}
	}
	c := &Campaign{Summary: newSummary(opts, all, start)}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("campaign dir: %w", err)
	}

	fmt.Fprintf(opts.Progress, "mutate: %d sites in %s; up to %d mutants, seed %d; sweeps %s\n",
		len(all), strings.Join(opts.Packages, ","), opts.MaxMutants, opts.Seed, c.Summary.Budget)
	baseBin := filepath.Join(opts.Dir, "faultline-unmutated")
	if err := buildFaultline(ctx, opts.Root, "", baseBin); err != nil {
		return nil, fmt.Errorf("build the unmutated faultline: %w", err)
	}
	for _, s := range opts.Sweeps {
		run, err := runSweep(ctx, baseBin, filepath.Join(opts.Dir, "baseline", s.Workload), s, false)
		if err != nil {
			return nil, fmt.Errorf("sweep of the unmutated node: %w", err)
		}
		c.Summary.Baseline = append(c.Summary.Baseline, run)
		fmt.Fprintf(opts.Progress, "mutate: unmutated node, %s seeds %s: %s in %v\n", s.Workload, run.Seeds, run.Status, run.Duration.Round(time.Second))
	}
	removeQuietly(baseBin)
	for _, b := range c.Summary.Baseline {
		if b.Status != StatusSurvived {
			c.Summary.FalseAlarm = true
		}
	}
	if c.Summary.FalseAlarm {
		c.finish(time.Now())
		if err := Write(opts.Dir, c); err != nil {
			return c, err
		}
		return c, ErrFalseAlarm
	}

	built := 0
	for _, m := range order {
		if built >= opts.MaxMutants {
			break
		}
		if err := ctx.Err(); err != nil {
			c.Summary.Interrupted = true
			break
		}
		r, err := runMutant(ctx, opts, m, c.Summary.Baseline)
		if err != nil {
			if ctx.Err() != nil {
				c.Summary.Interrupted = true
				break
			}
			return c, err
		}
		c.Results = append(c.Results, r)
		if r.Outcome != OutcomeStillborn {
			built++
		}
		c.finish(time.Now())
		fmt.Fprintln(opts.Progress, progressLine(c, r, built, opts.MaxMutants, start))
		if err := Write(opts.Dir, c); err != nil {
			return c, err
		}
	}
	c.finish(time.Now())
	return c, Write(opts.Dir, c)
}

// runMutant builds, unit-tests and sweeps one mutant.
func runMutant(ctx context.Context, opts Options, m Mutant, baseline []HarnessRun) (Result, error) {
	start := time.Now()
	r := Result{Mutant: m}
	if e, ok := opts.Equivalents[m.ID]; ok {
		r.Equivalence = e.Argument
	}
	dir := filepath.Join(opts.Dir, "mutants", m.ID)
	ov, err := overlay(opts.Root, dir, m)
	if err != nil {
		return r, err
	}
	bin := filepath.Join(dir, "faultline")
	if err := buildFaultline(ctx, opts.Root, ov, bin); err != nil {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		r.Outcome, r.BuildError, r.Duration = OutcomeStillborn, err.Error(), time.Since(start)
		return r, nil
	}
	defer removeQuietly(bin)
	// The unit tests run beside the sweeps: neither depends on the other,
	// and each keeps about one core busy.
	unit := make(chan UnitResult, 1)
	go func() { unit <- unitTests(ctx, opts.Root, ov, m.Package, opts.UnitTimeout) }()
	err = r.sweep(ctx, opts, bin, dir, baseline)
	r.Unit = <-unit
	if err != nil {
		return r, err
	}
	if r.Outcome == OutcomeSurvived && r.Equivalence != "" && !r.observable() {
		// An argument the runs refute (a history differs from the
		// unmutated node's) is not honoured: the mutant stays a survivor.
		r.Outcome = OutcomeEquivalent
	}
	r.Duration = time.Since(start)
	return r, nil
}

// sweep runs the campaign's sweeps against the mutant's binary, in order,
// until one catches it.
func (r *Result) sweep(ctx context.Context, opts Options, bin, dir string, baseline []HarnessRun) error {
	r.Outcome = OutcomeSurvived
	for _, s := range opts.Sweeps {
		run, err := runSweep(ctx, bin, filepath.Join(dir, s.Workload), s, true)
		if err != nil {
			return err
		}
		for _, b := range baseline {
			if b.Workload == run.Workload {
				run.compare(b)
			}
		}
		r.Harness = append(r.Harness, run)
		if run.Caught() {
			r.Outcome, r.CaughtBy = OutcomeCaught, run.Status
			return nil
		}
	}
	return nil
}

// observable reports whether a sweep of the mutant gave a history that
// differs from the unmutated node's for the same seed.
func (r Result) observable() bool {
	for _, h := range r.Harness {
		if h.Differing > 0 {
			return true
		}
	}
	return false
}

func progressLine(c *Campaign, r Result, built, max int, start time.Time) string {
	s := c.Summary
	what := r.Outcome
	if r.CaughtBy != "" {
		what += " (" + r.CaughtBy + ")"
	}
	if r.Unit.Status != "" {
		what += ", unit tests: " + r.Unit.Status
	}
	eta := "?"
	if built > 0 {
		eta = (time.Since(start) / time.Duration(built) * time.Duration(max-built)).Round(time.Second).String()
	}
	return fmt.Sprintf("mutant %d/%d %s %s: %s in %v | caught %d, survived %d, equivalent %d, stillborn %d | ETA %s",
		built, max, r.ID, r.Title(), what, r.Duration.Round(100*time.Millisecond),
		s.Caught, s.Survived, s.Equivalent, s.Stillborn, eta)
}
