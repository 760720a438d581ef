package harness

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/rundir"
)

// kvnodeUnsafeSwitches builds kvnode and reads the unsafe switches its
// --help lists, so the catalogue is checked against the real binary.
func kvnodeUnsafeSwitches(t *testing.T) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot build kvnode")
	}
	bin := filepath.Join(t.TempDir(), "kvnode")
	build := exec.Command(goBin, "build", "-o", bin, "github.com/faultline/faultline/cmd/kvnode")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	outBytes, err := build.CombinedOutput()
	require.NoError(t, err, "build kvnode: %s", outBytes)
	// kvnode prints its usage and exits non-zero on --help; only the text matters.
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	m := regexp.MustCompile(`(?s)-unsafe string\s+[^\n]*?:\s*([a-z0-9,-]+)`).FindSubmatch(help)
	require.NotNil(t, m, "kvnode --help lists no unsafe switches:\n%s", help)
	return strings.Split(string(m[1]), ",")
}

func TestBugCatalogueCoversEveryUnsafeSwitch(t *testing.T) {
	switches := kvnodeUnsafeSwitches(t)
	require.GreaterOrEqual(t, len(switches), 7, "the issue asks for at least seven switches")
	for _, name := range switches {
		_, ok := BugByName(name)
		assert.True(t, ok, "kvnode switch %q has no bug zoo entry", name)
	}
	for _, b := range Bugs {
		assert.Contains(t, switches, b.Name, "catalogue entry %q is not a kvnode unsafe switch", b.Name)
	}
}

func TestBugCatalogueEntriesRun(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range Bugs {
		t.Run(b.Name, func(t *testing.T) {
			require.NoError(t, b.Validate())
			assert.False(t, seen[b.Name], "listed twice")
			seen[b.Name] = true
			faults, err := b.Faults()
			require.NoError(t, err)
			assert.NotEmpty(t, faults, "every bug needs faults to show")

			unsafe, err := b.Spec(DefaultSpec(), true, 42)
			require.NoError(t, err)
			require.NoError(t, unsafe.Validate())
			assert.Contains(t, unsafe.NodeFlags, "--unsafe="+b.Name)
			assert.Equal(t, b.Workload, unsafe.Workload)
			assert.Equal(t, faults, unsafe.Nemesis)
			assert.Equal(t, int64(42), unsafe.Seed)

			correct, err := b.Spec(DefaultSpec(), false, 42)
			require.NoError(t, err)
			require.NoError(t, correct.Validate())
			for _, f := range correct.NodeFlags {
				assert.NotContains(t, f, "--unsafe", "the correct node must run without unsafe switches")
			}
			assert.Equal(t, b.NodeFlags, correct.NodeFlags)
			assert.NotEqual(t, unsafe.Name, correct.Name)
		})
	}
}

func TestBugValidateRejects(t *testing.T) {
	good := Bugs[0]
	for name, mutate := range map[string]func(b *Bug){
		"unknown workload": func(b *Bug) { b.Workload = "queue" },
		"unknown fault":    func(b *Bug) { b.Nemesis = "partition,meteor" },
		"no nodes":         func(b *Bug) { b.Nodes = 0 },
		"tiny interval":    func(b *Bug) { b.NemesisInterval = time.Millisecond },
		"no reason":        func(b *Bug) { b.Why = "" },
	} {
		b := good
		mutate(&b)
		assert.Error(t, b.Validate(), name)
	}
}

func TestSelectBugs(t *testing.T) {
	all, err := SelectBugs(nil)
	require.NoError(t, err)
	assert.Len(t, all, len(Bugs))

	some, err := SelectBugs([]string{"skip-fsync", " stale-read"})
	require.NoError(t, err)
	require.Len(t, some, 2)
	assert.Equal(t, "stale-read", some[0].Name, "catalogue order, not argument order")
	assert.Equal(t, "skip-fsync", some[1].Name)

	caught, err := SelectBugs([]string{CaughtBugs})
	require.NoError(t, err)
	require.NotEmpty(t, caught)
	for _, b := range caught {
		assert.Empty(t, b.Missing, "%s is selected as caught but says what is missing", b.Name)
	}
	for _, b := range Bugs {
		if b.Missing != "" {
			assert.NotContains(t, caught, b)
		}
	}

	_, err = SelectBugs([]string{"stale-read", "heisenbug"})
	require.Error(t, err)
	assert.True(t, IsUsage(err))
	assert.Contains(t, err.Error(), "heisenbug")
}

func dur(d time.Duration) *time.Duration { return &d }

