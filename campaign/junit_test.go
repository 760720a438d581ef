package campaign

import (
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/harness"
)

// parsedJUnit is an independent reading of the file, as a CI dashboard would.
type parsedJUnit struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Props    []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) parsedJUnit {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var p parsedJUnit
	require.NoError(t, xml.Unmarshal(b, &p), "the JUnit file must be well-formed XML")
	require.Len(t, p.Suites, 1)
	return p
}

func suiteRun(name, workload string, seed int64, verdict checker.Verdict, err error, checkers ...checker.Result) SuiteRun {
	s := harness.DefaultSpec()
	s.Name, s.Workload, s.Seed = name, workload, seed
	o := harness.Outcome{Name: name, Dir: filepath.Join("store", name, "20261126T050000"), Ops: 100, OK: 90, Fail: 5, Info: 5,
		ExitCode: harness.ExitCode(verdict)}
	if verdict != "" {
		o.Results = checker.Compose(checkers)
	}
	if err != nil {
		o.ExitCode = harness.ExitInternal
	}
	return SuiteRun{Spec: s, Result: SuiteResult{Outcome: o, Err: err, Duration: 61500 * time.Millisecond}}
}

func TestJUnitRoundTrip(t *testing.T) {
	runs := []SuiteRun{
		suiteRun("register-partition", "register", 1, checker.Valid, nil,
			checker.Result{Checker: "linearizable", Verdict: checker.Valid}),
		suiteRun("register-kill", "register", 2, checker.Invalid, nil,
			checker.Result{Checker: "linearizable", Verdict: checker.Invalid, Reason: "key 7 is not linearizable"},
			checker.Result{Checker: "convergence", Verdict: checker.Invalid, Reason: "digests differ"},
			checker.Result{Checker: "stats", Verdict: checker.Valid}),
		suiteRun("set-pause", "set", 3, checker.Unknown, nil,
			checker.Result{Checker: "set", Verdict: checker.Unknown, Reason: "history limit of 1000000 ops reached"}),
		suiteRun("set-clock", "set", 4, "", errors.New("set up cluster: docker: daemon not reachable")),
		{Spec: harness.DefaultSpec(), NotRun: true},
	}
	path := filepath.Join(t.TempDir(), "reports", "junit.xml")
	require.NoError(t, WriteJUnit(path, runs, JUnitOptions{SuiteName: "faultline explore", Properties: map[string]string{"master_seed": "9"}}))

	p := readJUnit(t, path)
	s := p.Suites[0]
	assert.Equal(t, 5, p.Tests)
	assert.Equal(t, 2, p.Failures, "invalid and unknown are failures")
	assert.Equal(t, 2, p.Errors, "a harness error and a run never started are errors")
	assert.Equal(t, 5, s.Tests)
	assert.Equal(t, 2, s.Failures)
	assert.Equal(t, 2, s.Errors)
	require.Len(t, s.Cases, 5)
	assert.Equal(t, "faultline explore", s.Name)
	require.Len(t, s.Props, 1)
	assert.Equal(t, "9", s.Props[0].Value)

	valid := s.Cases[0]
	assert.Equal(t, "register-partition seed=1", valid.Name)
	assert.Equal(t, "faultline.register", valid.Classname)
	assert.Equal(t, "61.500", valid.Time)
	assert.Nil(t, valid.Failure)
	assert.Nil(t, valid.Error)

	invalid := s.Cases[1]
	require.NotNil(t, invalid.Failure)
	assert.Equal(t, JUnitInvalid, invalid.Failure.Type)
	assert.Contains(t, invalid.Failure.Message, "linearizable, convergence found a violation")
	assert.Contains(t, invalid.Failure.Message, filepath.Join("store", "register-kill", "20261126T050000", "index.html"))

	unknown := s.Cases[2]
	assert.Equal(t, "faultline.set", unknown.Classname)
	require.NotNil(t, unknown.Failure)
	assert.Equal(t, JUnitUnknown, unknown.Failure.Type)
	assert.Contains(t, unknown.Failure.Message, "history limit", "the reason of an unknown verdict is shown")

	require.NotNil(t, s.Cases[3].Error)
	assert.Equal(t, JUnitError, s.Cases[3].Error.Type)
	assert.Contains(t, s.Cases[3].Error.Message, "daemon not reachable")
	require.NotNil(t, s.Cases[4].Error)
	assert.Equal(t, JUnitNotRun, s.Cases[4].Error.Type)
}

func TestJUnitEmptySuiteIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junit.xml")
	require.NoError(t, WriteJUnit(path, nil, JUnitOptions{NoRunReason: "budget spent: 40s left"}))
	p := readJUnit(t, path)
	assert.Equal(t, 1, p.Tests)
	assert.Equal(t, 1, p.Errors, "a suite that ran nothing must not pass")
	assert.Equal(t, 0, p.Failures)
	require.Len(t, p.Suites[0].Cases, 1)
	require.NotNil(t, p.Suites[0].Cases[0].Error)
	assert.Contains(t, p.Suites[0].Cases[0].Error.Message, "no run")
	assert.Contains(t, p.Suites[0].Cases[0].Error.Message, "budget spent: 40s left")
}

func TestPairRunsMarksTheRestNotRun(t *testing.T) {
	specs := []harness.Spec{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	runs := PairRuns(specs, []SuiteResult{{Outcome: harness.Outcome{Name: "a"}}})
	require.Len(t, runs, 3)
	assert.False(t, runs[0].NotRun)
	assert.True(t, runs[1].NotRun)
	assert.True(t, runs[2].NotRun)
}

func TestRunVerdict(t *testing.T) {
	assert.Equal(t, "valid", RunVerdict(SuiteResult{Outcome: harness.Outcome{Results: checker.Results{Verdict: checker.Valid}}}))
	assert.Equal(t, VerdictError, RunVerdict(SuiteResult{Err: errors.New("boom"), Outcome: harness.Outcome{Results: checker.Results{Verdict: checker.Valid}}}))
	assert.Equal(t, "unknown", RunVerdict(SuiteResult{Err: harness.ErrInterrupted, Outcome: harness.Outcome{Results: checker.Results{Verdict: checker.Unknown}}}),
		"an interrupted run keeps its verdict")
	assert.Equal(t, VerdictError, RunVerdict(SuiteResult{Outcome: harness.Outcome{ExitCode: harness.ExitInternal}}))
}
