package mutate

import (
	"encoding/xml"
	"fmt"
	"strings"
)

type junitSuites struct {
	XMLName  xml.Name   `xml:"testsuites"`
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Skipped  int        `xml:"skipped,attr"`
	Time     string     `xml:"time,attr"`
	Suite    junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// renderJUnit writes one test case per mutant: caught passes, a surviving
// mutant is a failure (with its diff and the sweeps tried), a stillborn or
// equivalent one is skipped with the reason. The unmutated node's sweeps
// are cases too: a false alarm fails them.
func renderJUnit(c *Campaign) ([]byte, error) {
	suite := junitSuite{Name: "faultline mutate " + strings.Join(c.Summary.Packages, ",")}
	for _, b := range c.Summary.Baseline {
		jc := junitCase{Name: fmt.Sprintf("unmutated node %s seeds %s", b.Workload, b.Seeds),
			Classname: "faultline.mutate.baseline", Time: seconds(b.Duration.Seconds()), SystemOut: b.Command}
		if b.Status != StatusSurvived {
			jc.Failure = &junitFailure{Type: "false-alarm", Message: "the unmutated node's sweep was " + b.Status, Text: b.Output}
		}
		suite.Cases = append(suite.Cases, jc)
	}
	for _, r := range c.Results {
		jc := junitCase{Name: r.ID + " " + r.Title(), Classname: "faultline.mutate." + strings.ReplaceAll(r.Package, "/", "."),
			Time: seconds(r.Duration.Seconds())}
		var out strings.Builder
		fmt.Fprintf(&out, "unit tests: %s\n", r.Unit.Status)
		for _, h := range r.Harness {
			fmt.Fprintf(&out, "%s: %s in %v (exit %d)\n", h.Command, h.Status, h.Duration.Round(1e8), h.ExitCode)
		}
		jc.SystemOut = out.String()
		switch r.Outcome {
		case OutcomeSurvived:
			jc.Failure = &junitFailure{Type: "survived", Message: "no sweep caught the mutant: " + r.Title(),
				Text: r.Diff + "\n" + out.String()}
		case OutcomeStillborn:
			jc.Skipped = &junitSkipped{Message: "stillborn: the mutant does not build"}
		case OutcomeEquivalent:
			jc.Skipped = &junitSkipped{Message: "judged equivalent: " + r.Equivalence}
		}
		suite.Cases = append(suite.Cases, jc)
	}
	for _, jc := range suite.Cases {
		suite.Tests++
		if jc.Failure != nil {
			suite.Failures++
		}
		if jc.Skipped != nil {
			suite.Skipped++
		}
	}
	suite.Time = seconds(c.Summary.Wall.Seconds())
	doc := junitSuites{Name: suite.Name, Tests: suite.Tests, Failures: suite.Failures, Skipped: suite.Skipped,
		Time: suite.Time, Suite: suite}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode junit: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }
