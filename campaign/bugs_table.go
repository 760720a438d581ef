package campaign

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/sut"
)

// Detected counts the unsafe runs that caught the bug.
func (r BugResult) Detected() int {
	n := 0
	for _, run := range r.Runs {
		if run.Detected() {
			n++
		}
	}
	return n
}

// MedianFirstFlagged is the median time from the main phase's start to the
// first flagged op over the detected runs that name one; ok is false when
// none does.
func (r BugResult) MedianFirstFlagged() (time.Duration, bool) {
	var times []time.Duration
	for _, run := range r.Runs {
		if run.Detected() && run.FirstFlagged != nil {
			times = append(times, *run.FirstFlagged)
		}
	}
	return median(times)
}

// ReportLink is the report of one detected run (the first), or "-".
func (r BugResult) ReportLink() string {
	for _, run := range r.Runs {
		if run.Detected() && run.Dir != "" {
			return run.Dir + "/index.html"
		}
	}
	return "-"
}

// FalseAlarms counts the correct node's runs found invalid.
func (c CorrectResult) FalseAlarms() int {
	n := 0
	for _, run := range c.Runs {
		if run.Verdict == string(checker.Invalid) {
			n++
		}
	}
	return n
}

// Undecided counts the correct node's runs that were neither valid nor
// invalid (unknown, or a harness error): not a pass either.
func (c CorrectResult) Undecided() int {
	n := 0
	for _, run := range c.Runs {
		if run.Verdict != string(checker.Invalid) && run.Verdict != string(checker.Valid) {
			n++
		}
	}
	return n
}

func median(ds []time.Duration) (time.Duration, bool) {
	if len(ds) == 0 {
		return 0, false
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid], true
	}
	return (s[mid-1] + s[mid]) / 2, true
}

// ExitCode is `faultline bugs`'s exit code: 0 only if every bug was caught
// in every one of its runs and the correct node passed every run; a harness
// error in any run (255) or bad options (254) come first, then 1 for a
// missed bug or a false alarm, then 2 when the zoo was interrupted before
// all runs were made.
func (rep BugsReport) ExitCode() int {
	if rep.Err != nil {
		if harness.IsUsage(rep.Err) {
			return harness.ExitBadArgs
		}
		return harness.ExitInternal
	}
	if len(rep.Bugs) == 0 {
		return harness.ExitInternal
	}
	failed := false
	for _, b := range rep.Bugs {
		for _, run := range b.Runs {
			if run.Verdict == "error" {
				return harness.ExitInternal
			}
		}
		if b.Detected() < len(b.Runs) {
			failed = true
		}
	}
	for _, c := range rep.Correct {
		for _, run := range c.Runs {
			if run.Verdict == "error" {
				return harness.ExitInternal
			}
		}
		if c.FalseAlarms()+c.Undecided() > 0 {
			failed = true
		}
	}
	switch {
	case failed:
		return harness.ExitInvalid
	case rep.Interrupted || rep.incomplete():
		return harness.ExitUnknown
	}
	return harness.ExitValid
}

// incomplete reports whether some row has fewer runs than asked for.
func (rep BugsReport) incomplete() bool {
	for _, b := range rep.Bugs {
		if len(b.Runs) < rep.Runs {
			return true
		}
	}
	for _, c := range rep.Correct {
		if len(c.Runs) < rep.Runs {
			return true
		}
	}
	return !rep.SkipCorrect && len(rep.Correct) == 0
}

