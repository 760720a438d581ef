package reports

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/rundir"
)

//go:embed templates
var templateFS embed.FS

var funcs = template.FuncMap{
	"join": strings.Join,
	"inc":  func(i int) int { return i + 1 },
	"dur":  formatDuration,
	"pct":  func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
}

var (
	runTemplate   = template.Must(template.New("run.html").Funcs(funcs).ParseFS(templateFS, "templates/run.html"))
	indexTemplate = template.Must(template.New("index.html").Funcs(funcs).ParseFS(templateFS, "templates/index.html"))
	styleSheet    = template.CSS(mustRead("templates/style.css"))
)

func mustRead(name string) string {
	b, err := templateFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// runPage is everything the run template shows. Strings are plain text; the
// template escapes them.
type runPage struct {
	CSS          template.CSS
	Test         rundir.TestRecord
	RunName      string
	Verdict      string
	Reason       string
	ClientOps    int
	Duration     string
	Findings     []finding
	FaultSummary string
	Options      []Param
	FaultKinds   []faultKind
	Plots        []plotView
	PlotNotes    []string
	Checkers     []checkerView
	NoResults    string
	Counts       CountTable
	Latency      []LatencyRow
	Faults       []faultRow
	Timeline     *timeline
	Files        []fileLink
	Generated    string
}

// finding is one line of "what went wrong".
type finding struct {
	Checker string
	What    string
	Key     string
	KeyLink string
	When    string
	Faults  string
}

type faultKind struct {
	Kind  string
	Color string
}

type plotView struct {
	ID      string
	Title   string
	PNG     string
	SVG     string
	Caption string
}

type checkerView struct {
	Name    string
	Verdict string
	Reason  string
	Lin     *linView
	Set     *checker.SetDetails
	Stats   *CountTable
	Avail   *availView
	Conv    *checker.ConvergenceDetails
	Raw     string
}

type linView struct {
	Model         string
	KeysChecked   int
	OpsChecked    int
	Duration      string
	Keys          []linKey
	Notes         []string
	TimedOut      []string
	TimedOutCount int
	// OverBudget are keys whose search was stopped for memory.
	OverBudget      []string
	OverBudgetCount int
}

type linKey struct {
	Key      string
	Ops      int
	Longest  int
	From, To string
	Faults   string
	Link     string
	LinkName string
	NoLink   string
}

type availView struct {
	Inside, Outside       checker.Fraction
	Faults                int
	FinalHeal             string
	FirstWrite, FirstRead string
}

type faultRow struct {
	Label    string
	Color    string
	Targets  []string
	Start    string
	End      string
	Duration string
	Params   []Param
	Error    string
}

type fileLink struct {
	Name string
	Href string
	Note string
}

// verdictClass maps a verdict to one of the three CSS classes, so a
// malformed results.json can never inject a class name.
func verdictClass(v checker.Verdict) string {
	switch v {
	case checker.Valid, checker.Invalid:
		return string(v)
	}
	return string(checker.Unknown)
}

func hexColor(c color.NRGBA) string {
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
}

// formatDuration renders a latency with a unit that keeps 3 digits.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64) + " µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(float64(d)/1e9, 'f', 2, 64) + " s"
}

// faultsDuring describes the faults whose windows overlap [from, to], e.g.
// "partition halves on n1,n2 (3.000 s to 8.000 s)"; empty when none did.
func faultsDuring(faults []FaultInterval, from, to int64) string {
	var parts []string
	for _, f := range faults {
		if f.Start > to || f.End < from {
			continue
		}
		s := f.Label()
		if len(f.Targets) > 0 {
			s += " on " + strings.Join(f.Targets, ",")
		}
		end := "never healed"
		if f.Healed() {
			end = formatSeconds(f.End)
		}
		parts = append(parts, fmt.Sprintf("%s (%s to %s)", s, formatSeconds(f.Start), end))
	}
	return strings.Join(parts, "; ")
}

// durationOptions are the options test.json stores as nanoseconds (Go's
// time.Duration in JSON); the page shows them as durations.
var durationOptions = map[string]bool{
	"nemesis_interval": true, "time_limit": true, "request_timeout": true,
	"recovery_timeout": true, "check_timeout": true,
}

// lastName is the last dotted part of an option name.
func lastName(name string) string {
	return name[strings.LastIndex(name, ".")+1:]
}

// flattenOptions turns test.json's options into sorted name/value rows,
// nested objects as dotted names and everything else as compact JSON.
func flattenOptions(prefix string, v any, out *[]Param) {
	switch m := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(m) {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			flattenOptions(name, m[k], out)
		}
	case string:
		*out = append(*out, Param{prefix, m})
	case float64:
		if durationOptions[lastName(prefix)] {
			*out = append(*out, Param{prefix, time.Duration(m).String()})
			return
		}
		*out = append(*out, Param{prefix, strconv.FormatFloat(m, 'f', -1, 64)})
	default:
		b, err := json.Marshal(m)
		if err != nil {
			b = []byte(fmt.Sprint(m))
		}
		*out = append(*out, Param{prefix, string(b)})
	}
}

