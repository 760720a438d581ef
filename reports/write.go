package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/rundir"
)

// DefaultMaxSVGOps bounds the client ops drawn in the latency SVG: every op
// is one SVG element, so a long run would make a file browsers struggle with.
// The PNG always has every op.
const DefaultMaxSVGOps = 20_000

// WriteOptions tune WriteRun. The zero value is ready to use.
type WriteOptions struct {
	// Model is the porcupine model ("register" or "list") used to visualize
	// failing keys. Empty means the model named in the linearizability
	// result, else "list" for keys that saw appends and "register" otherwise.
	Model string
	// MaxVisualizedKeys bounds the failing keys drawn with porcupine; 0
	// means DefaultMaxVisualizedKeys.
	MaxVisualizedKeys int
	// MaxSVGOps bounds the ops of a run for which the latency plot is also
	// written as SVG; 0 means DefaultMaxSVGOps.
	MaxSVGOps int
	// Logger receives warnings about parts of the report that could not be
	// made; nil means slog.Default().
	Logger *slog.Logger
}

func (o WriteOptions) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

// WriteRun loads the run in dir and writes its report there: index.html,
// plots/*.png (and plots/latency.svg), linear/<key>.html for failing keys and
// summary.json for the store index. Writing the report never changes the
// run's own files.
func WriteRun(dir string, opts WriteOptions) error {
	run, err := Load(dir)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return WriteLoaded(run, opts)
}

// WriteLoaded writes the report of a run already in memory (see WriteRun).
func WriteLoaded(run *Run, opts WriteOptions) error {
	pairs := run.History.ClientPairs()
	faults := FaultIntervals(run.History)
	end := runEnd(run.History)

	plots, notes, err := writePlots(run, pairs, faults, end, opts)
	if err != nil {
		return err
	}
	visuals, err := visualizeFailingKeys(run, opts)
	if err != nil {
		return err
	}
	page := &runPage{
		Test:      run.Test,
		RunName:   filepath.Base(filepath.Clean(run.Dir)),
		Verdict:   verdictClass(run.Verdict()),
		ClientOps: len(pairs),
		Duration:  formatSeconds(end),
		Findings:  buildFindings(run, faults, visuals),
		Plots:     plots,
		PlotNotes: notes,
		Counts:    CountOps(pairs, run.History.FaultWindows()),
		Latency:   LatencyTable(pairs),
		Faults:    faultRows(faults, end),
		Timeline:  buildTimeline(faults, end),
		Files:     runFiles(run),
		Generated: time.Now().UTC().Format("2006-01-02 15:04:05 UTC"),
	}
	page.Reason = "This run was not checked: results.json is missing."
	if run.Results != nil {
		page.Reason = sentence(run.Results.Reason)
		page.Checkers = checkerViews(run.Results.Checkers, faults, visuals, opts)
		for _, sk := range run.Results.Skipped {
			page.Checkers = append(page.Checkers, checkerView{Name: sk.Checker, Verdict: "skipped", Reason: sentence("Not run: " + sk.Reason)})
		}
	} else {
		page.NoResults = "results.json is missing: the run ended before its history was checked. Run `faultline check " + run.Dir + "` to check it."
	}
	page.FaultSummary = fmt.Sprintf("%d faults were injected.", len(faults))
	if page.Verdict == string(checker.Valid) {
		page.Findings = nil
	}
	seenKind := map[string]bool{}
	for _, f := range faults {
		if !seenKind[f.Kind] {
			seenKind[f.Kind] = true
			page.FaultKinds = append(page.FaultKinds, faultKind{Kind: f.Kind, Color: hexColor(FaultColor(f.Kind))})
		}
	}
	var options map[string]any
	if len(run.Test.Options) > 0 && json.Unmarshal(run.Test.Options, &options) == nil {
		flattenOptions("", options, &page.Options)
	}

	var buf bytes.Buffer
	if err := renderRun(&buf, page); err != nil {
		return err
	}
	if err := rundir.WriteFile(filepath.Join(run.Dir, rundir.ReportFile), buf.Bytes()); err != nil {
		return err
	}
	return writeSummary(run, len(pairs))
}

