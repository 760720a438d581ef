package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/workloads"
)

func newReportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "report <run-dir>",
		Short: "Rebuild one run's HTML report from its files",
		Args:  oneArg("run directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			rec, err := harness.ReadTestRecord(dir)
			if err != nil {
				return &exitError{code: harness.ExitInternal, err: err}
			}
			wl, err := workloads.ByName(rec.Workload)
			if err != nil {
				return &exitError{code: harness.ExitInternal, err: fmt.Errorf("test.json: %w", err)}
			}
			if err := reports.WriteRun(dir, reports.WriteOptions{Model: wl.Model()}); err != nil {
				return &exitError{code: harness.ExitInternal, err: err}
			}
			// The store is two levels up from the real run directory:
			// store/<test>/<time> (dir may be the store/latest link).
			real, err := filepath.EvalSymlinks(dir)
			if err != nil {
				return &exitError{code: harness.ExitInternal, err: err}
			}
			store := filepath.Dir(filepath.Dir(real))
			if err := reports.WriteIndex(store); err != nil {
				fmt.Fprintln(os.Stderr, "faultline: store index:", err)
			}
			fmt.Fprintln(os.Stdout, filepath.Join(dir, "index.html"))
			return nil
		},
	}
}

func newServeCommand() *cobra.Command {
	var addr, store string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the store's reports over HTTP",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := os.Stat(store); err != nil {
				return harness.Usagef("--store %s: %v (run a test first, or point --store at a results directory)", store, err)
			}
			fmt.Fprintf(os.Stderr, "serving %s on http://%s/ (Ctrl-C to stop)\n", store, addr)
			if err := reports.Serve(cmd.Context(), addr, store, nil); err != nil {
				return &exitError{code: harness.ExitInternal, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&store, "store", "store", "results directory")
	return cmd
}
