package wal

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/raft"
)

// makeEntries returns entries from..to (inclusive) of one term, each with
// data that names its index and term.
func makeEntries(from, to, term uint64) []raft.Entry {
	var out []raft.Entry
	for i := from; i <= to; i++ {
		out = append(out, raft.Entry{Term: term, Index: i, Data: []byte(fmt.Sprintf("cmd-%d-%d", i, term))})
	}
	return out
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func openWAL(t *testing.T, dir string, opts Options) (*WAL, Recovered) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	w, rec, err := Open(dir, opts)
	require.NoError(t, err)
	return w, rec
}

// crash abandons w the way SIGKILL would: buffered bytes are lost, written
// bytes stay in the file.
func crash(w *WAL) {
	_ = w.file.Close()
	w.closeDurableFile()
}

func appendSync(t *testing.T, w *WAL, hs *raft.HardState, entries []raft.Entry) {
	t.Helper()
	require.NoError(t, w.Append(hs, entries))
	require.NoError(t, w.Sync())
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	require.NoError(t, err)
	return matches
}

func TestAppendSyncReopenRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w, rec := openWAL(t, dir, Options{})
	assert.Equal(t, Recovered{}, rec)

	hs := raft.HardState{Term: 2, Vote: "n1", Commit: 40}
	want := makeEntries(1, 100, 2)
	want[7].Type = raft.EntryNoop
	want[7].Data = nil
	appendSync(t, w, &hs, want[:50])
	appendSync(t, w, nil, want[50:])
	require.NoError(t, w.Close())

	w, rec = openWAL(t, dir, Options{})
	defer w.Close()
	assert.Equal(t, hs, rec.HardState)
	assert.Nil(t, rec.Snapshot)
	assert.Equal(t, want, rec.Entries)

	// Appending continues where the log ended, and survives a crash once synced.
	appendSync(t, w, nil, makeEntries(101, 101, 3))
	require.NoError(t, w.Append(nil, makeEntries(102, 102, 3))) // never synced
	crash(w)
	w, rec = openWAL(t, dir, Options{})
	defer w.Close()
	require.Len(t, rec.Entries, 101)
	assert.Equal(t, uint64(101), rec.Entries[100].Index)
}

func TestSuffixReplacementSurvivesReopen(t *testing.T) {
	for _, segmentBytes := range []int64{0, 256} {
		t.Run(fmt.Sprintf("segmentBytes=%d", segmentBytes), func(t *testing.T) {
			dir := t.TempDir()
			w, _ := openWAL(t, dir, Options{SegmentBytes: segmentBytes})
			appendSync(t, w, &raft.HardState{Term: 1}, makeEntries(1, 10, 1))
			appendSync(t, w, &raft.HardState{Term: 2}, makeEntries(5, 7, 2))
			// A later leader replaces again, further back, then extends.
			appendSync(t, w, &raft.HardState{Term: 3}, makeEntries(3, 4, 3))
			appendSync(t, w, nil, makeEntries(5, 6, 3))
			require.NoError(t, w.Close())

			w, rec := openWAL(t, dir, Options{SegmentBytes: segmentBytes})
			defer w.Close()
			want := append(makeEntries(1, 2, 1), makeEntries(3, 6, 3)...)
			assert.Equal(t, want, rec.Entries)
			assert.Equal(t, uint64(3), rec.HardState.Term)
			if segmentBytes > 0 {
				assert.Greater(t, len(segmentFiles(t, dir)), 1, "the replacement should span segments")
			}
		})
	}
}

func TestAppendRejectsGaps(t *testing.T) {
	w, _ := openWAL(t, t.TempDir(), Options{})
	defer w.Close()
	require.Error(t, w.Append(nil, makeEntries(2, 3, 1)), "the log starts at 1")
	require.NoError(t, w.Append(nil, makeEntries(1, 3, 1)))
	require.Error(t, w.Append(nil, makeEntries(5, 6, 1)))
	require.Error(t, w.Append(nil, []raft.Entry{{Term: 1, Index: 4}, {Term: 1, Index: 6}}))
}

