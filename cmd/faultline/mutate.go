package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/mutate"
)

// mutateFlags are faultline mutate's flags.
type mutateFlags struct {
	packages       string
	maxMutants     int
	seed           int64
	seedsPerMutant int
	budget         time.Duration
	workers        int
	workloads      string
	nemesis        string
	explore        bool
	store          string
	minScore       float64
	unitTimeout    time.Duration
	root           string
	list           bool
	mutants        string
	baseline       string
}

// mutateWorkloads are the workloads a sweep may run.
var mutateWorkloads = []string{"register", "set"}

func newMutateCommand() *cobra.Command {
	f := mutateFlags{}
	cmd := &cobra.Command{
		Use:   "mutate",
		Short: "Mutation campaign: make small faults in kvnode's code and count those the harness catches",
		Long: `mutate lists mutants of kvnode's own source (negated conditions, comparison
boundaries, swapped operators, dropped +1/-1, removed calls and assignments, swapped
arguments), picks --max-mutants of them in an order drawn from --seed, and for each
builds faultline with the mutant (go build -overlay: the working tree is never
written), runs the mutated package's unit tests and, beside them, sweeps simulated runs
(faultline sim, seeds 1 to --seeds-per-mutant, at most --budget-per-mutant per
workload, stopping at the first invalid run). Before any mutant, the same sweeps
run against the unmutated node and must all be valid. --mutants runs the listed
mutants instead of a sample (a campaign's survivors, say).

The score is caught / (mutants that build - mutants argued equivalent in
mutate/equivalent.json); the unit tests' kills are reported beside it. Results go
to <store>/mutate-<time>/: mutants.json, summary.json, summary.txt, index.html,
junit.xml and baseline.json. Run it from a faultline checkout (it needs the source and the go command).

--baseline compares the campaign with an earlier one of the same sample mutant by
mutant (every campaign writes its catches to baseline.json): a mutant the baseline
caught that survived every seed here is lost; one whose sweeps ran out of budget
first is undecided, not lost.

Exit 0 if the score is at least --min-score and no baseline catch was lost; 1 if
the score is below, a baseline catch was lost, or the unmutated node's sweep was
not valid; 2 if interrupted; 254 on bad arguments; 255 on an error.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runMutate(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.packages, "packages", "node/raft,node/kv", "comma list of module-relative package directories to mutate")
	fl.IntVar(&f.maxMutants, "max-mutants", 50, "mutants to run (that build); sites are drawn in an order seeded by --seed")
	fl.Int64Var(&f.seed, "seed", 1, "seed of the order mutants are drawn in")
	fl.IntVar(&f.seedsPerMutant, "seeds-per-mutant", 300, "simulation seeds per workload per mutant: 1 to this")
	fl.DurationVar(&f.budget, "budget-per-mutant", time.Minute, "wall-time cap of one workload's sweep of one mutant")
	fl.IntVar(&f.workers, "workers", max(1, runtime.NumCPU()-1), "simulated runs in parallel within a sweep (default: a core each, but for the one the mutant's unit tests run on beside the sweep)")
	fl.StringVar(&f.workloads, "workloads", "register,set", "comma list of workloads each mutant is swept with, in order")
	fl.StringVar(&f.nemesis, "nemesis", "", "fault kinds of the sweeps (faultline sim --nemesis; default: all it has)")
	fl.BoolVar(&f.explore, "explore", true, "let each simulated run draw the store's configuration from its seed (faultline sim --explore); --explore=false sweeps one fixed configuration")
	fl.StringVar(&f.store, "store", "store", "directory the campaign directory is created in")
	fl.Float64Var(&f.minScore, "min-score", 0, "exit 1 if the score (percent) is below this")
	fl.DurationVar(&f.unitTimeout, "unit-timeout", 2*time.Minute, "timeout of one run of a mutated package's unit tests")
	fl.StringVar(&f.root, "root", "", "module root (default: the directory above the working directory that holds faultline's go.mod)")
	fl.BoolVar(&f.list, "list", false, "print the mutants in the order they would run and exit")
	fl.StringVar(&f.baseline, "baseline", "", "the baseline.json of an earlier campaign of the same sample (same --seed and --max-mutants): exit 1 if a mutant it caught ran in full here and survived")
	fl.StringVar(&f.mutants, "mutants", "", "comma list of mutant ids (as --list and mutants.json give them) to run instead of the seeded sample, e.g. to replay a campaign's survivors")
	return cmd
}

func runMutate(cmd *cobra.Command, f mutateFlags) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	var baseline *mutate.Baseline
	if f.baseline != "" {
		b, err := mutate.ReadBaseline(f.baseline)
		if err != nil {
			return harness.Usagef("--baseline: %v", err)
		}
		baseline = &b
	}
	if f.list {
		all, err := mutate.Enumerate(opts.Root, opts.Packages)
		if err != nil {
			return harness.Usagef("--packages: %v", err)
		}
		for _, m := range mutate.Sample(all, 0, opts.Seed) {
			fmt.Fprintf(os.Stdout, "%s %s\n", m.ID, m.Title())
		}
		return nil
	}
	if err := requireWritableDir("--store", f.store); err != nil {
		return err
	}
	opts.Dir = filepath.Join(f.store, "mutate-"+time.Now().UTC().Format("20060102t150405"))
	opts.Progress = os.Stdout
	c, err := mutate.Run(cmd.Context(), opts)
	if errors.Is(err, mutate.ErrUnknownMutant) {
		return harness.Usagef("--mutants: %v", err)
	}
	if err != nil && !errors.Is(err, mutate.ErrFalseAlarm) {
		if cmd.Context().Err() != nil {
			return &exitError{code: harness.ExitUnknown, err: fmt.Errorf("interrupted: %w", err)}
		}
		return &exitError{code: harness.ExitInternal, err: err}
	}
	fmt.Fprintln(os.Stdout)
	mutate.PrintSummary(os.Stdout, c)
	fmt.Fprintf(os.Stdout, "report: %s\njunit: %s\n", filepath.Join(opts.Dir, mutate.ReportFile), filepath.Join(opts.Dir, mutate.JUnitFile))
	var lost []string
	if baseline != nil && err == nil {
		cmp := baseline.Compare(c)
		cmp.Print(os.Stdout, f.baseline)
		lost = cmp.Lost
	}
	switch {
	case err != nil:
		return &exitError{code: harness.ExitInvalid, err: err}
	case c.Summary.Interrupted:
		return &exitError{code: harness.ExitUnknown, err: errors.New("interrupted: the figures cover the mutants that ran")}
	case 100*c.Summary.Score < f.minScore:
		return &exitError{code: harness.ExitInvalid, err: fmt.Errorf("score %.1f %% is below --min-score %.1f %%", 100*c.Summary.Score, f.minScore)}
	case len(lost) > 0:
		return &exitError{code: harness.ExitInvalid, err: fmt.Errorf("%d mutants the baseline %s caught survived every seed here: %s", len(lost), f.baseline, strings.Join(lost, "; "))}
	}
	return nil
}

// options checks the flags and turns them into a campaign's options.
func (f mutateFlags) options() (mutate.Options, error) {
	var opts mutate.Options
	switch {
	case f.maxMutants < 1:
		return opts, harness.Usagef("--max-mutants %d: give at least 1", f.maxMutants)
	case f.seedsPerMutant < 1:
		return opts, harness.Usagef("--seeds-per-mutant %d: give at least 1", f.seedsPerMutant)
	case f.budget <= 0:
		return opts, harness.Usagef("--budget-per-mutant %v: give a positive duration, e.g. 60s", f.budget)
	case f.workers < 1:
		return opts, harness.Usagef("--workers %d: give at least 1", f.workers)
	case f.minScore < 0 || f.minScore > 100:
		return opts, harness.Usagef("--min-score %v: give a percentage between 0 and 100", f.minScore)
	case f.unitTimeout <= 0:
		return opts, harness.Usagef("--unit-timeout %v: give a positive duration", f.unitTimeout)
	}
	root, err := moduleRoot(f.root)
	if err != nil {
		return opts, err
	}
	var pkgs []string
	for _, p := range strings.Split(f.packages, ",") {
		if p = strings.Trim(strings.TrimSpace(p), "/"); p != "" {
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) == 0 {
		return opts, harness.Usagef("--packages is empty: give e.g. node/raft,node/kv")
	}
	for _, p := range pkgs {
		if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil || !fi.IsDir() {
			return opts, harness.Usagef("--packages: %s is not a directory under %s: give module-relative package directories, e.g. node/raft", p, root)
		}
	}
	var sweeps []mutate.Sweep
	for _, w := range strings.Split(f.workloads, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		if !slices.Contains(mutateWorkloads, w) {
			return opts, harness.Usagef("--workloads: unknown workload %q: use %s", w, strings.Join(mutateWorkloads, ","))
		}
		sweeps = append(sweeps, mutate.Sweep{Workload: w, FirstSeed: 1, LastSeed: int64(f.seedsPerMutant),
			Budget: f.budget, Workers: f.workers, Nemesis: f.nemesis, FixedConfig: !f.explore})
	}
	if len(sweeps) == 0 {
		return opts, harness.Usagef("--workloads is empty: give register, set or both")
	}
	eq, err := mutate.Equivalents()
	if err != nil {
		return opts, err
	}
	var only []string
	for _, id := range strings.Split(f.mutants, ",") {
		if id = strings.TrimSpace(id); id != "" {
			only = append(only, id)
		}
	}
	maxMutants := f.maxMutants
	if len(only) > 0 {
		maxMutants = len(only)
	}
	return mutate.Options{
		Root: root, Packages: pkgs, MaxMutants: maxMutants, Seed: f.seed, Only: only, Sweeps: sweeps,
		UnitTimeout: f.unitTimeout, Equivalents: eq, Command: "faultline " + strings.Join(os.Args[1:], " "),
	}, nil
}

// moduleRoot is dir, or the nearest directory at or above the working
// directory whose go.mod declares faultline's module.
func moduleRoot(dir string) (string, error) {
	const module = "module github.com/faultline/faultline"
	isRoot := func(d string) bool {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		return err == nil && strings.HasPrefix(string(b), module+"\n")
	}
	if dir != "" {
		if !isRoot(dir) {
			return "", harness.Usagef("--root %s holds no go.mod of faultline: give the checkout's top directory", dir)
		}
		return filepath.Abs(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if isRoot(d) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", harness.Usagef("no faultline checkout at or above %s: run faultline mutate inside one, or pass --root", wd)
		}
	}
}
