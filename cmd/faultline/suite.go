package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
)

func newSuiteCommand() *cobra.Command {
	var f specFlags
	var workloadList, nemesisList string
	cmd := &cobra.Command{
		Use:   "suite",
		Short: "Run the default matrix: every workload under each fault and all faults combined",
		Long: `Run every workload under each nemesis entry, one fresh cluster per run, and print a
summary table. Entries in --nemeses are separated by spaces or ';'; commas combine
faults within one entry. The exit code is the worst verdict.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.resolve(cmd); err != nil {
				return err
			}
			specs, err := suiteSpecs(f.spec, workloadList, nemesisList)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			image, err := buildImage(ctx)
			if err != nil {
				return &exitError{code: harness.ExitInternal, err: err}
			}
			fmt.Fprintf(os.Stderr, "suite: %d runs of %v each, seed %d\n", len(specs), f.spec.TimeLimit, f.spec.Seed)
			results := harness.RunSuite(ctx, specs, dockerEnv(image, ""))
			fmt.Fprintln(os.Stdout)
			harness.PrintSummary(os.Stdout, results)
			fmt.Fprintf(os.Stdout, "store index: %s/index.html\n", f.spec.Store)
			return &exitError{code: harness.SuiteExitCode(results)}
		},
	}
	bindSpecFlags(cmd, &f)
	cmd.Flags().StringVar(&workloadList, "workloads", strings.Join(workloads.Names(), ","), "comma list of workloads")
	cmd.Flags().StringVar(&nemesisList, "nemeses", strings.Join(harness.DefaultSuiteNemeses, " "), "nemesis entries, separated by spaces or ';' (commas combine)")
	return cmd
}

// suiteSpecs expands the workload × nemesis matrix from a base spec. Every
// run gets the same seed, so any row can be reproduced with its command.
func suiteSpecs(base harness.Spec, workloadList, nemesisList string) ([]harness.Spec, error) {
	var specs []harness.Spec
	entries := harness.ParseNemesisMatrix(nemesisList)
	if len(entries) == 0 {
		return nil, harness.Usagef("--nemeses is empty: give at least one entry, e.g. 'partition kill' or 'none'")
	}
	for _, wl := range strings.Split(workloadList, ",") {
		wl = strings.TrimSpace(wl)
		if wl == "" {
			continue
		}
		for _, entry := range entries {
			faults, err := nemesis.ParseFaults(entry)
			if err != nil {
				return nil, &harness.UsageError{Err: fmt.Errorf("--nemeses entry %q: %w", entry, err)}
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
