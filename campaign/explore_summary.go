package campaign

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// PrintExploreSummary writes one row per run (configuration, verdict, time,
// disk use, reason of a non-valid verdict) and what the exploration covered:
// runs per workload, fault, cluster size and verdict.
func PrintExploreSummary(w io.Writer, lg *ExploreLog) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tTEST\tSEED\tNODES\tNODE FLAGS\tLIMIT\tVERDICT\tTIME\tDISK\tREASON")
	var disk int64
	for _, r := range lg.Runs {
		c := r.Config
		reason := "-"
		if r.Verdict != "valid" {
			reason = r.Reason
		}
		disk += r.DiskBytes
		diskUse := FormatBytes(r.DiskBytes)
		if r.Deleted {
			diskUse += " (deleted)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%v\t%s\t%v\t%s\t%s\n", c.Index, r.Name, c.Seed, c.Nodes,
			c.nodeFlags(), c.TimeLimit,
			r.Verdict, (time.Duration(r.DurationMillis) * time.Millisecond).Truncate(time.Second),
			diskUse, reason)
	}
	tw.Flush()
	cov := Coverage(lg.Runs)
	fmt.Fprintf(w, "\n%d runs in %v (budget %v, master seed %d), stopped: %s\n", len(lg.Runs),
		lg.End.Sub(lg.Start).Truncate(time.Second), lg.Budget, lg.MasterSeed, lg.Stopped)
	fmt.Fprintf(w, "verdicts:  %s\n", formatCounts(cov.Verdicts))
	fmt.Fprintf(w, "workloads: %s\n", formatCounts(cov.Workloads))
	fmt.Fprintf(w, "faults:    %s\n", formatCounts(cov.Faults))
	fmt.Fprintf(w, "nodes:     %s\n", formatCounts(cov.Nodes))
	fmt.Fprintf(w, "disk:      %s in this exploration's run directories", FormatBytes(disk))
	if lg.DeletedRuns > 0 {
		fmt.Fprintf(w, "; retention deleted %d old runs (%s)", lg.DeletedRuns, FormatBytes(lg.FreedBytes))
	}
	fmt.Fprintf(w, "\nlog:       %s\n", lg.Path)
	for _, r := range lg.Runs {
		if r.Verdict != "valid" {
			fmt.Fprintf(w, "\nrun %d %s: %s\n  %s\n  reproduce: %s\n", r.Config.Index, r.Verdict, r.Reason, r.Dir, r.Command)
		}
	}
}

// ExploreCoverage counts runs per value of each drawn dimension.
type ExploreCoverage struct {
	Workloads map[string]int
	Faults    map[string]int // a run with two faults counts for both
	Nodes     map[string]int
	Verdicts  map[string]int
}

// Coverage counts what the runs covered.
func Coverage(runs []ExploreRun) ExploreCoverage {
	cov := ExploreCoverage{Workloads: map[string]int{}, Faults: map[string]int{}, Nodes: map[string]int{}, Verdicts: map[string]int{}}
	for _, r := range runs {
		cov.Workloads[r.Config.Workload]++
		cov.Nodes[fmt.Sprint(r.Config.Nodes)]++
		cov.Verdicts[r.Verdict]++
		if len(r.Config.Nemesis) == 0 {
			cov.Faults["none"]++
		}
		for _, f := range r.Config.Nemesis {
			cov.Faults[f]++
		}
	}
	return cov
}

func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// PrintDiskUse writes the disk use of each run directory of a suite.
func PrintDiskUse(w io.Writer, results []SuiteResult) {
	var total int64
	for _, r := range results {
		if r.Outcome.Dir == "" {
			continue
		}
		n, err := DiskUsage(r.Outcome.Dir)
		if err != nil {
			fmt.Fprintf(w, "disk %s: %v\n", r.Outcome.Dir, err)
			continue
		}
		total += n
		fmt.Fprintf(w, "disk %-10s %s\n", FormatBytes(n), r.Outcome.Dir)
	}
	fmt.Fprintf(w, "disk %-10s total\n", FormatBytes(total))
}
