// Package junit encodes test results as JUnit XML, in the shape Jenkins,
// GitLab and the GitHub report actions read: one <testsuites> element
// holding one <testsuite> of test cases, with the totals on both.
package junit

import (
	"encoding/xml"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Suite is one test suite.
type Suite struct {
	Name string
	// Start is when the suite began; zero leaves the timestamp out.
	Start time.Time
	// Time is the suite's duration.
	Time       time.Duration
	Properties map[string]string
	Cases      []Case
}

// Case is one test case. It passed unless Failure, Error or Skipped is set.
type Case struct {
	Name      string
	Classname string
	Time      time.Duration
	// Failure is a test that ran and failed; Error one that could not run
	// to its end.
	Failure *Problem
	Error   *Problem
	// Skipped, if not empty, is why the case was not counted.
	Skipped   string
	SystemOut string
}

// Problem is a case's failure or error.
type Problem struct {
	Type    string
	Message string
	Text    string
}

// Encode returns the suite as an XML document.
func Encode(s Suite) ([]byte, error) {
	suite := xmlSuite{Name: s.Name, Time: seconds(s.Time)}
	if !s.Start.IsZero() {
		suite.Timestamp = s.Start.UTC().Format("2006-01-02T15:04:05")
	}
	if len(s.Properties) > 0 {
		suite.Properties = &xmlProperties{}
		for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
			suite.Properties.Property = append(suite.Properties.Property, xmlProperty{Name: k, Value: s.Properties[k]})
		}
	}
	for _, c := range s.Cases {
		xc := xmlCase{Name: c.Name, Classname: c.Classname, Time: seconds(c.Time), SystemOut: c.SystemOut,
			Failure: xmlProblemOf(c.Failure), Error: xmlProblemOf(c.Error)}
		if c.Skipped != "" {
			xc.Skipped = &xmlSkipped{Message: c.Skipped}
		}
		suite.Tests++
		suite.Failures += count(c.Failure != nil)
		suite.Errors += count(c.Error != nil)
		suite.Skipped += count(c.Skipped != "")
		suite.Cases = append(suite.Cases, xc)
	}
	doc := xmlSuites{Name: suite.Name, Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Skipped: suite.Skipped, Time: suite.Time, Suites: []xmlSuite{suite}}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode junit: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

type xmlSuites struct {
	XMLName  xml.Name   `xml:"testsuites"`
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Errors   int        `xml:"errors,attr"`
	Skipped  int        `xml:"skipped,attr"`
	Time     string     `xml:"time,attr"`
	Suites   []xmlSuite `xml:"testsuite"`
}

type xmlSuite struct {
	Name       string         `xml:"name,attr"`
	Tests      int            `xml:"tests,attr"`
	Failures   int            `xml:"failures,attr"`
	Errors     int            `xml:"errors,attr"`
	Skipped    int            `xml:"skipped,attr"`
	Time       string         `xml:"time,attr"`
	Timestamp  string         `xml:"timestamp,attr,omitempty"`
	Properties *xmlProperties `xml:"properties,omitempty"`
	Cases      []xmlCase      `xml:"testcase"`
}

type xmlProperties struct {
	Property []xmlProperty `xml:"property"`
}

type xmlProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type xmlCase struct {
	Name      string      `xml:"name,attr"`
	Classname string      `xml:"classname,attr"`
	Time      string      `xml:"time,attr"`
	Failure   *xmlProblem `xml:"failure,omitempty"`
	Error     *xmlProblem `xml:"error,omitempty"`
	Skipped   *xmlSkipped `xml:"skipped,omitempty"`
	SystemOut string      `xml:"system-out,omitempty"`
}

type xmlProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func xmlProblemOf(p *Problem) *xmlProblem {
	if p == nil {
		return nil
	}
	return &xmlProblem{Message: p.Message, Type: p.Type, Text: p.Text}
}

type xmlSkipped struct {
	Message string `xml:"message,attr"`
}
