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
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
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
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run executes the command line args and returns the exit code; errors are
// reported on stderr (commands write their own output to os.Stdout).
func run(args []string, stderr io.Writer) int {
	ctx, stop := interruptContext()
	defer stop()
	root := newRootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return harness.ExitValid
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "faultline:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "faultline:", err)
	if harness.IsUsage(err) {
		if cmd == nil {
			cmd = root
		}
		if !strings.Contains(err.Error(), "--help") {
			fmt.Fprintf(stderr, "run '%s --help' for usage\n", cmd.CommandPath())
		}
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
	root.AddCommand(newMutateCommand(), newSimCommand())
	root.SetHelpCommand(newHelpCommand())
	root.InitDefaultCompletionCmd()
	rejectUnknownSubcommands(root)
	return root
}

// rejectUnknownSubcommands makes every command that only groups subcommands
// (the root, completion) refuse an unknown subcommand as a usage error. Left
// to cobra, the root fails with an untyped error (exit 255) and the others
// print their help and exit 0. With no argument they still print their help.
func rejectUnknownSubcommands(cmd *cobra.Command) {
	if cmd.HasSubCommands() && !cmd.Runnable() {
		cmd.SuggestionsMinimumDistance = 2
		cmd.Args = knownSubcommand
		cmd.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	}
	for _, sub := range cmd.Commands() {
		rejectUnknownSubcommands(sub)
	}
}

// knownSubcommand is the Args of a command that only groups subcommands:
// cobra hands it the arguments when none names a subcommand.
func knownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	hint := ""
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		hint = fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return harness.Usagef("unknown command %q for %q%s: choose one of %s",
		args[0], cmd.CommandPath(), hint, strings.Join(subcommandNames(cmd), ", "))
}

func subcommandNames(cmd *cobra.Command) []string {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return names
}

// newHelpCommand replaces cobra's help command, which prints "Unknown help
// topic" and exits 0 for a command that does not exist.
func newHelpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return harness.Usagef("no help topic %q: run 'faultline --help' for the list of commands", strings.Join(args, " "))
			}
			return target.Help()
		},
	}
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
