package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/harness"
)

func newCheckCommand() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check <run-dir>",
		Short: "Re-run all checkers on a stored history (no Docker needed) and rewrite results.json",
		Long: `check re-runs every checker of the run's workload on the history stored in a run
directory (store/latest, or store/<test>/<time>) and rewrites results.json and the report.
It exits with the verdict (0 valid, 1 invalid, 2 unknown). A path that holds no run, or a
malformed test.json or history.jsonl, exits 254 with the file (and line) at fault and no
verdict; 255 means the results or the report could not be written.`,
		Args: oneArg("run directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := harness.CheckDir(cmd.Context(), args[0], timeout)
			if harness.IsUsage(err) {
				return err
			}
			if err != nil {
				return &exitError{code: harness.ExitInternal, err: err}
			}
			fmt.Fprintf(os.Stdout, "%s: %s: %s\n", args[0], res.Verdict, res.Reason)
			for _, c := range res.Checkers {
				fmt.Fprintf(os.Stdout, "  %-18s %-8s %s\n", c.Checker, c.Verdict, c.Reason)
			}
			return &exitError{code: harness.ExitCode(res.Verdict)}
		},
	}
	cmd.Flags().DurationVar(&timeout, "check-timeout", 0, "linearizability timeout (default: the run's)")
	return cmd
}
