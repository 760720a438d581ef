package mutate

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/faultline/faultline/rundir"
)

// Summary sums a campaign up.
type Summary struct {
	Command  string    `json:"command"`
	Packages []string  `json:"packages"`
	Seed     int64     `json:"seed"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Wall is the campaign's wall time, the correct node's sweeps included.
	Wall time.Duration `json:"wall_ns"`
	// Sites counts every mutant the operators make, per package.
	Sites map[string]int `json:"sites"`
	// Budget describes a mutant's harness budget in one line.
	Budget string  `json:"budget"`
	Sweeps []Sweep `json:"sweeps"`
	// Baseline are the unmutated node's sweeps; FalseAlarm is set when one
	// was not valid.
	Baseline   []HarnessRun `json:"baseline"`
	FalseAlarm bool         `json:"false_alarm"`

	// Mutants counts every mutant tried, stillborn ones included.
	Mutants    int `json:"mutants"`
	Stillborn  int `json:"stillborn"`
	Equivalent int `json:"equivalent"`
	// Scored are the mutants the score counts: built, not equivalent.
	Scored   int `json:"scored"`
	Caught   int `json:"caught"`
	Survived int `json:"survived"`
	// CaughtBy splits Caught by how: invalid, crash, timeout.
	CaughtBy map[string]int `json:"caught_by"`
	// UnitKilled counts the scored mutants kvnode's own unit tests kill
	// (a timeout included); UnitOnly those the unit tests kill and the
	// harness does not, HarnessOnly the reverse.
	UnitKilled  int `json:"unit_killed"`
	UnitOnly    int `json:"unit_only"`
	HarnessOnly int `json:"harness_only"`
	// Score is Caught / Scored (0 with nothing scored); UnitScore the unit
	// tests' kills over the same mutants.
	Score     float64 `json:"score"`
	UnitScore float64 `json:"unit_score"`
	// PerPackage is the score's numerator and denominator per package.
	PerPackage  map[string][2]int `json:"per_package"`
	Interrupted bool              `json:"interrupted,omitempty"`
}

func newSummary(opts Options, all []Mutant, start time.Time) Summary {
	s := Summary{Command: opts.Command, Packages: opts.Packages, Seed: opts.Seed, Started: start,
		Sites: map[string]int{}, Sweeps: opts.Sweeps, CaughtBy: map[string]int{}, PerPackage: map[string][2]int{}}
	for _, m := range all {
		s.Sites[m.Package]++
	}
	var parts []string
	for _, sw := range opts.Sweeps {
		parts = append(parts, fmt.Sprintf("%s seeds %s within %v", sw.Workload, sw.Seeds(), sw.Budget))
	}
	s.Budget = strings.Join(parts, ", then ")
	return s
}

// finish recounts the summary from the results.
func (c *Campaign) finish(now time.Time) {
	s := &c.Summary
	s.Finished, s.Wall = now, now.Sub(s.Started)
	s.Mutants, s.Stillborn, s.Equivalent, s.Scored, s.Caught, s.Survived = len(c.Results), 0, 0, 0, 0, 0
	s.UnitKilled, s.UnitOnly, s.HarnessOnly = 0, 0, 0
	s.CaughtBy, s.PerPackage = map[string]int{}, map[string][2]int{}
	for _, r := range c.Results {
		switch r.Outcome {
		case OutcomeStillborn:
			s.Stillborn++
			continue
		case OutcomeEquivalent:
			s.Equivalent++
			continue
		}
		s.Scored++
		pp := s.PerPackage[r.Package]
		pp[1]++
		unit := r.Unit.Status == StatusKilled || r.Unit.Status == StatusTimeout
		if unit {
			s.UnitKilled++
		}
		if r.Outcome == OutcomeCaught {
			s.Caught++
			pp[0]++
			s.CaughtBy[r.CaughtBy]++
			if !unit {
				s.HarnessOnly++
			}
		} else {
			s.Survived++
			if unit {
				s.UnitOnly++
			}
		}
		s.PerPackage[r.Package] = pp
	}
	s.Score, s.UnitScore = 0, 0
	if s.Scored > 0 {
		s.Score = float64(s.Caught) / float64(s.Scored)
		s.UnitScore = float64(s.UnitKilled) / float64(s.Scored)
	}
}

// Survivors are the scored mutants no sweep caught.
func (c *Campaign) Survivors() []Result {
	var out []Result
	for _, r := range c.Results {
		if r.Outcome == OutcomeSurvived {
			out = append(out, r)
		}
	}
	return out
}

// Files a campaign directory holds.
const (
	MutantsFile = "mutants.json"
	SummaryFile = "summary.json"
	ReportFile  = "index.html"
	JUnitFile   = "junit.xml"
	TextFile    = "summary.txt"
	// BaselineFile lists what the campaign caught, in the form --baseline
	// reads: copied into the repository, it is what a later campaign of the
	// same sample must catch again.
	BaselineFile = "baseline.json"
)

// Write writes the campaign's files into dir, each atomically.
func Write(dir string, c *Campaign) error {
	if err := rundir.WriteJSON(filepath.Join(dir, MutantsFile), c); err != nil {
		return err
	}
	if err := rundir.WriteJSON(filepath.Join(dir, SummaryFile), c.Summary); err != nil {
		return err
	}
	var text strings.Builder
	PrintSummary(&text, c)
	if err := rundir.WriteFile(filepath.Join(dir, TextFile), []byte(text.String())); err != nil {
		return err
	}
	page, err := renderReport(c)
	if err != nil {
		return err
	}
	if err := rundir.WriteFile(filepath.Join(dir, ReportFile), page); err != nil {
		return err
	}
	junit, err := renderJUnit(c)
	if err != nil {
		return err
	}
	if err := rundir.WriteFile(filepath.Join(dir, JUnitFile), junit); err != nil {
		return err
	}
	return writeBaseline(dir, c)
}

// PrintSummary writes the campaign's figures and its survivors as text.
func PrintSummary(w io.Writer, c *Campaign) {
	s := c.Summary
	fmt.Fprintf(w, "mutation campaign on %s (seed %d), %v wall\n", strings.Join(s.Packages, ", "), s.Seed, s.Wall.Round(time.Second))
	fmt.Fprintf(w, "budget per mutant: %s\n", s.Budget)
	for _, b := range s.Baseline {
		fmt.Fprintf(w, "unmutated node: %s seeds %s: %s (%v)\n", b.Workload, b.Seeds, b.Status, b.Duration.Round(time.Second))
	}
	if s.FalseAlarm {
		fmt.Fprintln(w, "FALSE ALARM: a sweep of the unmutated node was not valid; no mutant was scored")
		return
	}
	fmt.Fprintf(w, "mutants: %d tried, %d stillborn (do not build), %d judged equivalent, %d scored\n",
		s.Mutants, s.Stillborn, s.Equivalent, s.Scored)
	fmt.Fprintf(w, "harness caught %d of %d: score %.1f %% (invalid %d, crash %d, timeout %d, unknown %d)\n",
		s.Caught, s.Scored, 100*s.Score, s.CaughtBy[CaughtInvalid], s.CaughtBy[CaughtCrash], s.CaughtBy[CaughtTimeout], s.CaughtBy[CaughtUnknown])
	fmt.Fprintf(w, "kvnode's unit tests killed %d of %d (%.1f %%); unit tests only %d, harness only %d\n",
		s.UnitKilled, s.Scored, 100*s.UnitScore, s.UnitOnly, s.HarnessOnly)
	for _, pkg := range s.Packages {
		pp := s.PerPackage[pkg]
		fmt.Fprintf(w, "  %s: %d of %d caught (%d sites)\n", pkg, pp[0], pp[1], s.Sites[pkg])
	}
	if s.Interrupted {
		fmt.Fprintln(w, "interrupted: the figures cover the mutants above only")
	}
	surv := c.Survivors()
	if len(surv) > 0 {
		fmt.Fprintf(w, "survivors (%d):\n", len(surv))
		for _, r := range surv {
			fmt.Fprintf(w, "  %s %s (unit tests: %s)\n", r.ID, r.Title(), r.Unit.Status)
			for _, h := range r.Harness {
				if o := h.Observed(); o != "" {
					fmt.Fprintf(w, "    %s: %s\n", h.Workload, o)
				}
			}
		}
	}
	for _, r := range c.Results {
		if r.Outcome == OutcomeEquivalent {
			fmt.Fprintf(w, "equivalent %s %s: %s\n", r.ID, r.Title(), r.Equivalence)
		}
		if r.Outcome == OutcomeSurvived && r.Equivalence != "" {
			fmt.Fprintf(w, "ARGUED EQUIVALENT BUT OBSERVABLE %s %s: a history differs from the unmutated node's, so the argument in equivalent.json is wrong and the mutant is scored as a survivor\n", r.ID, r.Title())
		}
		if r.Outcome == OutcomeCaught && r.Equivalence != "" {
			fmt.Fprintf(w, "ARGUED EQUIVALENT BUT CAUGHT %s %s: the argument in equivalent.json is wrong\n", r.ID, r.Title())
		}
	}
}
