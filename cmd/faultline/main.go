// Command faultline runs Jepsen-style correctness tests against a replicated
// store running in real Docker containers, checks the recorded history for
// linearizability and writes an HTML report.
//
// Exit codes: 0 valid, 1 invalid, 2 unknown, 254 bad arguments, 255 internal
// error.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/harness"
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := interruptContext()
	defer stop()
	root := newRootCommand()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return harness.ExitValid
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "faultline:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "faultline:", err)
	if harness.IsUsage(err) {
		fmt.Fprintln(os.Stderr, "run 'faultline --help' for usage")
		return harness.ExitBadArgs
	}
	return harness.ExitInternal
}

// interruptContext is cancelled on the first SIGINT/SIGTERM, so the run heals
// its faults and removes its containers. A second signal exits at once.
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "\nfaultline: interrupted: healing faults and removing containers (interrupt again to quit now)")
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "faultline: quitting now; run 'faultline cleanup' to remove leftover containers")
		os.Exit(harness.ExitInternal)
	}()
	return ctx, func() { signal.Stop(sigs); cancel() }
}

func newRootCommand() *cobra.Command {
	var logLevel string
	root := &cobra.Command{
		Use:           "faultline",
		Short:         "Correctness tests for replicated stores: faults, histories, linearizability, reports",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return harness.Usagef("--log-level %q: use debug, info, warn or error", logLevel)
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
			return nil
		},
	}
	root.PersistentFlags().StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &harness.UsageError{Err: err}
	})
	root.AddCommand(newTestCommand(), newSuiteCommand(), newCheckCommand(), newReportCommand(),
		newServeCommand(), newCleanupCommand(), newImageCommand(), newBugsCommand())
	return root
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return harness.Usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// oneArg requires exactly one positional argument, named what.
func oneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return harness.Usagef("%s needs exactly one %s", cmd.CommandPath(), what)
		}
		return nil
	}
}
