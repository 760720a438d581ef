package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/rundir"
)

func newCheckCommand() *cobra.Command {
	var opts harness.CheckOptions
	cmd := &cobra.Command{
		Use:   "check <run-dir | history.edn | history.jsonl>",
		Short: "Check a stored run or a Jepsen history (no Docker needed) and write results.json and the report",
		Long: `check runs every checker of a workload on a stored history and writes results.json and
the HTML report. PATH is one of:

  a run directory (store/latest, or store/<test>/<time>): its test.json names the workload;
    results and report are rewritten there, or in --out DIR (the run's files are copied).
  a Jepsen history (history.edn, or a Jepsen store directory holding one): one collection
    of op maps or one op map per line, with --workload register (:read, :write, :cas) or
    --workload set (:add, :read). jepsen.independent [key value] tuples become keys.
    Nemesis ops with :f :start/:stop, :start-X/:stop-X or :pause/:resume become fault
    windows; other nemesis ops are dropped and counted.
  a faultline history file (.jsonl) without test.json, with --workload.

A history file's results, report and a copy of the history in faultline's format go to
--out DIR, or else to a new directory next to it (history.edn -> history-faultline/); the
input is never changed. A history without replica states skips the convergence checker,
and one without leader sightings the leaders checker: the output says so and the verdict
is judged without them.

It exits with the verdict (0 valid, 1 invalid, 2 unknown). A path that holds no history,
a history file without --workload, or a malformed file exits 254 with the file (and line)
at fault and no verdict; 255 means the results or the report could not be written.`,
		Args: oneArg("run directory or history file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := harness.Check(cmd.Context(), args[0], opts)
			if harness.IsUsage(err) {
				return err
			}
			if err != nil {
				return &exitError{code: harness.ExitInternal, err: err}
			}
			printCheck(os.Stdout, args[0], rep)
			return &exitError{code: harness.ExitCode(rep.Results.Verdict)}
		},
	}
	cmd.Flags().StringVar(&opts.Workload, "workload", "", "workload of a history file: register or set (a run directory's test.json names it)")
	cmd.Flags().StringVar(&opts.Out, "out", "", "directory for results.json and the report (default: the run directory; for a history file, <name>-faultline next to it)")
	cmd.Flags().DurationVar(&opts.CheckTimeout, "check-timeout", 0,
		fmt.Sprintf("linearizability timeout (default: the run's; %v for a history file)", harness.DefaultImportCheckTimeout))
	return cmd
}

// printCheck writes the verdict, each checker's result, the skipped
// checkers, what reading the input changed, and where the report is.
func printCheck(w io.Writer, path string, rep harness.CheckReport) {
	res := rep.Results
	fmt.Fprintf(w, "%s: %s: %s\n", path, res.Verdict, res.Reason)
	for _, c := range res.Checkers {
		fmt.Fprintf(w, "  %-18s %-8s %s\n", c.Checker, c.Verdict, c.Reason)
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "  %s: skipped (%s)\n", s.Checker, s.Reason)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintf(w, "checked %d ops of a %s (%s workload) in %s\n", rep.Ops, rep.Source, rep.Workload, rep.CheckDuration.Round(time.Microsecond))
	fmt.Fprintf(w, "results and report: %s\n", filepath.Join(rep.OutDir, rundir.ReportFile))
}
