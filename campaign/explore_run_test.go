package campaign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/harness"
)

// fakeExplore runs Explore on a fake clock. Each run "takes" its time limit
// plus runOverhead, leaves a run directory in the store, and ends with the
// verdict verdictOf(index) gives (or the error errOf(index) gives).
type fakeExplore struct {
	t           *testing.T
	now         time.Time
	runOverhead time.Duration
	verdictOf   func(i int) checker.Verdict
	errOf       func(i int) error
	specs       []harness.Spec
	ends        []time.Time
}

func (f *fakeExplore) options(store string, budget time.Duration, seed int64) ExploreOptions {
	base := harness.DefaultSpec()
	base.Store = store
	return ExploreOptions{
		Base: base, MasterSeed: seed, Budget: budget, Now: func() time.Time { return f.now },
		runOne: f.run,
	}
}

func (f *fakeExplore) run(ctx context.Context, spec harness.Spec) []SuiteResult {
	i := len(f.specs)
	f.specs = append(f.specs, spec)
	f.now = f.now.Add(spec.TimeLimit + f.runOverhead)
	f.ends = append(f.ends, f.now)
	if f.errOf != nil {
		if err := f.errOf(i); err != nil {
			return []SuiteResult{{Outcome: harness.Outcome{Name: spec.Name, ExitCode: harness.ExitInternal}, Err: err}}
		}
	}
	v := checker.Valid
	if f.verdictOf != nil {
		v = f.verdictOf(i)
	}
	dir := fakeRun(f.t, spec.Store, spec.Name, f.now, v, 2048)
	res := checker.Compose([]checker.Result{{Checker: "linearizable", Verdict: v, Reason: "scripted"}})
	if v == checker.Unknown {
		res = checker.Results{Verdict: checker.Unknown, Checkers: res.Checkers,
			Reason: "the history is incomplete (history limit of 1000000 ops reached; 17 ops not recorded); what was recorded is consistent"}
	}
	return []SuiteResult{{Outcome: harness.Outcome{Name: spec.Name, Dir: dir, Results: res, ExitCode: harness.ExitCode(v)}}}
}

func readExploreLog(t *testing.T, path string) ExploreLog {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var lg ExploreLog
	require.NoError(t, json.Unmarshal(b, &lg))
	return lg
}

func TestExploreSpendsTheBudgetAndNoMore(t *testing.T) {
	store := t.TempDir()
	f := &fakeExplore{t: t, now: time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC), runOverhead: 30 * time.Second}
	start := f.now
	var out bytes.Buffer
	opts := f.options(store, 20*time.Minute, 77)
	opts.Out = &out
	lg, err := Explore(context.Background(), opts, nil)
	require.NoError(t, err)

	require.NotEmpty(t, lg.Runs)
	assert.Len(t, lg.Runs, len(f.specs))
	assert.Contains(t, lg.Stopped, "budget spent")
	for i, end := range f.ends {
		assert.False(t, end.After(start.Add(20*time.Minute)), "run %d ends at %v, after the budget", i, end.Sub(start))
	}
	// What is left could not have held another run of the minimum length.
	assert.Less(t, start.Add(20*time.Minute).Sub(f.ends[len(f.ends)-1]), DefaultExploreMinTimeLimit+DefaultExploreRunOverhead)

	// The runs are the master seed's configurations, in order.
	master := rand.New(rand.NewSource(77))
	for i, run := range lg.Runs {
		want := DrawConfig(master, DefaultExploreSpace(), i, 0)
		assert.Equal(t, want.Seed, run.Config.Seed)
		assert.Equal(t, want.Workload, run.Config.Workload)
		assert.LessOrEqual(t, run.Config.TimeLimit, want.TimeLimit)
		assert.Equal(t, f.specs[i].Seed, run.Config.Seed)
		assert.Equal(t, f.specs[i].Command(), run.Command)
		assert.Equal(t, "valid", run.Verdict)
		assert.Greater(t, run.DiskBytes, int64(2048), "disk use of the run directory is reported")
		assert.Contains(t, out.String(), run.Command, "every configuration's command is printed")
	}

	stored := readExploreLog(t, lg.Path)
	assert.Equal(t, filepath.Dir(lg.Path), store)
	assert.Len(t, stored.Runs, len(lg.Runs))
	assert.Equal(t, int64(77), stored.MasterSeed)
	assert.Equal(t, lg.Stopped, stored.Stopped)
	assert.Equal(t, harness.ExitValid, SuiteExitCode(lg.Results()))
}

