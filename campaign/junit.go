package campaign

import (
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/rundir"
)

// SuiteRun pairs a run's spec with its result, for the JUnit file and the
// explore log. A zero Result with NotRun set is a spec the suite never got to.
type SuiteRun struct {
	Spec   harness.Spec
	Result SuiteResult
	// NotRun is set for a spec the suite never started (it was interrupted or
	// stopped by --fail-fast).
	NotRun bool
}

// PairRuns zips specs with RunSuite's results; specs past the last result
// (the suite was interrupted or stopped early) are marked NotRun.
func PairRuns(specs []harness.Spec, results []SuiteResult) []SuiteRun {
	runs := make([]SuiteRun, 0, len(specs))
	for i, s := range specs {
		r := SuiteRun{Spec: s}
		if i < len(results) {
			r.Result = results[i]
		} else {
			r.NotRun = true
		}
		runs = append(runs, r)
	}
	return runs
}

// JUnit failure types of a test case.
const (
	JUnitInvalid = "invalid"
	JUnitUnknown = "unknown"
	JUnitError   = "harness-error"
	JUnitNotRun  = "not-run"
)

// JUnit XML, in the shape Jenkins, GitLab and the GitHub report actions read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Timestamp  string           `xml:"timestamp,attr,omitempty"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []junitCase      `xml:"testcase"`
}

type junitProperties struct {
	Property []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnitOptions names the suite and adds properties (e.g. the master seed).
type JUnitOptions struct {
	SuiteName  string
	Properties map[string]string
	Start      time.Time
	// NoRunReason explains a suite that executed no run (e.g. the image
	// build failed, or the budget was too small).
	NoRunReason string
}

// WriteJUnit writes one test case per run to path: valid passes; invalid is
// a <failure type="invalid"> naming the checkers that found the violation and
// the report; unknown is a <failure type="unknown"> with the reason, because
// a nightly that could not decide has not passed; a harness error (or a run
// the suite never started) is an <error>. A suite with no run at all is
// written as one <error> case, never as an empty, passing file.
func WriteJUnit(path string, runs []SuiteRun, opts JUnitOptions) error {
	suite := junitSuite{Name: opts.SuiteName}
	if suite.Name == "" {
		suite.Name = "faultline"
	}
	if !opts.Start.IsZero() {
		suite.Timestamp = opts.Start.UTC().Format("2006-01-02T15:04:05")
	}
	if len(opts.Properties) > 0 {
		suite.Properties = &junitProperties{}
		for _, k := range slices.Sorted(maps.Keys(opts.Properties)) {
			suite.Properties.Property = append(suite.Properties.Property, junitProperty{Name: k, Value: opts.Properties[k]})
		}
	}
	var total time.Duration
	for _, r := range runs {
		c := junitCaseFor(r)
		total += r.Result.Duration
		suite.Cases = append(suite.Cases, c)
	}
	if len(suite.Cases) == 0 {
		msg := "the suite executed no run"
		if opts.NoRunReason != "" {
			msg += ": " + opts.NoRunReason
		}
		suite.Cases = append(suite.Cases, junitCase{
			Name: "no runs", Classname: "faultline.suite", Time: "0.000",
			Error: &junitProblem{Type: JUnitError, Message: msg,
				Text: "No test ran: the budget was too small for one run, the suite was interrupted, or the arguments selected nothing. An empty suite is not a pass."},
		})
	}
	for _, c := range suite.Cases {
		suite.Tests++
		if c.Failure != nil {
			suite.Failures++
		}
		if c.Error != nil {
			suite.Errors++
		}
	}
	suite.Time = seconds(total)
	doc := junitSuites{Name: suite.Name, Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Time: suite.Time, Suites: []junitSuite{suite}}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode junit: %w", err)
	}
	b = append([]byte(xml.Header), append(b, '\n')...)
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write junit %s: %w", path, err)
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write junit %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write junit %s: %w", path, err)
	}
	return nil
}

func junitCaseFor(r SuiteRun) junitCase {
	s, o := r.Spec, r.Result.Outcome
	name := s.Name
	if name == "" {
		name = o.Name
	}
	c := junitCase{
		Name:      fmt.Sprintf("%s seed=%d", name, s.Seed),
		Classname: "faultline." + s.Workload,
		Time:      seconds(r.Result.Duration),
	}
	report := "(no report)"
	if o.Dir != "" {
		report = filepath.Join(o.Dir, rundir.ReportFile)
	}
	var out strings.Builder
	fmt.Fprintf(&out, "reproduce: %s\nreport: %s\n", s.Command(), report)
	if o.Ops > 0 {
		fmt.Fprintf(&out, "ops: %d (ok %d, fail %d, info %d)\n", o.Ops, o.OK, o.Fail, o.Info)
	}
	for _, cr := range o.Results.Checkers {
		fmt.Fprintf(&out, "checker %s: %s: %s\n", cr.Checker, cr.Verdict, cr.Reason)
	}
	c.SystemOut = out.String()

	switch v := RunVerdict(r.Result); {
	case r.NotRun:
		c.Error = &junitProblem{Type: JUnitNotRun, Message: "not run: the suite stopped before this run started (interrupted, or --fail-fast after an invalid run)"}
	case v == VerdictError:
		c.Error = &junitProblem{Type: JUnitError, Message: fmt.Sprintf("harness error: %v", r.Result.Err), Text: c.SystemOut}
	case v == string(checker.Invalid):
		msg := fmt.Sprintf("invalid: %s found a violation; report %s", strings.Join(CheckersWith(o.Results, checker.Invalid), ", "), report)
		c.Failure = &junitProblem{Type: JUnitInvalid, Message: msg, Text: o.Results.Reason + "\n\n" + c.SystemOut}
	case v == string(checker.Valid):
	default:
		msg := fmt.Sprintf("unknown: %s; report %s", o.Results.Reason, report)
		if v == VerdictNone {
			msg = "no verdict: " + report
		}
		c.Failure = &junitProblem{Type: JUnitUnknown, Message: msg, Text: c.SystemOut}
	}
	return c
}

// Verdicts of RunVerdict besides the checker verdicts.
const (
	// VerdictError is a run the harness could not complete.
	VerdictError = "error"
	// VerdictNone is a run that ended without a verdict and without an error.
	VerdictNone = "none"
)

// RunVerdict is a run's verdict as the suite reports it: the checkers'
// verdict, or "error" for a harness error (an interrupted run keeps its
// verdict, which is unknown unless a violation was found).
func RunVerdict(r SuiteResult) string {
	if r.Err != nil && !errors.Is(r.Err, harness.ErrInterrupted) {
		return VerdictError
	}
	if r.Outcome.Results.Verdict == "" {
		if r.Outcome.ExitCode == harness.ExitInternal || r.Outcome.ExitCode == harness.ExitBadArgs {
			return VerdictError
		}
		return VerdictNone
	}
	return string(r.Outcome.Results.Verdict)
}

// CheckersWith names the checkers whose verdict is v.
func CheckersWith(res checker.Results, v checker.Verdict) []string {
	var names []string
	for _, c := range res.Checkers {
		if c.Verdict == v {
			names = append(names, c.Checker)
		}
	}
	if len(names) == 0 {
		names = append(names, "the checkers")
	}
	return names
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
