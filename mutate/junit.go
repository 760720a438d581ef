package mutate

import (
	"fmt"
	"strings"

	"github.com/faultline/faultline/junit"
)

// renderJUnit writes one test case per mutant: caught passes, a surviving
// mutant is a failure (with its diff and the sweeps tried), a stillborn or
// equivalent one is skipped with the reason. The unmutated node's sweeps
// are cases too: a false alarm fails them.
func renderJUnit(c *Campaign) ([]byte, error) {
	suite := junit.Suite{Name: "faultline mutate " + strings.Join(c.Summary.Packages, ","), Time: c.Summary.Wall}
	for _, b := range c.Summary.Baseline {
		jc := junit.Case{Name: fmt.Sprintf("unmutated node %s seeds %s", b.Workload, b.Seeds),
			Classname: "faultline.mutate.baseline", Time: b.Duration, SystemOut: b.Command}
		if b.Status != StatusSurvived {
			jc.Failure = &junit.Problem{Type: "false-alarm", Message: "the unmutated node's sweep was " + b.Status, Text: b.Output}
		}
		suite.Cases = append(suite.Cases, jc)
	}
	for _, r := range c.Results {
		jc := junit.Case{Name: r.ID + " " + r.Title(), Classname: "faultline.mutate." + strings.ReplaceAll(r.Package, "/", "."),
			Time: r.Duration}
		var out strings.Builder
		fmt.Fprintf(&out, "unit tests: %s\n", r.Unit.Status)
		for _, h := range r.Harness {
			fmt.Fprintf(&out, "%s: %s in %v (exit %d)\n", h.Command, h.Status, h.Duration.Round(1e8), h.ExitCode)
		}
		jc.SystemOut = out.String()
		switch r.Outcome {
		case OutcomeSurvived:
			jc.Failure = &junit.Problem{Type: "survived", Message: "no sweep caught the mutant: " + r.Title(),
				Text: r.Diff + "\n" + out.String()}
		case OutcomeStillborn:
			jc.Skipped = "stillborn: the mutant does not build"
		case OutcomeEquivalent:
			jc.Skipped = "judged equivalent: " + r.Equivalence
		}
		suite.Cases = append(suite.Cases, jc)
	}
	return junit.Encode(suite)
}
