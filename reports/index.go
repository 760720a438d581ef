package reports

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/rundir"
)

// RunSummary is summary.json: what the store index shows about a run, so
// that regenerating the index does not parse every history.
type RunSummary struct {
	Name string `json:"name"`
	// SUT is the store under test with its version.
	SUT      string          `json:"sut,omitempty"`
	Start    time.Time       `json:"start"`
	Workload string          `json:"workload"`
	Nemesis  []string        `json:"nemesis"`
	Verdict  checker.Verdict `json:"verdict"`
	Reason   string          `json:"reason"`
	// Ops counts client operations (invokes); OK, Fail and Info their
	// outcomes (an op that never completed is Info).
	Ops  int `json:"ops"`
	OK   int `json:"ok"`
	Fail int `json:"fail"`
	Info int `json:"info"`
}

func writeSummary(run *Run, ops int) error {
	s := RunSummary{Name: run.Test.Name, SUT: run.Test.StoreUnderTest(), Start: run.Test.Start, Workload: run.Test.Workload,
		Nemesis: run.Test.Nemesis, Verdict: run.Verdict(), Ops: ops}
	if run.Results != nil {
		s.Reason = run.Results.Reason
	}
	for _, p := range run.History.ClientPairs() {
		switch p.Outcome() {
		case history.OK:
			s.OK++
		case history.Fail:
			s.Fail++
		default:
			s.Info++
		}
	}
	return rundir.WriteJSON(filepath.Join(run.Dir, rundir.SummaryFile), s)
}

// ReadSummary returns what the index shows about the run in dir: summary.json
// when it is newer than the run's results and history, else a summary made
// from test.json, results.json and a count of the history's invoke lines.
func ReadSummary(dir string) (RunSummary, error) {
	if s, ok := freshSummary(dir); ok {
		return s, nil
	}
	var s RunSummary
	spec, err := rundir.ReadTest(dir)
	if err != nil {
		return s, err
	}
	s.Name, s.SUT, s.Start, s.Workload, s.Nemesis = spec.Name, spec.StoreUnderTest(), spec.Start, spec.Workload, spec.Nemesis
	var res struct {
		Verdict checker.Verdict `json:"verdict"`
		Reason  string          `json:"reason"`
	}
	switch err := rundir.ReadJSON(filepath.Join(dir, rundir.ResultsFile), &res); {
	case err == nil:
		s.Verdict, s.Reason = res.Verdict, res.Reason
	case errors.Is(err, fs.ErrNotExist):
		s.Verdict, s.Reason = checker.Unknown, "not checked (no results.json)"
	default:
		return s, err
	}
	ops, err := countInvokes(filepath.Join(dir, rundir.HistoryFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	s.Ops = ops
	return s, nil
}

func freshSummary(dir string) (RunSummary, bool) {
	var s RunSummary
	st, err := os.Stat(filepath.Join(dir, rundir.SummaryFile))
	if err != nil {
		return s, false
	}
	for _, f := range []string{rundir.ResultsFile, rundir.HistoryFile, rundir.TestFile} {
		if other, err := os.Stat(filepath.Join(dir, f)); err == nil && other.ModTime().After(st.ModTime()) {
			return s, false
		}
	}
	if rundir.ReadJSON(filepath.Join(dir, rundir.SummaryFile), &s) != nil {
		return s, false
	}
	return s, true
}

// countInvokes counts client invokes in a history file without decoding it:
// the recorder writes `"type":"invoke"` and the nemesis process as
// `"process":"nemesis"` on every line.
func countInvokes(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("count ops: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	invoke, nemesis := []byte(`"type":"invoke"`), []byte(`"process":"nemesis"`)
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.Contains(line, invoke) && !bytes.Contains(line, nemesis) {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("count ops in %s: %w", path, err)
	}
	return n, nil
}

type indexPage struct {
	CSS       template.CSS
	Store     string
	Counts    string
	Runs      []indexRow
	Generated string
}

type indexRow struct {
	Time     string
	Test     string
	Run      string
	Verdict  string
	Ops      int
	SUT      string
	Workload string
	Nemesis  string
	Reason   string
	Link     string
	sortTime time.Time
}

// WriteIndex writes storeDir/index.html listing every run directory
// (storeDir/<test>/<time>/ holding a test.json), newest first. A run whose
// files cannot be read is listed with the error instead of failing the index.
// Symbolic links (store/latest) are skipped so no run is listed twice.
func WriteIndex(storeDir string) error {
	dirs, err := rundir.List(storeDir)
	if err != nil {
		return fmt.Errorf("write store index: %w", err)
	}
	var rows []indexRow
	for _, dir := range dirs {
		rows = append(rows, indexRowFor(dir, filepath.Base(filepath.Dir(dir)), filepath.Base(dir)))
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if !rows[i].sortTime.Equal(rows[j].sortTime) {
			return rows[i].sortTime.After(rows[j].sortTime)
		}
		return rows[i].Link > rows[j].Link
	})
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Verdict]++
	}
	page := indexPage{CSS: styleSheet, Store: storeDir, Runs: rows, Generated: time.Now().UTC().Format("2006-01-02 15:04:05 UTC")}
	if len(rows) > 0 {
		page.Counts = fmt.Sprintf("%d valid, %d invalid, %d unknown.", counts["valid"], counts["invalid"], counts["unknown"])
	}
	var buf bytes.Buffer
	if err := indexTemplate.Execute(&buf, page); err != nil {
		return fmt.Errorf("render store index: %w", err)
	}
	return rundir.WriteFile(filepath.Join(storeDir, rundir.ReportFile), buf.Bytes())
}

func indexRowFor(dir, test, run string) indexRow {
	row := indexRow{Test: test, Run: run, Link: path.Join(test, run) + "/"}
	if _, err := os.Stat(filepath.Join(dir, rundir.ReportFile)); err == nil {
		row.Link = path.Join(test, run, rundir.ReportFile)
	}
	if t, ok := rundir.StartFromName(run); ok {
		row.sortTime = t
	}
	s, err := ReadSummary(dir)
	if err != nil {
		row.Verdict = verdictClass(checker.Unknown)
		row.Reason = "cannot read this run: " + err.Error()
		row.Time = row.sortTime.Format("2006-01-02 15:04:05")
		return row
	}
	if !s.Start.IsZero() {
		row.sortTime = s.Start
	}
	if s.Name != "" {
		row.Test = s.Name
	}
	row.Time = row.sortTime.UTC().Format("2006-01-02 15:04:05")
	row.Verdict = verdictClass(s.Verdict)
	row.Ops = s.Ops
	row.Workload = s.Workload
	row.SUT = s.SUT
	row.Nemesis = strings.Join(s.Nemesis, ",")
	if row.Nemesis == "" {
		row.Nemesis = "none"
	}
	row.Reason = s.Reason
	return row
}