// writePlots draws every figure into dir/plots and describes them for the
// page. A run without client ops still gets its plots (empty, with faults).
func writePlots(run *Run, pairs []history.Pair, faults []FaultInterval, end int64, opts WriteOptions) ([]plotView, []string, error) {
	dir := filepath.Join(run.Dir, rundir.PlotsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("create %s: %w", dir, err)
	}
	endSeconds := float64(end) / 1e9
	var views []plotView
	var notes []string

	lat, err := latencyFigure(pairs, faults, endSeconds)
	if err != nil {
		return nil, nil, err
	}
	if err := lat.save(filepath.Join(dir, "latency.png")); err != nil {
		return nil, nil, err
	}
	v := plotView{ID: "latency", Title: "Latency of every operation", PNG: rundir.PlotsDir + "/latency.png",
		Caption: "Each point is one operation at its invoke time: colour is the result (green ok, red fail, orange info), shape the operation (circle read, triangle write, square cas, plus append). Latency is on a log scale."}
	maxSVG := opts.MaxSVGOps
	if maxSVG <= 0 {
		maxSVG = DefaultMaxSVGOps
	}
	if len(pairs) <= maxSVG {
		if err := lat.save(filepath.Join(dir, "latency.svg")); err != nil {
			return nil, nil, err
		}
		v.SVG = rundir.PlotsDir + "/latency.svg"
	} else {
		notes = append(notes, fmt.Sprintf("The latency plot is PNG only: %d operations exceed the SVG limit of %d.", len(pairs), maxSVG))
		_ = os.Remove(filepath.Join(dir, "latency.svg")) // from an earlier report with a higher limit
	}
	views = append(views, v)

	q, err := quantileFigure(pairs, faults, end)
	if err != nil {
		return nil, nil, err
	}
	if err := q.save(filepath.Join(dir, "latency-quantiles.png")); err != nil {
		return nil, nil, err
	}
	views = append(views, plotView{ID: "quantiles", Title: "Latency quantiles", PNG: rundir.PlotsDir + "/latency-quantiles.png",
		Caption: fmt.Sprintf("p50, p95, p99 and max latency of the operations invoked in each %s window (log scale).", formatSlot(timeSlot(end)))})

	t, err := throughputFigure(pairs, faults, end)
	if err != nil {
		return nil, nil, err
	}
	if err := t.save(filepath.Join(dir, "throughput.png")); err != nil {
		return nil, nil, err
	}
	views = append(views, plotView{ID: "throughput", Title: "Throughput", PNG: rundir.PlotsDir + "/throughput.png",
		Caption: fmt.Sprintf("Completions per second in each %s window, by operation (line style) and result (colour).", formatSlot(timeSlot(end)))})

	if series := ClockOffsets(run.History); series != nil {
		c, err := clockFigure(series, faults, endSeconds)
		if err != nil {
			return nil, nil, err
		}
		if err := c.save(filepath.Join(dir, "clock.png")); err != nil {
			return nil, nil, err
		}
		views = append(views, plotView{ID: "clock", Title: "Clock offsets", PNG: rundir.PlotsDir + "/clock.png",
			Caption: "Each node's clock offset as reported after every clock fault action (a step function; nodes start at 0)."})
	} else {
		// A stale plot from an earlier report of this run would be misleading.
		_ = os.Remove(filepath.Join(dir, "clock.png"))
	}
	return views, notes, nil
}

func checkerViews(results []checker.Result, faults []FaultInterval, visuals map[string]keyVisual, opts WriteOptions) []checkerView {
	var out []checkerView
	for _, r := range results {
		v := checkerView{Name: r.Checker, Verdict: verdictClass(r.Verdict), Reason: sentence(r.Reason)}
		switch d := typedDetails(r.Details).(type) {
		case *checker.LinearizabilityDetails:
			v.Lin = linearView(d, faults, visuals)
		case *checker.SetDetails:
			v.Set = d
		case *checker.StatsDetails:
			t := statsTable(d)
			v.Stats = &t
		case *checker.AvailabilityDetails:
			v.Avail = &availView{Inside: d.InsideFaults, Outside: d.OutsideFaults, Faults: d.Faults,
				FinalHeal: optionalTime(d.FinalHealTime, formatSeconds), FirstWrite: optionalTime(d.FirstOKWriteAfterHealNanos, afterHeal),
				FirstRead: optionalTime(d.FirstOKReadAfterHealNanos, afterHeal)}
		case *checker.ConvergenceDetails:
			v.Conv = d
		case nil:
		default:
			b, err := json.MarshalIndent(d, "", "  ")
			if err != nil {
				b = []byte(fmt.Sprint(d))
			}
			v.Raw = string(b)
		}
		out = append(out, v)
	}
	return out
}

func afterHeal(ns int64) string {
	return formatDuration(time.Duration(ns)) + " after the final heal"
}

func optionalTime(ns *int64, format func(int64) string) string {
	if ns == nil {
		return "never"
	}
	return format(*ns)
}

