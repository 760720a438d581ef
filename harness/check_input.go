package harness

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/history/jepsen"
	"github.com/faultline/faultline/rundir"
	"github.com/faultline/faultline/workloads"
)

// JepsenHistoryFile is the name Jepsen gives the history in its store
// directory; Check finds it there.
const JepsenHistoryFile = "history.edn"

// checkInput is everything Check read, and what it must write before the
// results.
type checkInput struct {
	source       string
	format       string
	workload     string
	history      history.History
	replicas     []checker.ReplicaState
	hasReplicas  bool
	leaders      []checker.LeaderSighting
	checkTimeout time.Duration
	notes        []string
	outDir       string
	// copyFrom is a run directory whose files are copied to outDir; record
	// is the test.json of a history file. At most one is set.
	copyFrom string
	record   *rundir.TestRecord
}

// DefaultOutDir is where Check writes the results of a history file when
// no --out is given: a directory next to it named after it, history.edn →
// history-faultline.
func DefaultOutDir(path string) string {
	base := filepath.Base(path)
	return filepath.Join(filepath.Dir(path), strings.TrimSuffix(base, filepath.Ext(base))+"-faultline")
}

func readCheckInput(path string, opts CheckOptions) (*checkInput, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &UsageError{Err: fmt.Errorf("%w at %s (it does not exist): pass a run directory such as store/latest, which holds %s and %s, or a history file (a Jepsen %s, or a faultline .jsonl) with --workload",
			ErrNoRun, path, rundir.HistoryFile, rundir.TestFile, JepsenHistoryFile)}
	case err != nil:
		return nil, &UsageError{Err: fmt.Errorf("%w at %s (%s)", ErrNoRun, path, oneLine(err))}
	case !fi.IsDir():
		return readHistoryFile(path, opts)
	}
	if _, err := os.Stat(filepath.Join(path, rundir.TestFile)); err != nil {
		if _, err := os.Stat(filepath.Join(path, JepsenHistoryFile)); err == nil {
			return readHistoryFile(filepath.Join(path, JepsenHistoryFile), opts)
		}
	}
	return readRunDir(path, opts)
}

// readRunDir reads a stored run, as recorded by faultline test.
func readRunDir(dir string, opts CheckOptions) (*checkInput, error) {
	if err := RequireRunDir(dir); err != nil {
		return nil, err
	}
	rec, err := rundir.ReadTest(dir)
	if err != nil {
		return nil, damagedRun(err, fixTestRecord)
	}
	spec, err := recordedSpec(dir, rec)
	if err != nil {
		return nil, damagedRun(err, fixTestRecord)
	}
	testPath := filepath.Join(dir, rundir.TestFile)
	if _, err := workloads.ByName(rec.Workload); err != nil {
		return nil, damagedRun(fmt.Errorf("%s: workload %q: %w", testPath, rec.Workload, err), fixTestRecord)
	}
	if opts.Workload != "" && opts.Workload != rec.Workload {
		return nil, Usagef("--workload %s, but %s says the run's workload is %s: leave --workload out for a run directory", opts.Workload, testPath, rec.Workload)
	}
	in := &checkInput{source: SourceRunDir, format: rundir.FormatFaultline, workload: rec.Workload, checkTimeout: spec.CheckTimeout, outDir: dir}
	if rec.ImportedFrom != nil {
		in.format = rec.ImportedFrom.Format
		in.notes = rec.ImportedFrom.Notes
	}
	historyPath := filepath.Join(dir, rundir.HistoryFile)
	if in.history, err = history.ReadFile(historyPath); err != nil {
		return nil, damagedRun(err, fixHistory)
	}
	if err := in.history.Validate(); err != nil {
		return nil, damagedRun(fmt.Errorf("%s: %w: %v", historyPath, history.ErrMalformed, err), fixHistoryOps)
	}
	if in.hasReplicas, err = readOptionalJSON(dir, rundir.ReplicasFile, &in.replicas); err != nil {
		return nil, damagedRun(err, fixOptional)
	}
	if found, err := readOptionalJSON(dir, rundir.LeadersFile, &in.leaders); err != nil {
		return nil, damagedRun(err, fixOptional)
	} else if found && in.leaders == nil {
		in.leaders = []checker.LeaderSighting{} // collected, none seen
	}
	if opts.Out != "" && !samePath(opts.Out, dir) {
		if err := requireOutDir(opts.Out, "--out"); err != nil {
			return nil, err
		}
		in.outDir, in.copyFrom = opts.Out, dir
	}
	return in, nil
}

// What to do about a history file that cannot be read.
const (
	fixJepsenHistory = "fix the file there, or leave out what faultline does not read (faultline check --help lists what it reads)"
	fixJSONLHistory  = "fix or delete that line"
	fixJSONLOps      = "fix those ops"
)