// PrintBugsTable writes the zoo's tables: one row per bug (detection rate,
// median time to the first flagged op, per-run times, a report), then one
// row per configuration the correct node ran under (false alarms), then the
// reason of every run that went wrong.
func PrintBugsTable(w io.Writer, rep BugsReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUG\tWORKLOAD\tNEMESIS\tNODES\tRUNS\tDETECTED\tMEDIAN FIRST FLAG\tPER RUN\tREPORT")
	for _, b := range rep.Bugs {
		med := "-"
		if d, ok := b.MedianFirstFlagged(); ok {
			med = formatSeconds(d)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d/%d\t%s\t%s\t%s\n", b.Bug.Name, b.Bug.Workload, describeNemesis(b.Bug),
			b.Bug.Nodes, len(b.Runs), b.Detected(), len(b.Runs), med, perRun(b.Runs), b.ReportLink())
	}
	tw.Flush()
	if !rep.SkipCorrect {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CORRECT NODE\tWORKLOAD\tNEMESIS\tNODES\tRUNS\tFALSE ALARMS\tUNDECIDED\tPER RUN\tREPORT")
		for _, c := range rep.Correct {
			link := "-"
			for _, run := range c.Runs {
				if run.Verdict != string(checker.Valid) && run.Dir != "" {
					link = run.Dir + "/index.html"
					break
				}
			}
			fmt.Fprintf(tw, "config of %s\t%s\t%s\t%d\t%d\t%d/%d\t%d/%d\t%s\t%s\n", strings.Join(c.Bugs, ","), c.Bug.Workload,
				describeNemesis(c.Bug), c.Bug.Nodes, len(c.Runs), c.FalseAlarms(), len(c.Runs), c.Undecided(), len(c.Runs), perRun(c.Runs), link)
		}
		tw.Flush()
	}
	var notes []string
	for _, b := range rep.Bugs {
		for _, run := range b.Runs {
			if !run.Detected() {
				notes = append(notes, fmt.Sprintf("missed: %s (seed %d): %s: %s %s", b.Bug.Name, run.Seed, run.Verdict, run.Reason, run.Dir))
			}
		}
		if b.Detected() == 0 && b.Bug.Missing != "" {
			notes = append(notes, fmt.Sprintf("known gap: %s: %s", b.Bug.Name, b.Bug.Missing))
		}
	}
	for _, c := range rep.Correct {
		for _, run := range c.Runs {
			if run.Verdict != string(checker.Valid) {
				kind := "false alarm"
				if run.Verdict != string(checker.Invalid) {
					kind = "undecided"
				}
				notes = append(notes, fmt.Sprintf("%s: correct node, config of %s (seed %d): %s: %s %s", kind, c.Bugs[0], run.Seed, run.Verdict, run.Reason, run.Dir))
			}
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
	if rep.Interrupted {
		fmt.Fprintln(w, "interrupted: not every run was made")
	}
	if rep.Path != "" {
		fmt.Fprintf(w, "bugs report: %s\n", rep.Path)
	}
}

// describeNemesis is the fault list with its interval, e.g. "partition/3s".
func describeNemesis(b sut.Bug) string {
	s := b.Nemesis
	if s == "" {
		s = "none"
	} else {
		s += "/" + b.NemesisInterval.String()
	}
	if len(b.NodeFlags) > 0 {
		s += " " + strings.Join(b.NodeFlags, " ")
	}
	if b.RequestTimeout > 0 {
		s += " (request timeout " + b.RequestTimeout.String() + ")"
	}
	return s
}

// perRun lists each run's time to the first flagged op, or its verdict when
// it has none ("valid", "unknown", "error", "invalid" without a time).
func perRun(runs []BugRun) string {
	parts := make([]string, len(runs))
	for i, r := range runs {
		switch {
		case r.Detected() && r.FirstFlagged != nil:
			parts[i] = formatSeconds(*r.FirstFlagged)
		default:
			parts[i] = r.Verdict
		}
	}
	return strings.Join(parts, " ")
}

// formatBugRun is the one-line log of a finished run.
func formatBugRun(r BugRun) string {
	node := "correct"
	if r.Unsafe {
		node = "unsafe"
	}
	flag := ""
	if r.FirstFlagged != nil {
		flag = fmt.Sprintf(" first flagged %s into the main phase (%s since start)", formatSeconds(*r.FirstFlagged), formatSeconds(*r.FirstFlaggedSinceStart))
	}
	return fmt.Sprintf("bug %s, %s node, seed %d: %s in %s%s: %s %s", r.Bug, node, r.Seed, r.Verdict,
		r.Duration.Truncate(time.Second), flag, r.Reason, r.Dir)
}

// formatSeconds prints tenths of a second, hundredths below one second (a
// stale read is often flagged within milliseconds of the first op).
func formatSeconds(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}
