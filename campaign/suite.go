package campaign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faultline/faultline/harness"
)

// DefaultSuiteNemeses is the matrix used by `make test-jepsen`: each fault
// alone, then all of them together.
var DefaultSuiteNemeses = []string{"partition", "kill", "pause", "clock", "all"}

// ParseNemesisMatrix splits a suite's nemesis list: entries are separated by
// spaces or semicolons, and commas combine faults within an entry
// ("partition;kill,pause" is two runs: partition, then kill+pause).
func ParseNemesisMatrix(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ' ' || r == '\n' || r == '\t' })
	return f
}

// SuiteResult is one row of the suite summary.
type SuiteResult struct {
	Outcome  harness.Outcome
	Err      error
	Duration time.Duration
}

// RunSuite runs each spec in turn, building each run's environment with
// newEnv. It stops early only when ctx is cancelled.
func RunSuite(ctx context.Context, specs []harness.Spec, newEnv func(harness.Spec) (harness.Env, func(), error)) []SuiteResult {
	var results []SuiteResult
	for _, spec := range specs {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		env, release, err := newEnv(spec)
		if err != nil {
			results = append(results, SuiteResult{Outcome: harness.Outcome{Name: spec.Name, ExitCode: harness.ExitInternal}, Err: err, Duration: time.Since(t0)})
			continue
		}
		out, err := harness.Run(ctx, spec, env)
		if release != nil {
			release()
		}
		if out.Name == "" {
			out.Name = spec.Name
		}
		results = append(results, SuiteResult{Outcome: out, Err: err, Duration: time.Since(t0)})
	}
	return results
}

// SuiteExitCode is the suite's exit code: bad arguments or a harness error
// first, then invalid, then unknown, else valid.
func SuiteExitCode(results []SuiteResult) int {
	if len(results) == 0 {
		return harness.ExitInternal
	}
	worst := harness.ExitValid
	rank := map[int]int{harness.ExitValid: 0, harness.ExitUnknown: 1, harness.ExitInvalid: 2, harness.ExitInternal: 3, harness.ExitBadArgs: 4}
	for _, r := range results {
		code := r.Outcome.ExitCode
		if r.Err != nil && !errors.Is(r.Err, harness.ErrInterrupted) && code == harness.ExitValid {
			code = harness.ExitInternal
		}
		if rank[code] > rank[worst] {
			worst = code
		}
	}
	return worst
}

// PrintSummary writes the suite's table: test, verdict, ops, ok/fail/info,
// duration and report path.
func PrintSummary(w io.Writer, results []SuiteResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TEST\tVERDICT\tOPS\tOK\tFAIL\tINFO\tTIME\tREPORT")
	for _, r := range results {
		o := r.Outcome
		verdict := string(o.Results.Verdict)
		if r.Err != nil && !errors.Is(r.Err, harness.ErrInterrupted) {
			verdict = "error"
		}
		if verdict == "" {
			verdict = "none"
		}
		report := "-"
		if o.Dir != "" {
			report = o.Dir + "/index.html"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%v\t%s\n", o.Name, verdict, o.Ops, o.OK, o.Fail, o.Info,
			r.Duration.Truncate(time.Second), report)
	}
	tw.Flush()
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(w, "%s: %v\n", r.Outcome.Name, r.Err)
		}
	}
}
