package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/campaign"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/sut/kvnode"
)

func newBugsCommand() *cobra.Command {
	// The bug zoo is kvnode's unsafe switches.
	store := storesUnderTest[kvnode.Name]
	opts := campaign.BugsOptions{Catalogue: store.bugs, Runs: campaign.DefaultBugRuns, TimeLimit: campaign.DefaultBugTimeLimit}
	base := bugsBaseSpec()
	var bugList string
	var list bool
	cmd := &cobra.Command{
		Use:   "bugs",
		Short: "Run kvnode's unsafe switches (the bug zoo) and the correct node under the faults that expose them",
		Long: `bugs runs every catalogued unsafe kvnode switch --runs times for --time-limit each,
under the workload and faults that should expose it, then the correct kvnode under the
same configurations. It prints, per bug, how many runs caught it and the median time
from the start of the main phase to the first operation the checkers flagged.

Exit 0 only if every bug was detected in every run and the correct node passed every
run; 1 if a bug was missed or the correct node failed; 2 if interrupted; 255 on a
harness error.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if list {
				printBugCatalogue(store.bugs)
				return nil
			}
			if bugList != "" {
				opts.Bugs = strings.Split(bugList, ",")
			}
			if _, err := opts.Catalogue.Select(opts.Bugs); err != nil {
				return err
			}
			if opts.Runs < 1 || opts.Runs > 100 {
				return harness.Usagef("--runs %d: choose between 1 and 100", opts.Runs)
			}
			if !cmd.Flags().Changed("seed") {
				opts.Seed = randomSeed()
			}
			base.TimeLimit = opts.TimeLimit
			if err := base.Validate(); err != nil {
				return err
			}
			if err := requireWritableDir("--store", base.Store); err != nil {
				return err
			}
			base.Name = ""
			opts.Base, opts.Out, opts.Logger = base, os.Stdout, slog.Default()
			opts.Base.SUT, opts.Base.SUTVersion = store.name, store.version()
			ctx := cmd.Context()
			image, err := buildImage(ctx, store)
			if err != nil {
				return &exitError{code: harness.ExitInternal, err: err}
			}
			defer releaseImage(ctx)
			fmt.Fprintf(os.Stdout, "bug zoo: %d runs per bug, %v each, master seed %d\n", opts.Runs, opts.TimeLimit, opts.Seed)
			rep := campaign.RunBugs(ctx, opts, dockerEnv(image, "", store))
			if rep.Err != nil {
				return rep.Err
			}
			fmt.Fprintln(os.Stdout)
			campaign.PrintBugsTable(os.Stdout, rep)
			return &exitError{code: rep.ExitCode()}
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&bugList, "bugs", "", "comma list of bugs to run (default all): "+strings.Join(store.bugs.Names(), ",")+", or "+campaign.CaughtBugs+" (those the catalogue claims to catch)")
	fl.IntVar(&opts.Runs, "runs", opts.Runs, "runs per bug, and of the correct node per configuration")
	fl.DurationVar(&opts.TimeLimit, "time-limit", opts.TimeLimit, "length of each run's main phase")
	fl.StringVar(&base.Store, "store", base.Store, "directory for run results")
	fl.IntVar(&base.Concurrency, "concurrency", base.Concurrency, "number of concurrent logical clients")
	fl.DurationVar(&base.CheckTimeout, "check-timeout", base.CheckTimeout, "linearizability check timeout per run (past it the verdict is unknown)")
	fl.Int64Var(&opts.Seed, "seed", 0, "master seed the runs' seeds are drawn from (default: random, printed)")
	fl.BoolVar(&opts.SkipCorrect, "skip-correct", false, "do not run the correct node (false alarms are then not checked)")
	fl.BoolVar(&list, "list", false, "print the catalogue (bug, workload, nemesis, why) and exit")
	return cmd
}

// bugsBaseSpec is what `faultline bugs` gives every run before its flags and
// the catalogue entry change it.
func bugsBaseSpec() harness.Spec {
	base := harness.DefaultSpec()
	// Runs that catch a bug, and kill runs, leave histories with many
	// indeterminate ops; give porcupine more time than a plain test so the
	// correct node's verdict is decided rather than unknown.
	base.CheckTimeout = 2 * time.Minute
	return base
}

func printBugCatalogue(bugs campaign.Catalogue) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUG\tWORKLOAD\tNEMESIS\tINTERVAL\tNODES\tNODE FLAGS\tWHY")
	for _, b := range bugs {
		flags := strings.Join(b.NodeFlags, " ")
		if flags == "" {
			flags = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%d\t%s\t%s\n", b.Name, b.Workload, b.Nemesis, b.NemesisInterval, b.Nodes, flags, b.Why)
	}
	tw.Flush()
}