func TestTornTailIsRepaired(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, path string, lastRecordAt int64)
	}{
		{"truncated record", func(t *testing.T, path string, lastRecordAt int64) {
			require.NoError(t, os.Truncate(path, lastRecordAt+recordHeaderBytes+5))
		}},
		{"truncated header", func(t *testing.T, path string, lastRecordAt int64) {
			require.NoError(t, os.Truncate(path, lastRecordAt+3))
		}},
		{"zero-filled tail", func(t *testing.T, path string, lastRecordAt int64) {
			// The file size grew but the data never reached the disk.
			require.NoError(t, os.Truncate(path, lastRecordAt))
			require.NoError(t, os.Truncate(path, lastRecordAt+4096))
		}},
		{"bad checksum on the last record", func(t *testing.T, path string, lastRecordAt int64) {
			flipByte(t, path, lastRecordAt+recordHeaderBytes+3)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, _ := openWAL(t, dir, Options{})
			hs := raft.HardState{Term: 4, Vote: "n3", Commit: 9}
			appendSync(t, w, &hs, makeEntries(1, 9, 4))
			lastRecordAt := w.activeBytes
			appendSync(t, w, nil, makeEntries(10, 10, 4))
			require.NoError(t, w.Close())
			path := segmentFiles(t, dir)[0]
			tc.damage(t, path, lastRecordAt)

			w, rec := openWAL(t, dir, Options{})
			assert.Equal(t, makeEntries(1, 9, 4), rec.Entries)
			assert.Equal(t, hs, rec.HardState)
			info, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, lastRecordAt, info.Size(), "the torn tail is cut off")

			// The repaired log takes new appends, and they replay.
			appendSync(t, w, nil, makeEntries(10, 11, 5))
			require.NoError(t, w.Close())
			w, rec = openWAL(t, dir, Options{})
			defer w.Close()
			assert.Equal(t, append(makeEntries(1, 9, 4), makeEntries(10, 11, 5)...), rec.Entries)
		})
	}
}

func flipByte(t *testing.T, path string, offset int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, offset)
	require.NoError(t, err)
	b[0] ^= 0x40
	_, err = f.WriteAt(b, offset)
	require.NoError(t, err)
}

func TestMidLogCorruptionRefusesToStart(t *testing.T) {
	cases := []struct {
		name string
		// pick returns the segment to damage and the offset of the record
		// to damage in it, given the segment files and the record offsets
		// of the first one.
		segment    func(files []string) string
		damageAt   func(recordOffsets []int64) int64
		damageByte int64 // within the record
	}{
		{"body of a record in an earlier segment", func(f []string) string { return f[0] },
			func(o []int64) int64 { return o[2] }, recordHeaderBytes + 4},
		{"length of a record in an earlier segment", func(f []string) string { return f[0] },
			func(o []int64) int64 { return o[1] }, 1},
		{"last record of an earlier segment", func(f []string) string { return f[0] },
			func(o []int64) int64 { return o[len(o)-1] }, recordHeaderBytes + 2},
		{"middle of the newest segment", func(f []string) string { return f[len(f)-1] },
			func(o []int64) int64 { return o[1] }, recordHeaderBytes + 4},
		{"length in the middle of the newest segment", func(f []string) string { return f[len(f)-1] },
			func(o []int64) int64 { return o[1] }, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, _ := openWAL(t, dir, Options{SegmentBytes: 1024})
			hs := raft.HardState{Term: 1, Vote: "n1"}
			// Enough for several segments and several records in the newest.
			for i := uint64(1); i <= 120 || w.activeBytes < 400; i++ {
				appendSync(t, w, &hs, makeEntries(i, i, 1))
			}
			require.NoError(t, w.Close())
			files := segmentFiles(t, dir)
			require.Greater(t, len(files), 2)

			path := tc.segment(files)
			offsets := recordOffsets(t, path)
			require.Greater(t, len(offsets), 3)
			recordAt := tc.damageAt(offsets)
			flipByte(t, path, recordAt+tc.damageByte)
			before, err := os.ReadFile(path)
			require.NoError(t, err)

			_, _, err = Open(dir, Options{SegmentBytes: 1024, Logger: testLogger(t)})
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), fmt.Sprintf("byte offset %d", recordAt))
			assert.Contains(t, err.Error(), "healthy replica")
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, before, after, "a refused log is left as it was")
		})
	}
}