func TestExploreFailFastStopsAtFirstInvalid(t *testing.T) {
	invalidAt2 := func(i int) checker.Verdict {
		if i == 2 {
			return checker.Invalid
		}
		return checker.Valid
	}
	f := &fakeExplore{t: t, now: time.Now(), runOverhead: 10 * time.Second, verdictOf: invalidAt2}
	opts := f.options(t.TempDir(), time.Hour, 3)
	opts.FailFast = true
	lg, err := Explore(context.Background(), opts, nil)
	require.NoError(t, err)
	require.Len(t, lg.Runs, 3)
	assert.Equal(t, "invalid", lg.Runs[2].Verdict)
	assert.Equal(t, []string{"linearizable"}, lg.Runs[2].Checkers)
	assert.Contains(t, lg.Stopped, "fail-fast")
	assert.Equal(t, harness.ExitInvalid, SuiteExitCode(lg.Results()))

	// Without --fail-fast the whole budget is used and all runs are reported.
	g := &fakeExplore{t: t, now: time.Now(), runOverhead: 10 * time.Second, verdictOf: invalidAt2}
	lg, err = Explore(context.Background(), g.options(t.TempDir(), time.Hour, 3), nil)
	require.NoError(t, err)
	assert.Greater(t, len(lg.Runs), 3)
	assert.Contains(t, lg.Stopped, "budget spent")
	assert.Equal(t, harness.ExitInvalid, SuiteExitCode(lg.Results()))
}

func TestExploreReportsTruncatedHistoryReason(t *testing.T) {
	f := &fakeExplore{t: t, now: time.Now(), runOverhead: 10 * time.Second,
		verdictOf: func(int) checker.Verdict { return checker.Unknown }}
	var out bytes.Buffer
	opts := f.options(t.TempDir(), 3*time.Minute, 1)
	opts.Out = &out
	lg, err := Explore(context.Background(), opts, nil)
	require.NoError(t, err)
	require.NotEmpty(t, lg.Runs)
	assert.Equal(t, "unknown", lg.Runs[0].Verdict)
	assert.Contains(t, lg.Runs[0].Reason, "history limit")
	assert.Contains(t, out.String(), "reason: the history is incomplete (history limit")
	var summary bytes.Buffer
	PrintExploreSummary(&summary, lg)
	assert.Contains(t, summary.String(), "history limit")
	assert.Equal(t, harness.ExitUnknown, SuiteExitCode(lg.Results()))
}

func TestExploreStopsAfterRepeatedHarnessErrors(t *testing.T) {
	f := &fakeExplore{t: t, now: time.Now(), errOf: func(int) error { return errors.New("docker: daemon not reachable") }}
	lg, err := Explore(context.Background(), f.options(t.TempDir(), 10*time.Hour, 1), nil)
	require.NoError(t, err)
	assert.Len(t, lg.Runs, DefaultExploreMaxConsecutiveErrors)
	assert.Contains(t, lg.Stopped, "harness errors in a row")
	assert.Contains(t, lg.Stopped, "daemon not reachable")
	assert.Equal(t, harness.ExitInternal, SuiteExitCode(lg.Results()))
}

func TestExploreWithTooSmallBudgetRunsNothing(t *testing.T) {
	f := &fakeExplore{t: t, now: time.Now()}
	lg, err := Explore(context.Background(), f.options(t.TempDir(), time.Minute, 1), nil)
	require.NoError(t, err)
	assert.Empty(t, lg.Runs)
	assert.Contains(t, lg.Stopped, "budget spent")
	assert.Equal(t, harness.ExitInternal, SuiteExitCode(lg.Results()), "an exploration that ran nothing does not pass")

	path := filepath.Join(t.TempDir(), "junit.xml")
	require.NoError(t, WriteJUnit(path, lg.SuiteRuns(), JUnitOptions{}))
	assert.Equal(t, 1, readJUnit(t, path).Errors)
}

func TestExploreKeepLast(t *testing.T) {
	invalidAt1 := func(i int) checker.Verdict {
		if i == 1 {
			return checker.Invalid
		}
		return checker.Valid
	}
	store := t.TempDir()
	f := &fakeExplore{t: t, now: time.Now(), runOverhead: 5 * time.Second, verdictOf: invalidAt1}
	opts := f.options(store, time.Hour, 11)
	opts.KeepLast = 2
	lg, err := Explore(context.Background(), opts, nil)
	require.NoError(t, err)
	require.Greater(t, len(lg.Runs), 4)

	runs, err := ListRuns(store)
	require.NoError(t, err)
	require.Len(t, runs, 3, "the newest 2 and the invalid one")
	last := lg.Runs[len(lg.Runs)-1]
	assert.Equal(t, last.Dir, runs[0].Dir)
	assert.Equal(t, lg.Runs[len(lg.Runs)-2].Dir, runs[1].Dir)
	assert.Equal(t, lg.Runs[1].Dir, runs[2].Dir)
	assert.Equal(t, len(lg.Runs)-3, lg.DeletedRuns)
	for i, r := range lg.Runs {
		assert.Equal(t, !exists(r.Dir), r.Deleted, "run %d is marked deleted exactly when its directory is gone", i)
	}
	assert.FileExists(t, filepath.Join(store, "index.html"), "the store index is rewritten after deleting runs")
}

func TestExploreRejectsBadOptions(t *testing.T) {
	f := &fakeExplore{t: t, now: time.Now()}
	_, err := Explore(context.Background(), f.options(t.TempDir(), 0, 1), nil)
	require.Error(t, err)
	assert.True(t, harness.IsUsage(err))

	opts := f.options(t.TempDir(), time.Hour, 1)
	opts.Space = ExploreSpace{Workloads: []string{"bank"}}
	_, err = Explore(context.Background(), opts, nil)
	require.Error(t, err)
	assert.True(t, harness.IsUsage(err))
	assert.Empty(t, f.specs)
}