func linearView(d *checker.LinearizabilityDetails, faults []FaultInterval, visuals map[string]keyVisual) *linView {
	v := &linView{Model: d.Model, KeysChecked: d.KeysChecked, OpsChecked: d.OpsChecked,
		Duration: formatDuration(time.Duration(d.DurationMillis) * time.Millisecond),
		TimedOut: d.TimedOutKeys, TimedOutCount: d.TimedOutKeyCount,
		OverBudget: d.OverBudgetKeys, OverBudgetCount: d.OverBudgetKeyCount}
	drawn := 0
	for _, fk := range d.FailingKeys {
		k := linKey{Key: fk.Key, Ops: fk.Ops, Longest: fk.LongestLinearizable, From: formatSeconds(fk.StartTime),
			To: formatSeconds(fk.EndTime), Faults: faultsDuring(faults, fk.StartTime, fk.EndTime)}
		if vis, ok := visuals[fk.Key]; ok && vis.Path != "" {
			k.Link, k.LinkName = vis.Path, strings.TrimPrefix(vis.Path, rundir.LinearDir+"/")
			drawn++
		} else {
			k.NoLink = vis.Why
		}
		v.Keys = append(v.Keys, k)
	}
	if d.FailingKeyCount > len(d.FailingKeys) {
		v.Notes = append(v.Notes, fmt.Sprintf("%d keys failed; the checker kept details of the first %d, listed here.", d.FailingKeyCount, len(d.FailingKeys)))
	}
	if drawn < len(d.FailingKeys) {
		v.Notes = append(v.Notes, fmt.Sprintf("%d of the %d listed keys have a visualization; see the table for why the others do not.", drawn, len(d.FailingKeys)))
	}
	return v
}

// statsTable shows the stats checker's counts in the same shape as CountOps.
func statsTable(d *checker.StatsDetails) CountTable {
	var t CountTable
	phases := []string{checker.PhaseBefore, checker.PhaseDuring, checker.PhaseAfter}
	for _, ph := range phases {
		t.Phases = append(t.Phases, Phase(ph))
	}
	seen := map[string]bool{}
	for f := range d.Overall {
		seen[f] = true
	}
	var all CountRow
	all.F = "all"
	all.ByPhase = make([]Counts, len(phases))
	for _, f := range sortedFunctions(seen) {
		o := d.Overall[f]
		row := CountRow{F: f, Total: Counts{OK: o.OK, Fail: o.Fail, Info: o.Info}, ByPhase: make([]Counts, len(phases))}
		for i, ph := range phases {
			c := d.ByPhase[ph][f]
			row.ByPhase[i] = Counts{OK: c.OK, Fail: c.Fail, Info: c.Info}
			all.ByPhase[i].OK += c.OK
			all.ByPhase[i].Fail += c.Fail
			all.ByPhase[i].Info += c.Info
		}
		all.Total.OK += o.OK
		all.Total.Fail += o.Fail
		all.Total.Info += o.Info
		t.Rows = append(t.Rows, row)
	}
	if len(t.Rows) > 0 {
		t.Rows = append(t.Rows, all)
	}
	return t
}

func faultRows(faults []FaultInterval, end int64) []faultRow {
	rows := make([]faultRow, 0, len(faults))
	for _, f := range faults {
		r := faultRow{Label: f.Label(), Color: hexColor(FaultColor(f.Kind)), Targets: f.Targets,
			Start: formatSeconds(f.Start), End: formatSeconds(f.End), Params: f.Params, Error: f.Error,
			Duration: formatDuration(time.Duration(f.Duration(end)))}
		if !f.Healed() {
			r.End = "never healed"
			r.Duration = "≥ " + r.Duration
		}
		rows = append(rows, r)
	}
	return rows
}

// runFiles lists the run's own files that exist, for the Files section.
func runFiles(run *Run) []fileLink {
	var out []fileLink
	for _, f := range []struct{ name, note string }{
		{rundir.HistoryFile, "every operation, one JSON object per line"},
		{rundir.ResultsFile, "checker verdicts and details"},
		{rundir.TestFile, "test parameters, seed and command"},
		{rundir.ReplicasFile, "replica states after healing"},
	} {
		if _, err := os.Stat(filepath.Join(run.Dir, f.name)); err == nil {
			out = append(out, fileLink{Name: f.name, Href: f.name, Note: f.note})
		}
	}
	for _, l := range run.NodeLogs {
		out = append(out, fileLink{Name: l, Href: l, Note: "node log"})
	}
	return out
}
