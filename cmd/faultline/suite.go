package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/campaign"
	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/workloads"
)

func newSuiteCommand() *cobra.Command {
	var f specFlags
	var workloadList, nemesisList string
	var n nightlyFlags
	cmd := &cobra.Command{
		Use:        "suite",
		SuggestFor: []string{"explore"},
		Short:      "Run the default matrix, or explore random configurations for a time budget",
		Long: `Run every workload under each nemesis entry, one fresh cluster per run, and print a
summary table. Entries in --nemeses are separated by spaces or ';'; commas combine
faults within one entry. The exit code is the worst verdict.

With --explore, draw configurations from the master seed (--seed) until --budget is
spent: workload, nemesis combination, cluster size 3/5/7, election timeout and
heartbeat interval, snapshot and segment thresholds, nemesis interval, time limit and
a per-run seed. --workloads and --nemeses then give the pools drawn from. Each drawn
configuration is printed with the 'faultline test' command that replays it, and all
are stored in <store>/explore-<time>.json.

--junit writes one JUnit test case per run (invalid and unknown are failures, a
harness error is an error; a suite that ran nothing is an error). --keep-last N
deletes the oldest run directories beyond N after each run, keeping invalid ones.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.resolve(cmd); err != nil {
				return err
			}
			if err := n.validate(cmd); err != nil {
				return err
			}
			if n.explore {
				return runExplore(cmd, f.spec, workloadList, nemesisList, n)
			}
			specs, err := suiteSpecs(f.spec, workloadList, nemesisList)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			store, _ := lookupSUT(f.spec.SUT) // checked by resolve
			image, err := buildImage(ctx, store)
			if err != nil {
				writeEmptyJUnit(n.junit, err)
				return &exitError{code: harness.ExitInternal, err: err}
			}
			defer releaseImage(ctx)
			fmt.Fprintf(os.Stderr, "suite: %d runs of %v each, seed %d\n", len(specs), f.spec.TimeLimit, f.spec.Seed)
			results := runSuiteSpecs(ctx, specs, dockerEnv(image, "", store), f.spec.Store, n)
			fmt.Fprintln(os.Stdout)
			campaign.PrintSummary(os.Stdout, results)
			campaign.PrintDiskUse(os.Stdout, results)
			fmt.Fprintf(os.Stdout, "store index: %s/index.html\n", f.spec.Store)
			if n.junit != "" {
				err := campaign.WriteJUnit(n.junit, campaign.PairRuns(specs, results), campaign.JUnitOptions{
					SuiteName:  "faultline suite",
					Properties: map[string]string{"seed": fmt.Sprint(f.spec.Seed)},
				})
				if err != nil {
					return &exitError{code: harness.ExitInternal, err: err}
				}
				fmt.Fprintf(os.Stdout, "junit: %s\n", n.junit)
			}
			return &exitError{code: campaign.SuiteExitCode(results)}
		},
	}
	bindSpecFlags(cmd, &f)
	bindNightlyFlags(cmd, &n)
	cmd.Flags().StringVar(&workloadList, "workloads", strings.Join(workloads.Names(), ","), "comma list of workloads")
	cmd.Flags().StringVar(&nemesisList, "nemeses", strings.Join(campaign.DefaultSuiteNemeses, " "), "nemesis entries, separated by spaces or ';' (commas combine)")
	return cmd
}

// runSuiteSpecs runs the specs one at a time so the store's retention can
// run between them and --fail-fast can stop after an invalid run.
func runSuiteSpecs(ctx context.Context, specs []harness.Spec, newEnv func(harness.Spec) (harness.Env, func(), error),
	store string, n nightlyFlags) []campaign.SuiteResult {
	var results []campaign.SuiteResult
	for _, s := range specs {
		rs := campaign.RunSuite(ctx, []harness.Spec{s}, newEnv)
		if len(rs) == 0 {
			break
		}
		results = append(results, rs...)
		if n.keepLast > 0 {
			campaign.RetainRuns(store, n.keepLast, time.Now(), os.Stderr, slog.Default())
		}
		if n.failFast && campaign.RunVerdict(rs[0]) == string(checker.Invalid) {
			fmt.Fprintf(os.Stderr, "suite: --fail-fast: %s is invalid, skipping the remaining runs\n", s.Name)
			break
		}
	}
	return results
}

// suiteSpecs expands the workload × nemesis matrix from a base spec. Every
// run gets the same seed, so any row can be reproduced with its command.
func suiteSpecs(base harness.Spec, workloadList, nemesisList string) ([]harness.Spec, error) {
	var specs []harness.Spec
	entries := campaign.ParseNemesisMatrix(nemesisList)
	if len(entries) == 0 {
		return nil, harness.Usagef("--nemeses is empty: give at least one entry, e.g. 'partition kill' or 'none'")
	}
	for _, wl := range strings.Split(workloadList, ",") {
		wl = strings.TrimSpace(wl)
		if wl == "" {
			continue
		}
		for _, entry := range entries {
			faults, err := parseFaultsFor(base.SUTName(), entry)
			if err != nil {
				return nil, &harness.UsageError{Err: fmt.Errorf("--nemeses entry %q: %w", entry, err)}
			}
			if store, ok := storesUnderTest[base.SUTName()]; ok {
				if err := store.checkFaults(faults); err != nil {
					return nil, err
				}
			}
			s := base
			s.Workload = wl
			s.Nemesis = faults
			name := entry
			if entry != "all" && entry != "none" {
				name = strings.Join(faults, "+")
			}
			s.Name = wl + "-" + name
			if err := s.Validate(); err != nil {
				return nil, err
			}
			specs = append(specs, s)
		}
	}
	if len(specs) == 0 {
		return nil, harness.Usagef("--workloads is empty: choose from %s", strings.Join(workloads.Names(), ", "))
	}
	return specs, nil
}
