package campaign

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/rundir"
	"github.com/faultline/faultline/sut"
)

// testCatalogue is a small zoo of a store with an unsafe switch per entry:
// two entries share a configuration, one says what the harness misses.
var testCatalogue = Catalogue{
	{Name: "stale-read", Workload: "register", Nemesis: "partition", NemesisInterval: 3 * time.Second, Nodes: 3,
		UnsafeFlags: []string{"--unsafe=stale-read"}, Why: "a cut-off node answers reads"},
	{Name: "lost-ack", Workload: "set", Nemesis: "kill", NemesisInterval: 3 * time.Second, Nodes: 3, OpsPerKey: 100,
		UnsafeFlags: []string{"--unsafe=lost-ack"}, Why: "a killed node forgets acknowledged appends"},
	{Name: "skip-fsync", Workload: "set", Nemesis: "kill", NemesisInterval: 3 * time.Second, Nodes: 3, OpsPerKey: 100,
		UnsafeFlags: []string{"--unsafe=skip-fsync"}, Why: "a kill drops the unsynced tail of the log"},
	{Name: "lease-drift", Workload: "register", Nemesis: "clock", NemesisInterval: time.Second, Nodes: 5,
		NodeFlags: []string{"--read-mode=lease"}, UnsafeFlags: []string{"--unsafe=lease-drift"}, RequestTimeout: 500 * time.Millisecond,
		Why: "a lease on a skewed clock outlives the leadership", Missing: "no clock fault strong enough yet"},
}

func TestBugSpec(t *testing.T) {
	for _, b := range testCatalogue {
		t.Run(b.Name, func(t *testing.T) {
			require.NoError(t, ValidateBug(b))
			faults, err := BugFaults(b)
			require.NoError(t, err)

			base := harness.DefaultSpec()
			base.NodeFlags = []string{"--log-level=debug"}
			unsafe, err := BugSpec(b, base, true, 42)
			require.NoError(t, err)
			require.NoError(t, unsafe.Validate())
			assert.Equal(t, append(append([]string{"--log-level=debug"}, b.NodeFlags...), b.UnsafeFlags...), unsafe.NodeFlags,
				"the base flags, the entry's, then the switch")
			assert.Equal(t, b.Workload, unsafe.Workload)
			assert.Equal(t, faults, unsafe.Nemesis)
			assert.Equal(t, b.Nodes, unsafe.Nodes)
			assert.Equal(t, int64(42), unsafe.Seed)
			assert.Equal(t, "bug-"+b.Name, unsafe.Name)

			correct, err := BugSpec(b, base, false, 42)
			require.NoError(t, err)
			require.NoError(t, correct.Validate())
			assert.Equal(t, append([]string{"--log-level=debug"}, b.NodeFlags...), correct.NodeFlags, "the correct node runs without the switch")
			assert.Equal(t, "correct-"+b.Name, correct.Name)
			if b.RequestTimeout > 0 {
				assert.Equal(t, b.RequestTimeout, correct.RequestTimeout)
			}
			assert.Equal(t, []string{"--log-level=debug"}, base.NodeFlags, "the base spec is not modified")
		})
	}
}

func TestBugValidateRejects(t *testing.T) {
	good := testCatalogue[0]
	for name, mutate := range map[string]func(b *sut.Bug){
		"unknown workload": func(b *sut.Bug) { b.Workload = "queue" },
		"unknown fault":    func(b *sut.Bug) { b.Nemesis = "partition,meteor" },
		"no nodes":         func(b *sut.Bug) { b.Nodes = 0 },
		"tiny interval":    func(b *sut.Bug) { b.NemesisInterval = time.Millisecond },
		"no reason":        func(b *sut.Bug) { b.Why = "" },
		"no switch":        func(b *sut.Bug) { b.UnsafeFlags = nil },
	} {
		b := good
		mutate(&b)
		assert.Error(t, ValidateBug(b), name)
	}
}

func TestSelectBugs(t *testing.T) {
	all, err := testCatalogue.Select(nil)
	require.NoError(t, err)
	assert.Equal(t, []sut.Bug(testCatalogue), all)

	some, err := testCatalogue.Select([]string{"skip-fsync", " stale-read"})
	require.NoError(t, err)
	require.Len(t, some, 2)
	assert.Equal(t, "stale-read", some[0].Name, "catalogue order, not argument order")
	assert.Equal(t, "skip-fsync", some[1].Name)

	caught, err := testCatalogue.Select([]string{CaughtBugs})
	require.NoError(t, err)
	assert.Equal(t, []string{"stale-read", "lost-ack", "skip-fsync"}, Catalogue(caught).Names(), "all but the entry with a known gap")

	_, err = testCatalogue.Select([]string{"stale-read", "heisenbug"})
	require.Error(t, err)
	assert.True(t, harness.IsUsage(err))
	assert.Contains(t, err.Error(), "heisenbug")

	_, err = Catalogue(nil).Select(nil)
	require.Error(t, err, "a store without a zoo has nothing to run")
	assert.True(t, harness.IsUsage(err))
}

func dur(d time.Duration) *time.Duration { return &d }

func detected(at time.Duration) BugRun {
	return BugRun{Verdict: "invalid", FirstFlagged: dur(at), FirstFlaggedSinceStart: dur(at + 10*time.Second), Dir: "store/x"}
}

