package campaign

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/rundir"
)

// fakeRun writes a run directory as the harness lays it out: test.json with
// the start time, results.json with the verdict (none when verdict is ""),
// and a history file of size bytes.
func fakeRun(t *testing.T, store, test string, start time.Time, verdict checker.Verdict, size int) string {
	t.Helper()
	dir := filepath.Join(store, test, start.UTC().Format(rundir.TimeFormat))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, rundir.NodesDir), 0o755))
	require.NoError(t, rundir.WriteTest(dir, rundir.TestRecord{Name: test, Start: start.UTC(), Workload: "register"}))
	if verdict != "" {
		require.NoError(t, rundir.WriteJSON(filepath.Join(dir, rundir.ResultsFile), checker.Results{Verdict: verdict}))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, rundir.HistoryFile), make([]byte, size), 0o644))
	return dir
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestRetentionKeepsNewestAndInvalid(t *testing.T) {
	store := t.TempDir()
	now := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	at := func(hoursAgo int) time.Time { return now.Add(-time.Duration(hoursAgo) * time.Hour) }

	oldInvalid := fakeRun(t, store, "register-kill", at(100), checker.Invalid, 10)
	oldValid := fakeRun(t, store, "register-kill", at(90), checker.Valid, 1000)
	oldUnknown := fakeRun(t, store, "set-pause", at(80), checker.Unknown, 1000)
	oldNoResults := fakeRun(t, store, "set-pause", at(70), "", 1000) // a harness error long ago
	midInvalid := fakeRun(t, store, "set-clock", at(60), checker.Invalid, 10)
	lonely := fakeRun(t, store, "register-loss", at(50), checker.Valid, 1000)
	newer1 := fakeRun(t, store, "register-kill", at(3), checker.Valid, 10)
	newer2 := fakeRun(t, store, "set-pause", at(2), checker.Unknown, 10)
	newest := fakeRun(t, store, "set-clock", at(1), checker.Valid, 10)
	// Not runs: the latest link, a loose file, a directory without test.json.
	require.NoError(t, os.Symlink(filepath.Join("register-kill", filepath.Base(oldValid)), filepath.Join(store, "latest")))
	require.NoError(t, os.WriteFile(filepath.Join(store, "explore-20261126T040000.json"), []byte("{}"), 0o644))
	notRun := filepath.Join(store, "register-kill", "scratch")
	require.NoError(t, os.MkdirAll(notRun, 0o755))

	runs, err := ListRuns(store)
	require.NoError(t, err)
	require.Len(t, runs, 9, "the symlink, the loose file and the directory without test.json are not runs")
	assert.Equal(t, newest, runs[0].Dir, "newest first")
	assert.Equal(t, oldInvalid, runs[8].Dir)

	res, err := ApplyRetention(store, 3, now)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{oldValid, oldUnknown, oldNoResults, lonely}, res.Deleted)
	assert.Equal(t, 5, res.Kept)
	assert.Equal(t, 2, res.KeptInvalid)
	assert.GreaterOrEqual(t, res.FreedBytes, int64(4000), "freed the deleted runs' histories")
	assert.Less(t, res.FreedBytes, int64(4000+4*1024), "and their small JSON files, nothing else")
	for _, d := range []string{oldInvalid, midInvalid, newer1, newer2, newest, notRun} {
		assert.True(t, exists(d), "kept %s", d)
	}
	for _, d := range res.Deleted {
		assert.False(t, exists(d), "deleted %s", d)
	}
	assert.False(t, exists(filepath.Dir(lonely)), "a test directory left empty is removed")
	assert.True(t, exists(filepath.Join(store, "explore-20261126T040000.json")))

	// Applying it again changes nothing.
	res, err = ApplyRetention(store, 3, now)
	require.NoError(t, err)
	assert.Empty(t, res.Deleted)
}

func TestRetentionNeverDeletesTheNewestOrARunInProgress(t *testing.T) {
	store := t.TempDir()
	now := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	older := fakeRun(t, store, "a", now.Add(-48*time.Hour), checker.Valid, 1)
	running := fakeRun(t, store, "b", now.Add(-10*time.Minute), "", 1) // another process's run
	newest := fakeRun(t, store, "a", now.Add(-time.Minute), checker.Unknown, 1)

	res, err := ApplyRetention(store, 0, now)
	require.NoError(t, err)
	assert.Equal(t, []string{older}, res.Deleted)
	assert.Equal(t, 1, res.KeptInProgress)
	assert.True(t, exists(newest), "keepLast 0 still keeps the newest run")
	assert.True(t, exists(running), "a run without results that started recently may still be going")
}

func TestDiskUsageAndFormat(t *testing.T) {
	dir := fakeRun(t, t.TempDir(), "a", time.Now(), checker.Valid, 5000)
	n, err := DiskUsage(dir)
	require.NoError(t, err)
	assert.Greater(t, n, int64(5000))
	assert.Less(t, n, int64(6000))
	_, err = DiskUsage(filepath.Join(dir, "missing"))
	assert.Error(t, err)

	assert.Equal(t, "812 B", FormatBytes(812))
	assert.Equal(t, "1.5 KiB", FormatBytes(1536))
	assert.Equal(t, "12.0 MiB", FormatBytes(12<<20))
	assert.Equal(t, "2.0 GiB", FormatBytes(2<<30))
}