// recordOffsets returns the offset of every record in a healthy segment.
func recordOffsets(t *testing.T, path string) []int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []int64
	for off := 0; off < len(data); {
		_, next, problem := readFrame(data, off)
		require.Equal(t, frameOK, problem)
		out = append(out, int64(off))
		off = next
	}
	return out
}

func TestRolloverCreatesSegmentsStartingWithHardState(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{SegmentBytes: 1024})
	hs := raft.HardState{Term: 7, Vote: "n2", Commit: 3}
	appendSync(t, w, &hs, makeEntries(1, 1, 7))
	for i := uint64(2); i <= 200; i++ {
		appendSync(t, w, nil, makeEntries(i, i, 7))
	}
	files := segmentFiles(t, dir)
	assert.Equal(t, len(files), w.Stats().Segments)
	require.Greater(t, len(files), 3)
	for _, path := range files[1:] {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		body, _, problem := readFrame(data, 0)
		require.Equal(t, frameOK, problem, path)
		rec, err := decodeBody(body)
		require.NoError(t, err)
		assert.Equal(t, recordHardState, rec.typ, "%s starts with the hard state", path)
		assert.Equal(t, hs, rec.hardState)
		assert.LessOrEqual(t, int64(len(data)), int64(1024)+entryRecordBytes64(makeEntries(1, 1, 7)[0]))
	}
	require.NoError(t, w.Close())
	w, rec := openWAL(t, dir, Options{SegmentBytes: 1024})
	defer w.Close()
	assert.Equal(t, makeEntries(1, 200, 7), rec.Entries)
	assert.Equal(t, hs, rec.HardState)
}

func entryRecordBytes64(e raft.Entry) int64 { return int64(entryRecordBytes(e)) }

func TestSnapshotDeletesSegmentsBelowLowWaterMark(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1024}
	w, _ := openWAL(t, dir, opts)
	hs := raft.HardState{Term: 3, Vote: "n3", Commit: 1}
	appendSync(t, w, &hs, makeEntries(1, 1, 3))
	for i := uint64(2); i <= 200; i++ {
		appendSync(t, w, nil, makeEntries(i, i, 3))
	}
	firstSegment := segmentFiles(t, dir)[0]
	segmentsBefore := w.Stats().Segments
	snap := raft.Snapshot{Index: 150, Term: 3, Data: []byte("state at 150")}
	require.NoError(t, w.SaveSnapshot(snap))
	assert.Equal(t, uint64(150), w.LowWaterMark())
	assert.NoFileExists(t, firstSegment)
	assert.Less(t, w.Stats().Segments, segmentsBefore)
	assert.Equal(t, len(segmentFiles(t, dir)), w.Stats().Segments)
	appendSync(t, w, nil, makeEntries(201, 210, 3))
	require.NoError(t, w.Close())

	w, rec := openWAL(t, dir, opts)
	defer w.Close()
	require.NotNil(t, rec.Snapshot)
	assert.Equal(t, snap, *rec.Snapshot)
	assert.Equal(t, makeEntries(151, 210, 3), rec.Entries)
	assert.Equal(t, hs, rec.HardState)
	assert.Equal(t, uint64(150), w.LowWaterMark())
}

func TestHardStateSurvivesSegmentDeletion(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 512}
	w, _ := openWAL(t, dir, opts)
	hs := raft.HardState{Term: 9, Vote: "n4", Commit: 2}
	// The hard state is written once, in the first segment, and never again.
	appendSync(t, w, &hs, makeEntries(1, 1, 9))
	for i := uint64(2); i <= 100; i++ {
		appendSync(t, w, nil, makeEntries(i, i, 9))
	}
	require.NoError(t, w.SaveSnapshot(raft.Snapshot{Index: 100, Term: 9, Data: []byte("s")}))
	assert.Equal(t, 1, w.Stats().Segments, "every segment but the active one is below the low-water mark")
	require.NoError(t, w.Close())

	w, rec := openWAL(t, dir, opts)
	defer w.Close()
	assert.Equal(t, hs, rec.HardState)
	assert.Empty(t, rec.Entries)
	assert.Equal(t, uint64(100), rec.Snapshot.Index)
}

