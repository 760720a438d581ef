package wal

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/raft"
)

// fakeClock is advanced by the test, so the once-a-second durable mark is
// deterministic.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func TestUnsafeSkipFsyncLosesUnmarkedWritesOnCrash(t *testing.T) {
	dir := t.TempDir()
	opts := Options{UnsafeSkipFsync: true, SegmentBytes: 1024}
	w, _ := openWAL(t, dir, opts)
	clock := &fakeClock{now: time.Unix(1000, 0)}
	w.now = clock.Now
	w.durableMarkTime = clock.now // Open recorded the (empty) log as durable

	fsyncsBefore := w.Stats().Fsyncs
	appendSync(t, w, &raft.HardState{Term: 1}, makeEntries(1, 10, 1))

	// Within the same second: acknowledged, but not durable.
	clock.now = clock.now.Add(100 * time.Millisecond)
	appendSync(t, w, nil, makeEntries(11, 20, 1))
	assert.Equal(t, fsyncsBefore, w.Stats().Fsyncs, "no fsync at all")

	// A second later the mark moves up to everything written so far.
	clock.now = clock.now.Add(time.Second)
	appendSync(t, w, nil, makeEntries(21, 30, 1))
	assert.Equal(t, fsyncsBefore+1, w.Stats().Fsyncs, "only the durable mark is fsynced")
	marked := makeEntries(1, 30, 1)
	// More acknowledged writes, some across a rollover, none marked.
	for i := uint64(31); i <= 100; i++ {
		appendSync(t, w, nil, makeEntries(i, i, 1))
	}
	require.Greater(t, w.Stats().Segments, 1)
	crash(w)

	w, rec := openWAL(t, dir, opts)
	assert.Equal(t, marked, rec.Entries, "the simulated crash keeps exactly what a real fsync would have kept")
	assert.Len(t, segmentFiles(t, dir), 1)

	// A clean shutdown loses nothing.
	appendSync(t, w, nil, makeEntries(31, 35, 2))
	require.NoError(t, w.Close())
	w, rec = openWAL(t, dir, opts)
	defer w.Close()
	assert.Equal(t, append(makeEntries(1, 30, 1), makeEntries(31, 35, 2)...), rec.Entries)
}

func TestSafeModeIgnoresDurableMark(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{UnsafeSkipFsync: true})
	appendSync(t, w, &raft.HardState{Term: 1}, makeEntries(1, 5, 1))
	crash(w)
	require.FileExists(t, filepath.Join(dir, durableFileName))
	w, rec := openWAL(t, dir, Options{})
	defer w.Close()
	assert.Equal(t, makeEntries(1, 5, 1), rec.Entries)
	assert.NoFileExists(t, filepath.Join(dir, durableFileName), "a safe run removes the stale mark")
}

func TestOpenDirErrors(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o640))
	_, _, err := Open(file, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a directory")

	_, _, err = Open(filepath.Join(base, "missing", "n1"), Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "parent directory does not exist")

	created := filepath.Join(base, "n1")
	w, _, err := Open(created, Options{})
	require.NoError(t, err, "a missing data dir is created")
	require.NoError(t, w.Close())
	assert.DirExists(t, created)

	if os.Geteuid() == 0 {
		t.Log("running as root: permission checks do not apply, skipping the unreadable-dir case")
		return
	}
	locked := filepath.Join(base, "locked")
	require.NoError(t, os.Mkdir(locked, 0o000))
	t.Cleanup(func() { _ = os.Chmod(locked, 0o750) })
	_, _, err = Open(locked, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "permission")
}

func TestStatsReadConcurrently(t *testing.T) {
	w, _ := openWAL(t, t.TempDir(), Options{SegmentBytes: 4096})
	defer w.Close()
	done := make(chan struct{})
	var last Stats
	go func() {
		defer close(done)
		for i := 0; i < 1000; i++ {
			s := w.Stats()
			assert.GreaterOrEqual(t, s.BytesWritten, last.BytesWritten, "counters never go backwards")
			_ = w.LowWaterMark()
			last = s
		}
	}()
	for i := uint64(1); i <= 300; i++ {
		appendSync(t, w, &raft.HardState{Term: 1, Commit: i - 1}, makeEntries(i, i, 1))
		if i%100 == 0 {
			require.NoError(t, w.SaveSnapshot(raft.Snapshot{Index: i, Term: 1}))
		}
	}
	<-done
	assert.Equal(t, uint64(300), w.LowWaterMark())
}

func TestStatsCountGroupCommit(t *testing.T) {
	w, _ := openWAL(t, t.TempDir(), Options{})
	defer w.Close()
	before := w.Stats()
	require.NoError(t, w.Append(&raft.HardState{Term: 1}, makeEntries(1, 64, 1)))
	require.NoError(t, w.Append(nil, makeEntries(65, 128, 1)))
	require.NoError(t, w.Sync())
	after := w.Stats()
	assert.Equal(t, before.Fsyncs+1, after.Fsyncs, "one fsync for two appends")
	assert.Equal(t, uint64(w.activeBytes), after.BytesWritten)
	require.NoError(t, w.Sync())
	assert.Equal(t, after.Fsyncs, w.Stats().Fsyncs, "nothing new, no fsync")
	assert.Equal(t, 1, after.Segments)
}