func TestBugsExitCodeAndTable(t *testing.T) {
	bug := func(name string, runs ...BugRun) BugResult {
		b, _ := testCatalogue.ByName(name)
		return BugResult{Bug: b, Runs: runs}
	}
	correct := func(runs ...BugRun) []CorrectResult {
		b, _ := testCatalogue.ByName("stale-read")
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
			Correct: correct(valid, valid, valid)}, harness.ExitValid,
			[]string{"3/3", "4.0s", "4.0s 2.0s 9.0s", "0/3", "store/x/index.html"}},
		{"one run missed", BugsReport{Runs: 3, Bugs: []BugResult{
			bug("stale-read", detected(4*time.Second), BugRun{Verdict: "valid", Reason: "all passed", Seed: 7}, detected(2*time.Second))},
			Correct: correct(valid, valid, valid)}, harness.ExitInvalid,
			[]string{"2/3", "3.0s", "missed: stale-read (seed 7): valid: all passed"}},
		{"false alarm", BugsReport{Runs: 1, Bugs: []BugResult{bug("stale-read", detected(time.Second))},
			Correct: correct(BugRun{Verdict: "invalid", Reason: "linearizability found a violation", Dir: "store/c"})}, harness.ExitInvalid,
			[]string{"1/1", "false alarm: correct node, config of stale-read", "store/c/index.html"}},
		{"unknown on the correct node is not a pass", BugsReport{Runs: 1, Bugs: []BugResult{bug("stale-read", detected(time.Second))},
			Correct: correct(BugRun{Verdict: "unknown", Reason: "timed out"})}, harness.ExitInvalid, []string{"UNDECIDED", "undecided: correct node, config of stale-read (seed 0): unknown: timed out"}},
		{"harness error", BugsReport{Runs: 1, Bugs: []BugResult{bug("stale-read", BugRun{Verdict: "error", Reason: "docker gone"})},
			Correct: correct(valid)}, harness.ExitInternal, []string{"0/1", "error"}},
		{"invalid without a flagged op still counts", BugsReport{Runs: 1, Bugs: []BugResult{
			bug("skip-fsync", BugRun{Verdict: "invalid"})}, Correct: correct(valid)}, harness.ExitValid,
			[]string{"1/1", "invalid"}},
		{"interrupted before the correct runs", BugsReport{Runs: 2, Interrupted: true,
			Bugs: []BugResult{bug("stale-read", detected(time.Second), detected(time.Second))}}, harness.ExitUnknown,
			[]string{"2/2", "interrupted"}},
		{"skipping the correct node", BugsReport{Runs: 1, SkipCorrect: true,
			Bugs: []BugResult{bug("stale-read", detected(time.Second))}}, harness.ExitValid, []string{"1/1"}},
		{"bad options", BugsReport{Err: harness.Usagef("--bugs: unknown")}, harness.ExitBadArgs, nil},
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
	var specs []harness.Spec
	opts := BugsOptions{
		Catalogue: testCatalogue,
		Bugs:      []string{"stale-read", "lost-ack", "skip-fsync", "lease-drift"}, Runs: 2, TimeLimit: 7 * time.Second,
		Base: harness.DefaultSpec(), Seed: 1,
		run: func(_ context.Context, spec harness.Spec) (harness.Outcome, error) {
			specs = append(specs, spec)
			if slices.ContainsFunc(spec.NodeFlags, func(f string) bool { return strings.HasPrefix(f, "--unsafe=") }) {
				return harness.Outcome{Dir: dir, Results: checker.Results{Verdict: checker.Invalid, FirstFlagged: &flagged}}, nil
			}
			return harness.Outcome{Dir: dir, Results: checker.Results{Verdict: checker.Valid}}, nil
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
		b, _ := testCatalogue.ByName(name)
		configs[bugConfigKey(b)] = true
	}
	require.Len(t, configs, 3, "lost-ack and skip-fsync share a configuration")
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
	assert.Equal(t, harness.ExitValid, rep.ExitCode())
	assert.Contains(t, log.String(), "bug skip-fsync, unsafe node")
	assert.Equal(t, []string{"lost-ack", "skip-fsync"}, rep.Correct[1].Bugs)
	require.NotEmpty(t, rep.Path)
	assert.FileExists(t, rep.Path)

	again := RunBugs(context.Background(), opts, nil)
	for i := range rep.Bugs {
		assert.Equal(t, rep.Bugs[i].Runs[0].Seed, again.Bugs[i].Runs[0].Seed, "the master seed fixes every run's seed")
	}
}

func TestBugsShareCorrectRuns(t *testing.T) {
	a, _ := testCatalogue.ByName("lost-ack")
	b := a
	b.Name = "other"
	b.UnsafeFlags = []string{"--unsafe=other"}
	assert.Equal(t, bugConfigKey(a), bugConfigKey(b), "the unsafe switch is not part of the configuration")
	b.NodeFlags = []string{"--read-mode=lease"}
	assert.NotEqual(t, bugConfigKey(a), bugConfigKey(b))
}

func TestRunBugsStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	opts := BugsOptions{Catalogue: testCatalogue, Bugs: []string{"stale-read", "skip-fsync"}, Runs: 3, Base: harness.DefaultSpec(),
		run: func(context.Context, harness.Spec) (harness.Outcome, error) {
			calls++
			cancel()
			return harness.Outcome{Results: checker.Results{Verdict: checker.Unknown}}, harness.ErrInterrupted
		}}
	opts.Base.Store = ""
	rep := RunBugs(ctx, opts, nil)
	assert.Equal(t, 1, calls)
	assert.True(t, rep.Interrupted)
	require.Len(t, rep.Bugs, 1)
	assert.Empty(t, rep.Bugs[0].Runs, "a cut-short run without a violation is not counted")
	assert.Equal(t, harness.ExitUnknown, rep.ExitCode())
}

func TestRunBugsUnknownBug(t *testing.T) {
	rep := RunBugs(context.Background(), BugsOptions{Catalogue: testCatalogue, Bugs: []string{"nope"}}, nil)
	require.Error(t, rep.Err)
	assert.Equal(t, harness.ExitBadArgs, rep.ExitCode())
}