func TestSnapshotsKeepNewestTwo(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	defer w.Close()
	appendSync(t, w, &raft.HardState{Term: 1}, makeEntries(1, 40, 1))
	for _, index := range []uint64{10, 20, 30, 40} {
		require.NoError(t, w.SaveSnapshot(raft.Snapshot{Index: index, Term: 1}))
	}
	matches, err := filepath.Glob(filepath.Join(dir, "*"+snapshotSuffix))
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, snapshotName(30)), filepath.Join(dir, snapshotName(40))}, matches)
	require.NoError(t, w.SaveSnapshot(raft.Snapshot{Index: 35, Term: 1}), "an older snapshot is ignored")
	assert.Equal(t, uint64(40), w.LowWaterMark())
}

// TestOwnSnapshotBelowLogKeepsLaterEntries is the regression test for a node
// that could not restart: an own snapshot taken at the last entry of a
// segment (while later entries already sat in the next segment) deleted that
// segment, and replay then discarded the later entries and refused the log
// as having a gap.
func TestOwnSnapshotBelowLogKeepsLaterEntries(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{SegmentBytes: 512})
	hs := &raft.HardState{Term: 1, Vote: "n1"}
	appendSync(t, w, hs, makeEntries(1, 1, 1))
	// Append until a second segment exists; first is its first entry.
	var first uint64
	for i := uint64(2); i < 1000 && first == 0; i++ {
		appendSync(t, w, nil, makeEntries(i, i, 1))
		if len(segmentFiles(t, dir)) == 2 {
			first = i
		}
	}
	require.NotZero(t, first, "no rollover happened")
	appendSync(t, w, nil, makeEntries(first+1, first+2, 1))

	// Snapshot at the last entry of the first segment: it is deleted.
	require.NoError(t, w.SaveSnapshot(raft.Snapshot{Index: first - 1, Term: 1, Data: []byte("state")}))
	appendSync(t, w, nil, makeEntries(first+3, first+3, 1))
	crash(w)

	w2, rec := openWAL(t, dir, Options{SegmentBytes: 512})
	defer w2.Close()
	require.NotNil(t, rec.Snapshot)
	assert.Equal(t, first-1, rec.Snapshot.Index)
	require.Len(t, rec.Entries, 4, "entries after the snapshot must survive")
	assert.Equal(t, first, rec.Entries[0].Index)
	assert.Equal(t, first+3, rec.Entries[3].Index)
}

// TestEveryPrefixOfAnUnsyncedBatchRestarts cuts the bytes of a batch that was
// written but not fsynced at every offset, record boundaries included, as a
// crash may: a follower's batch that enters a new term, appends entries and
// learns in the same message that they are committed. Every cut must leave
// a log the replication core can restart from: a commit index not beyond
// the last entry, and no entry of a term above the hard state's.
func TestEveryPrefixOfAnUnsyncedBatchRestarts(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	appendSync(t, w, &raft.HardState{Term: 1, Vote: "n1", Commit: 3}, makeEntries(1, 3, 1))
	synced := w.activeBytes
	appendSync(t, w, &raft.HardState{Term: 2, Commit: 5}, makeEntries(4, 5, 2))
	require.NoError(t, w.Close())
	data, err := os.ReadFile(segmentFiles(t, dir)[0])
	require.NoError(t, err)
	name := filepath.Base(segmentFiles(t, dir)[0])

	for cut := synced; cut <= int64(len(data)); cut++ {
		cutDir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(cutDir, name), data[:cut], 0o644))
		w, rec, err := Open(cutDir, Options{})
		require.NoError(t, err, "cut at byte %d", cut)
		require.NoError(t, w.Close())
		last, lastTerm := uint64(0), uint64(0)
		if n := len(rec.Entries); n > 0 {
			last, lastTerm = rec.Entries[n-1].Index, rec.Entries[n-1].Term
		}
		assert.LessOrEqual(t, rec.HardState.Commit, last, "cut at byte %d: commit index beyond the log", cut)
		assert.LessOrEqual(t, lastTerm, rec.HardState.Term, "cut at byte %d: an entry of a term not entered", cut)
	}
}
