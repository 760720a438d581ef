package mutate

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/faultline/faultline/rundir"
)

// Baseline is what one campaign caught. A score compared with a threshold
// moves with the sample; the same mutants compared one by one show a lost
// catch whatever the others did. The sample is hash-ranked (Sample), so a
// change elsewhere in the code keeps the mutants whose sites it did not
// touch, and a later campaign with the same seed runs them again.
type Baseline struct {
	// Command is the campaign's command line, to run the same sample.
	Command string `json:"command"`
	// Caught maps each mutant the harness caught to its site.
	Caught map[string]string `json:"caught"`
}

// BaselineOf lists what c caught.
func BaselineOf(c *Campaign) Baseline {
	b := Baseline{Command: c.Summary.Command, Caught: map[string]string{}}
	for _, r := range c.Results {
		if r.Outcome == OutcomeCaught {
			b.Caught[r.ID] = r.Title()
		}
	}
	return b
}

// ReadBaseline loads a baseline file.
func ReadBaseline(path string) (Baseline, error) {
	var b Baseline
	if err := rundir.ReadJSON(path, &b); err != nil {
		return b, fmt.Errorf("baseline %s: %w (give the %s of an earlier campaign)", path, err, BaselineFile)
	}
	if len(b.Caught) == 0 {
		return b, fmt.Errorf("baseline %s lists no caught mutant: give the %s of an earlier campaign that caught some", path, BaselineFile)
	}
	return b, nil
}

// Comparison is a campaign held against a baseline.
type Comparison struct {
	// Lost are the baseline's catches this campaign ran in full and did not
	// catch: the harness lost power (or the mutant's code changed meaning).
	Lost []string `json:"lost,omitempty"`
	// Undecided are the baseline's catches this campaign did not catch
	// within a budget that ran out before every seed was swept: a slower
	// machine, not evidence either way.
	Undecided []string `json:"undecided,omitempty"`
	// NotRun are the baseline's catches this campaign did not run (their
	// sites moved or went, or the sample is another).
	NotRun []string `json:"not_run,omitempty"`
	// Kept counts the baseline's catches caught again; New lists this
	// campaign's catches the baseline does not hold.
	Kept int      `json:"kept"`
	New  []string `json:"new,omitempty"`
}

// Compare holds c against b. A mutant argued equivalent since the baseline
// counts as not run: it is no longer scored.
func (b Baseline) Compare(c *Campaign) Comparison {
	var cmp Comparison
	ran := map[string]bool{}
	for _, r := range c.Results {
		ran[r.ID] = true
		_, was := b.Caught[r.ID]
		switch {
		case r.Outcome == OutcomeCaught && was:
			cmp.Kept++
		case r.Outcome == OutcomeCaught:
			cmp.New = append(cmp.New, r.ID+" "+r.Title())
		case r.Outcome == OutcomeSurvived && was && r.sweptAll():
			cmp.Lost = append(cmp.Lost, r.ID+" "+r.Title())
		case r.Outcome == OutcomeSurvived && was:
			cmp.Undecided = append(cmp.Undecided, r.ID+" "+r.Title()+" ("+r.sweptSummary()+")")
		case was:
			cmp.NotRun = append(cmp.NotRun, r.ID+" "+b.Caught[r.ID]+" ("+r.Outcome+")")
		}
	}
	for id, site := range b.Caught {
		if !ran[id] {
			cmp.NotRun = append(cmp.NotRun, id+" "+site)
		}
	}
	sort.Strings(cmp.NotRun)
	return cmp
}

// sweptAll reports whether every sweep of the mutant ran its whole range
// of seeds.
func (r Result) sweptAll() bool {
	return len(r.Harness) > 0 && !slices.ContainsFunc(r.Harness, func(h HarnessRun) bool { return h.Ran < h.size() })
}

// sweptSummary says how many seeds each sweep ran, "register 212 of 300".
func (r Result) sweptSummary() string {
	var parts []string
	for _, h := range r.Harness {
		parts = append(parts, fmt.Sprintf("%s %d of %d seeds", h.Workload, h.Ran, h.size()))
	}
	return strings.Join(parts, ", ")
}

// Print writes the comparison as text.
func (cmp Comparison) Print(w io.Writer, path string) {
	fmt.Fprintf(w, "against the baseline %s: %d caught again, %d lost, %d undecided (budget ran out), %d not run, %d new\n",
		path, cmp.Kept, len(cmp.Lost), len(cmp.Undecided), len(cmp.NotRun), len(cmp.New))
	for _, group := range []struct {
		name string
		ids  []string
	}{{"LOST", cmp.Lost}, {"undecided", cmp.Undecided}, {"not run", cmp.NotRun}, {"new", cmp.New}} {
		for _, id := range group.ids {
			fmt.Fprintf(w, "  %s: %s\n", group.name, id)
		}
	}
}

// writeBaseline writes c's baseline into dir.
func writeBaseline(dir string, c *Campaign) error {
	return rundir.WriteJSON(filepath.Join(dir, BaselineFile), BaselineOf(c))
}