// renderRun writes the run page.
func renderRun(w io.Writer, p *runPage) error {
	p.CSS = styleSheet
	if err := runTemplate.Execute(w, p); err != nil {
		return fmt.Errorf("render run page: %w", err)
	}
	return nil
}

// buildFindings answers "what went wrong, when, under which fault, on which
// key" from the checker results, one line per problem, most specific first.
func buildFindings(run *Run, faults []FaultInterval, visuals map[string]keyVisual) []finding {
	if run.Results == nil {
		return []finding{{Checker: "checker", What: "results.json is missing, so the history was never checked; run `faultline check " + run.Dir + "`.", Faults: ""}}
	}
	const maxPerChecker = 5
	appendTimes := appendTimesByElement(run.History)
	var out []finding
	for _, r := range run.Results.Checkers {
		if r.Verdict == checker.Valid {
			continue
		}
		switch d := typedDetails(r.Details).(type) {
		case *checker.LinearizabilityDetails:
			for i, fk := range d.FailingKeys {
				if i == maxPerChecker {
					out = append(out, finding{Checker: r.Checker, What: fmt.Sprintf("%d more failing keys are listed under Checkers.", d.FailingKeyCount-maxPerChecker)})
					break
				}
				out = append(out, finding{
					Checker: r.Checker,
					What:    fmt.Sprintf("%d operations are not linearizable (the longest linearizable prefix has %d).", fk.Ops, fk.LongestLinearizable),
					Key:     fk.Key,
					KeyLink: visuals[fk.Key].Path,
					When:    formatSeconds(fk.StartTime) + " to " + formatSeconds(fk.EndTime),
					Faults:  faultsDuring(faults, fk.StartTime, fk.EndTime),
				})
			}
			if len(d.FailingKeys) > 0 {
				continue
			}
		case *checker.SetDetails:
			added := false
			for _, el := range []struct {
				name string
				list checker.ElementList
			}{{"acknowledged elements were lost", d.Lost}, {"elements were read that were never added", d.Unexpected}} {
				if el.list.Count == 0 {
					continue
				}
				added = true
				from, to, keys := spanOfElements(appendTimes, el.list.Elements)
				f := finding{Checker: r.Checker, What: fmt.Sprintf("%d %s: %s.", el.list.Count, el.name, elementsText(el.list))}
				if from >= 0 {
					f.When = "appended " + formatSeconds(from) + " to " + formatSeconds(to)
					f.Faults = faultsDuring(faults, from, to)
				}
				if len(keys) == 1 {
					f.Key = keys[0]
				}
				out = append(out, f)
			}
			if added {
				continue
			}
		}
		out = append(out, finding{Checker: r.Checker, What: sentence(r.Reason)})
	}
	return out
}

func sentence(s string) string {
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

func elementsText(l checker.ElementList) string {
	parts := make([]string, 0, len(l.Elements))
	for _, e := range l.Elements {
		parts = append(parts, strconv.FormatInt(e, 10))
	}
	s := strings.Join(parts, ", ")
	if l.Count > len(l.Elements) {
		s += fmt.Sprintf(" and %d more", l.Count-len(l.Elements))
	}
	return s
}

type appendAt struct {
	key  string
	time int64
}

// appendTimesByElement maps each appended element to its key and invoke time.
func appendTimesByElement(h history.History) map[int64]appendAt {
	out := map[int64]appendAt{}
	for _, op := range h {
		if op.Type == history.Invoke && op.F == history.FAppend && op.Value != nil {
			out[*op.Value] = appendAt{key: op.Key, time: op.Time}
		}
	}
	return out
}

// spanOfElements returns when the given elements were appended (-1 when none
// was) and the distinct keys they went to.
func spanOfElements(at map[int64]appendAt, elements []int64) (from, to int64, keys []string) {
	from, to = -1, -1
	seen := map[string]bool{}
	for _, e := range elements {
		a, ok := at[e]
		if !ok {
			continue
		}
		if from < 0 || a.time < from {
			from = a.time
		}
		to = max(to, a.time)
		if !seen[a.key] {
			seen[a.key] = true
			keys = append(keys, a.key)
		}
	}
	sort.Strings(keys)
	return from, to, keys
}

// StyleSheet is the CSS of every faultline page, for other pages (the
// mutation campaign's) to look like a run report.
func StyleSheet() template.CSS { return styleSheet }