func detected(at time.Duration) BugRun {
	return BugRun{Verdict: "invalid", FirstFlagged: dur(at), FirstFlaggedSinceStart: dur(at + 10*time.Second), Dir: "store/x"}
}

func TestBugsExitCodeAndTable(t *testing.T) {
	bug := func(name string, runs ...BugRun) BugResult {
		b, _ := BugByName(name)
		return BugResult{Bug: b, Runs: runs}
	}
	correct := func(runs ...BugRun) []CorrectResult {
		b, _ := BugByName("stale-read")
		return []CorrectResult{{Bugs: []string{"stale-read"}, Bug: b, Runs: runs}}
	}
	valid := BugRun{Verdict: "valid"}
	tests := []struct {
		name string
		rep  BugsReport
		want int
		show []string
	}{
		{"every bug caught, no false alarm", BugsReport{Runs: 3, Bugs: []BugResult{
			bug("stale-read", detected(4*time.Second), detected(2*time.Second), detected(9*time.Second))},
			Correct: correct(valid, valid, valid)}, ExitValid,
			[]string{"3/3", "4.0s", "4.0s 2.0s 9.0s", "0/3", "store/x/index.html"}},
		{"one run missed", BugsReport{Runs: 3, Bugs: []BugResult{
			bug("stale-read", detected(4*time.Second), BugRun{Verdict: "valid", Reason: "all passed", Seed: 7}, detected(2*time.Second))},
			Correct: correct(valid, valid, valid)}, ExitInvalid,
			[]string{"2/3", "3.0s", "missed: stale-read (seed 7): valid: all passed"}},
		{"false alarm", BugsReport{Runs: 1, Bugs: []BugResult{bug("stale-read", detected(time.Second))},
			Correct: correct(BugRun{Verdict: "invalid", Reason: "linearizability found a violation", Dir: "store/c"})}, ExitInvalid,
			[]string{"1/1", "false alarm: correct node, config of stale-read", "store/c/index.html"}},
		{"unknown on the correct node is not a pass", BugsReport{Runs: 1, Bugs: []BugResult{bug("stale-read", detected(time.Second))},
			Correct: correct(BugRun{Verdict: "unknown", Reason: "timed out"})}, ExitInvalid, []string{"UNDECIDED", "undecided: correct node, config of stale-read (seed 0): unknown: timed out"}},
		{"harness error", BugsReport{Runs: 1, Bugs: []BugResult{bug("stale-read", BugRun{Verdict: "error", Reason: "docker gone"})},
			Correct: correct(valid)}, ExitInternal, []string{"0/1", "error"}},
		{"invalid without a flagged op still counts", BugsReport{Runs: 1, Bugs: []BugResult{
			bug("skip-fsync", BugRun{Verdict: "invalid"})}, Correct: correct(valid)}, ExitValid,
			[]string{"1/1", "invalid"}},
		{"interrupted before the correct runs", BugsReport{Runs: 2, Interrupted: true,
			Bugs: []BugResult{bug("stale-read", detected(time.Second), detected(time.Second))}}, ExitUnknown,
			[]string{"2/2", "interrupted"}},
		{"skipping the correct node", BugsReport{Runs: 1, SkipCorrect: true,
			Bugs: []BugResult{bug("stale-read", detected(time.Second))}}, ExitValid, []string{"1/1"}},
		{"bad options", BugsReport{Err: Usagef("--bugs: unknown")}, ExitBadArgs, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.rep.ExitCode())
			var buf bytes.Buffer
			PrintBugsTable(&buf, tt.rep)
			for _, s := range tt.show {
				assert.Contains(t, buf.String(), s)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	_, ok := median(nil)
	assert.False(t, ok)
	m, ok := median([]time.Duration{9, 1, 5})
	assert.True(t, ok)
	assert.Equal(t, time.Duration(5), m)
	m, _ = median([]time.Duration{4, 1, 2, 10})
	assert.Equal(t, time.Duration(3), m)
}

// writeHistory writes a history file whose first client invoke is at
// mainStart, after a nemesis op, into a new run directory.
func writeHistory(t *testing.T, mainStart int64) string {
	t.Helper()
	dir := t.TempDir()
	rec, err := history.NewRecorder(filepath.Join(dir, rundir.HistoryFile))
	require.NoError(t, err)
	require.NoError(t, rec.Close())
	h := history.History{
		{Index: 0, Time: mainStart - 5, Type: history.Invoke, Process: history.NemesisProcess, F: history.FStart, Fault: &history.Fault{Kind: "kill"}},
		{Index: 1, Time: mainStart, Type: history.Invoke, Process: 0, F: history.FRead, Key: "r1"},
		{Index: 2, Time: mainStart + 10, Type: history.OK, Process: 0, F: history.FRead, Key: "r1"},
	}
	f, err := os.Create(filepath.Join(dir, rundir.HistoryFile))
	require.NoError(t, err)
	require.NoError(t, history.Write(f, h))
	require.NoError(t, f.Close())
	return dir
}

func TestRunBugsLoop(t *testing.T) {
	mainStart := int64(12 * time.Second)
	flagged := mainStart + int64(3*time.Second)
	dir := writeHistory(t, mainStart)
	var specs []Spec
	opts := BugsOptions{
		Bugs: []string{"stale-read", "forget-vote", "commit-old-generation", "skip-fsync"}, Runs: 2, TimeLimit: 7 * time.Second,
		Base: DefaultSpec(), Seed: 1,
		run: func(_ context.Context, spec Spec) (Outcome, error) {
			specs = append(specs, spec)
			if slices.ContainsFunc(spec.NodeFlags, func(f string) bool { return strings.HasPrefix(f, "--unsafe=") }) {
				return Outcome{Dir: dir, Results: checker.Results{Verdict: checker.Invalid, FirstFlagged: &flagged}}, nil
			}
			return Outcome{Dir: dir, Results: checker.Results{Verdict: checker.Valid}}, nil
		},
	}
	opts.Base.Store = t.TempDir()
	var log bytes.Buffer
	opts.Out = &log
	rep := RunBugs(context.Background(), opts, nil)
	require.NoError(t, rep.Err)

	// Bugs with the same configuration share the correct node's runs.
	configs := map[string]bool{}
	for _, name := range opts.Bugs {
		b, _ := BugByName(name)
		configs[b.configKey()] = true
	}
	require.Len(t, specs, 4*2+len(configs)*2)
	require.Len(t, rep.Bugs, 4)
	require.Len(t, rep.Correct, len(configs))
	for _, s := range specs {
		assert.Equal(t, 7*time.Second, s.TimeLimit)
	}
	assert.NotEqual(t, specs[0].Seed, specs[1].Seed, "each run draws its own seed")

	for _, b := range rep.Bugs {
		assert.Equal(t, 2, b.Detected())
		med, ok := b.MedianFirstFlagged()
		require.True(t, ok)
		assert.Equal(t, 3*time.Second, med, "measured from the first client invoke, not the run start")
		assert.Equal(t, 15*time.Second, *b.Runs[0].FirstFlaggedSinceStart)
	}
	assert.Equal(t, ExitValid, rep.ExitCode())
	assert.Contains(t, log.String(), "bug skip-fsync, unsafe node")
	require.NotEmpty(t, rep.Path)
	assert.FileExists(t, rep.Path)

	again := RunBugs(context.Background(), opts, nil)
	for i := range rep.Bugs {
		assert.Equal(t, rep.Bugs[i].Runs[0].Seed, again.Bugs[i].Runs[0].Seed, "the master seed fixes every run's seed")
	}
}

func TestBugsShareCorrectRuns(t *testing.T) {
	a, _ := BugByName("forget-vote")
	b := a
	b.Name = "other"
	assert.Equal(t, a.configKey(), b.configKey(), "the unsafe switch is not part of the configuration")
	b.NodeFlags = []string{"--read-mode=lease"}
	assert.NotEqual(t, a.configKey(), b.configKey())
}

func TestRunBugsStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	opts := BugsOptions{Bugs: []string{"stale-read", "skip-fsync"}, Runs: 3, Base: DefaultSpec(),
		run: func(context.Context, Spec) (Outcome, error) {
			calls++
			cancel()
			return Outcome{Results: checker.Results{Verdict: checker.Unknown}}, ErrInterrupted
		}}
	opts.Base.Store = ""
	rep := RunBugs(ctx, opts, nil)
	assert.Equal(t, 1, calls)
	assert.True(t, rep.Interrupted)
	require.Len(t, rep.Bugs, 1)
	assert.Empty(t, rep.Bugs[0].Runs, "a cut-short run without a violation is not counted")
	assert.Equal(t, ExitUnknown, rep.ExitCode())
}

func TestRunBugsUnknownBug(t *testing.T) {
	rep := RunBugs(context.Background(), BugsOptions{Bugs: []string{"nope"}}, nil)
	require.Error(t, rep.Err)
	assert.Equal(t, ExitBadArgs, rep.ExitCode())
}
