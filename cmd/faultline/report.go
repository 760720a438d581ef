package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/rundir"
	"github.com/faultline/faultline/workloads"
)

func newReportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "report <run-dir>",
		Short: "Rebuild one run's HTML report from its files",
		Args:  oneArg("run directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			// Reading the run is reading the user's input: a path without a
			// run or a malformed file is a usage error; writing is not.
			if err := harness.RequireRunDir(dir); err != nil {
				return err
			}
			run, err := reports.Load(dir)
			if err != nil {
				return harness.Usagef("%w: fix that file or run the test again", err)
			}
			wl, err := workloads.ByName(run.Test.Workload)
			if err != nil {
				return harness.Usagef("%s: workload %q: %w: fix test.json or run the test again", filepath.Join(dir, rundir.TestFile), run.Test.Workload, err)
			}
			if err := reports.WriteLoaded(run, reports.WriteOptions{Model: wl.Model()}); err != nil {
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
			fmt.Fprintln(os.Stdout, filepath.Join(dir, rundir.ReportFile))
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
			if fi, err := os.Stat(store); err != nil {
				return harness.Usagef("--store %s: %v (run a test first, or point --store at a results directory)", store, err)
			} else if !fi.IsDir() {
				return harness.Usagef("--store %s is a file: point --store at a results directory", store)
			}
			if err := checkListenAddr(addr); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "serving %s on http://%s/ (Ctrl-C to stop)\n", store, addr)
			err := reports.Serve(cmd.Context(), addr, store, nil)
			if errors.Is(err, reports.ErrListen) {
				return &harness.UsageError{Err: err}
			}
			if err != nil {
				return &exitError{code: harness.ExitInternal, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&store, "store", "store", "results directory")
	return cmd
}

// checkListenAddr refuses an --addr that is not host:port with a port number.
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = net.LookupPort("tcp", port)
	}
	if err != nil {
		return harness.Usagef("--addr %q: %v: give host:port, e.g. --addr 127.0.0.1:8080", addr, err)
	}
	return nil
}
