package campaign

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/junit"
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
	suite := junit.Suite{Name: cmp.Or(opts.SuiteName, "faultline"), Start: opts.Start, Properties: opts.Properties}
	for _, r := range runs {
		suite.Time += r.Result.Duration
		suite.Cases = append(suite.Cases, junitCaseFor(r))
	}
	if len(suite.Cases) == 0 {
		msg := "the suite executed no run"
		if opts.NoRunReason != "" {
			msg += ": " + opts.NoRunReason
		}
		suite.Cases = append(suite.Cases, junit.Case{
			Name: "no runs", Classname: "faultline.suite",
			Error: &junit.Problem{Type: JUnitError, Message: msg,
				Text: "No test ran: the budget was too small for one run, the suite was interrupted, or the arguments selected nothing. An empty suite is not a pass."},
		})
	}
	b, err := junit.Encode(suite)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write junit %s: %w", path, err)
	}
	return rundir.WriteFile(path, b)
}

func junitCaseFor(r SuiteRun) junit.Case {
	s, o := r.Spec, r.Result.Outcome
	name := s.Name
	if name == "" {
		name = o.Name
	}
	c := junit.Case{
		Name:      fmt.Sprintf("%s seed=%d", name, s.Seed),
		Classname: "faultline." + s.Workload,
		Time:      r.Result.Duration,
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
		c.Error = &junit.Problem{Type: JUnitNotRun, Message: "not run: the suite stopped before this run started (interrupted, or --fail-fast after an invalid run)"}
	case v == VerdictError:
		c.Error = &junit.Problem{Type: JUnitError, Message: fmt.Sprintf("harness error: %v", r.Result.Err), Text: c.SystemOut}
	case v == string(checker.Invalid):
		msg := fmt.Sprintf("invalid: %s found a violation; report %s", strings.Join(CheckersWith(o.Results, checker.Invalid), ", "), report)
		c.Failure = &junit.Problem{Type: JUnitInvalid, Message: msg, Text: o.Results.Reason + "\n\n" + c.SystemOut}
	case v == string(checker.Valid):
	default:
		msg := fmt.Sprintf("unknown: %s; report %s", o.Results.Reason, report)
		if v == VerdictNone {
			msg = "no verdict: " + report
		}
		c.Failure = &junit.Problem{Type: JUnitUnknown, Message: msg, Text: c.SystemOut}
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