// readHistoryFile reads a history without test.json: a Jepsen history.edn
// or a faultline history.jsonl.
func readHistoryFile(path string, opts CheckOptions) (*checkInput, error) {
	format, err := sniffFormat(path)
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("%w at %s (%s)", ErrNoRun, path, oneLine(err))}
	}
	if opts.Workload == "" {
		return nil, Usagef("%s is a history file with no %s beside it to name its workload: pass --workload %s",
			path, rundir.TestFile, strings.Join(workloads.Names(), " or --workload "))
	}
	if _, err := workloads.ByName(opts.Workload); err != nil {
		return nil, Usagef("--workload %q: choose one of %s", opts.Workload, strings.Join(workloads.Names(), ", "))
	}
	in := &checkInput{workload: opts.Workload, format: format}
	in.outDir = opts.Out
	if in.outDir == "" {
		in.outDir = DefaultOutDir(path)
		if err := requireDefaultOutDir(in.outDir); err != nil {
			return nil, err
		}
	} else if err := requireOutDir(in.outDir, "--out"); err != nil {
		return nil, err
	}
	for _, name := range []string{rundir.TestFile, rundir.HistoryFile, rundir.ResultsFile, rundir.ReportFile, rundir.SummaryFile} {
		if samePath(filepath.Join(in.outDir, name), path) {
			return nil, Usagef("--out %s would overwrite the input %s: choose another directory", in.outDir, path)
		}
	}
	switch format {
	case rundir.FormatJepsen:
		in.source = SourceJepsenHistory
		imp, err := jepsen.ReadFile(path, opts.Workload)
		if err != nil {
			return nil, damagedRun(err, fixJepsenHistory)
		}
		in.history, in.notes = imp.History, imp.Notes
	default:
		in.source = SourceJSONLHistory
		if in.history, err = history.ReadFile(path); err != nil {
			return nil, damagedRun(err, fixJSONLHistory)
		}
		if err := in.history.Validate(); err != nil {
			return nil, damagedRun(fmt.Errorf("%s: %w: %v", path, history.ErrMalformed, err), fixJSONLOps)
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	// The SUT says the store is not known: the history was recorded
	// elsewhere.
	in.record = &rundir.TestRecord{
		Name:         "check-" + filepath.Base(in.outDir),
		SUT:          "unknown (" + format + " history)",
		Command:      fmt.Sprintf("faultline check %s --workload %s --out %s", path, opts.Workload, in.outDir),
		Start:        time.Now().UTC(),
		Workload:     opts.Workload,
		Nemesis:      faultKinds(in.history),
		Versions:     Versions(),
		ImportedFrom: &rundir.ImportSource{Path: abs, Format: format, Notes: in.notes},
	}
	return in, nil
}

// sniffFormat tells a faultline JSONL history (its first line is the
// faultline-history header) from a Jepsen EDN history.
func sniffFormat(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadSlice('\n')
	if err != nil && len(line) == 0 {
		if strings.HasSuffix(path, ".jsonl") {
			return rundir.FormatJSONL, nil // empty: history.ReadFile says so
		}
		return rundir.FormatJepsen, nil
	}
	var hd history.Header
	if json.Unmarshal(line, &hd) == nil && hd.Format == history.Format || strings.HasSuffix(path, ".jsonl") {
		return rundir.FormatJSONL, nil
	}
	return rundir.FormatJepsen, nil
}

// requireOutDir refuses an output path that is a file.
func requireOutDir(dir, flag string) error {
	fi, err := os.Stat(dir)
	if err == nil && !fi.IsDir() {
		return Usagef("%s %s is a file: give a directory for results.json and the report", flag, dir)
	}
	return nil
}

// requireDefaultOutDir refuses to write into an existing directory next to
// the input unless an earlier check of a history file wrote it.
func requireDefaultOutDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(entries) == 0 {
		return nil
	}
	if err != nil {
		return Usagef("%s (where the results would go) is not a directory we can use: %s; pass --out DIR", dir, oneLine(err))
	}
	rec, err := rundir.ReadTest(dir)
	if err != nil || rec.ImportedFrom == nil {
		return Usagef("%s (where the results would go) already exists and is not the output of an earlier faultline check: pass --out DIR to write them elsewhere", dir)
	}
	return nil
}

func samePath(a, b string) bool {
	aa, errA := filepath.Abs(a)
	bb, errB := filepath.Abs(b)
	return errA == nil && errB == nil && aa == bb
}

// faultKinds lists the fault kinds of h's nemesis ops, sorted.
func faultKinds(h history.History) []string {
	kinds := []string{}
	for _, w := range h.FaultWindows() {
		if !slices.Contains(kinds, w.Kind) {
			kinds = append(kinds, w.Kind)
		}
	}
	slices.Sort(kinds)
	return kinds
}

// writeInputs puts the history (and what describes it) into the output
// directory, so that the report and later checks can read it there. A run
// directory checked in place needs nothing.
func (in *checkInput) writeInputs() error {
	if in.copyFrom == "" && in.record == nil {
		return nil
	}
	if err := os.MkdirAll(in.outDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", in.outDir, err)
	}
	if in.record != nil {
		if err := rundir.WriteTest(in.outDir, *in.record); err != nil {
			return err
		}
		return writeHistoryFile(filepath.Join(in.outDir, rundir.HistoryFile), in.history)
	}
	for _, name := range []string{rundir.TestFile, rundir.HistoryFile, rundir.ReplicasFile, rundir.LeadersFile} {
		b, err := os.ReadFile(filepath.Join(in.copyFrom, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(in.outDir, name), b, 0o644); err != nil {
			return fmt.Errorf("copy %s to %s: %w", name, in.outDir, err)
		}
	}
	return nil
}

func writeHistoryFile(path string, h history.History) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	if err := history.Write(f, h); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
