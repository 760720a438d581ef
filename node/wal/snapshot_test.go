package wal

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/disk"
	"github.com/faultline/faultline/node/raft"
)

func TestReceivedSnapshotDiscardsDivergentLog(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	appendSync(t, w, &raft.HardState{Term: 1}, makeEntries(1, 10, 1))
	// The leader sends a snapshot at 8 from term 2: this node's entries up
	// to 10 are from a branch that lost. It then appends 9 and 10 of term 2.
	snap := raft.Snapshot{Index: 8, Term: 2, Data: []byte("leader state")}
	require.NoError(t, w.SaveSnapshot(snap))
	appendSync(t, w, &raft.HardState{Term: 2, Commit: 8}, makeEntries(9, 10, 2))
	require.NoError(t, w.Close())

	w, rec := openWAL(t, dir, Options{})
	defer w.Close()
	assert.Equal(t, snap, *rec.Snapshot)
	assert.Equal(t, makeEntries(9, 10, 2), rec.Entries)
}

func TestReceivedSnapshotAheadOfLog(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	appendSync(t, w, &raft.HardState{Term: 1}, makeEntries(1, 5, 1))
	require.NoError(t, w.SaveSnapshot(raft.Snapshot{Index: 50, Term: 3}))
	appendSync(t, w, nil, makeEntries(51, 52, 3))
	require.NoError(t, w.Close())

	w, rec := openWAL(t, dir, Options{})
	defer w.Close()
	assert.Equal(t, uint64(50), rec.Snapshot.Index)
	assert.Equal(t, makeEntries(51, 52, 3), rec.Entries)
}

// A crash after the snapshot file became durable but before its marker
// reached the log: recovery must still drop the divergent entries.
func TestSnapshotWithoutMarkerDiscardsDivergentLog(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	appendSync(t, w, &raft.HardState{Term: 1}, makeEntries(1, 10, 1))
	require.NoError(t, w.Close())
	snap := raft.Snapshot{Index: 8, Term: 2, Data: []byte("x")}
	require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotName(8)), encodeSnapshot(snap), 0o640))

	w, rec := openWAL(t, dir, Options{})
	defer w.Close()
	assert.Equal(t, snap, *rec.Snapshot)
	assert.Empty(t, rec.Entries)
	appendSync(t, w, nil, makeEntries(9, 9, 2))
}

func TestCorruptNewestSnapshotFallsBackWhenLogCoversIt(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	appendSync(t, w, &raft.HardState{Term: 1}, makeEntries(1, 120, 1))
	older := raft.Snapshot{Index: 50, Term: 1, Data: []byte("state at 50")}
	require.NoError(t, w.SaveSnapshot(older))
	require.NoError(t, w.SaveSnapshot(raft.Snapshot{Index: 100, Term: 1, Data: []byte("state at 100")}))
	require.NoError(t, w.Close())
	newest := filepath.Join(dir, snapshotName(100))
	flipByte(t, newest, int64(snapshotHeaderBytes+2))

	w, rec := openWAL(t, dir, Options{})
	defer w.Close()
	assert.Equal(t, older, *rec.Snapshot)
	assert.Equal(t, makeEntries(51, 120, 1), rec.Entries)
	assert.Equal(t, uint64(50), w.LowWaterMark())
	assert.NoFileExists(t, newest)
	assert.FileExists(t, newest+".corrupt", "the damaged snapshot is kept for inspection")
}

func TestCorruptNewestSnapshotRefusedWhenLogIsGone(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 512}
	w, _ := openWAL(t, dir, opts)
	appendSync(t, w, &raft.HardState{Term: 1}, makeEntries(1, 1, 1))
	for i := uint64(2); i <= 120; i++ {
		appendSync(t, w, nil, makeEntries(i, i, 1))
	}
	require.NoError(t, w.SaveSnapshot(raft.Snapshot{Index: 20, Term: 1}))
	require.NoError(t, w.SaveSnapshot(raft.Snapshot{Index: 110, Term: 1}))
	require.NoError(t, w.Close())
	newest := filepath.Join(dir, snapshotName(110))
	require.NoError(t, os.Truncate(newest, 10))

	_, _, err := Open(dir, Options{SegmentBytes: 512, Logger: testLogger(t)})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), newest)
	assert.Contains(t, err.Error(), "healthy replica")
	assert.FileExists(t, newest, "nothing is renamed when recovery is refused")
}

func TestSnapshotEncodingRoundTrip(t *testing.T) {
	for _, s := range []raft.Snapshot{{Index: 1, Term: 1}, {Index: 1 << 40, Term: 7, Data: []byte("payload")}} {
		got, err := decodeSnapshot(encodeSnapshot(s))
		require.NoError(t, err)
		if len(s.Data) == 0 {
			assert.Empty(t, got.Data)
			got.Data = nil
		}
		assert.Equal(t, s, got)
	}
	b := encodeSnapshot(raft.Snapshot{Index: 3, Term: 1, Data: []byte("abc")})
	for i := range b {
		damaged := append([]byte(nil), b...)
		damaged[i] ^= 1
		_, err := decodeSnapshot(damaged)
		assert.ErrorIs(t, err, errBadSnapshot, "flipped byte %d", i)
	}
}

// failingReads is a file system whose ReadFile of one path fails with an
// I/O error.
type failingReads struct {
	disk.FS
	path string
}

func (f failingReads) ReadFile(name string) ([]byte, error) {
	if name == f.path {
		return nil, &fs.PathError{Op: "read", Path: name, Err: syscall.EIO}
	}
	return f.FS.ReadFile(name)
}

// TestSnapshotReadErrorIsNotDamage: a snapshot file that cannot be read
// (EIO) is not a damaged one. Open fails with the I/O error, not with
// ErrCorrupt (whose advice is to wipe the node), and does not fall back to
// an older snapshot and set the unread one aside as corrupt.
func TestSnapshotReadErrorIsNotDamage(t *testing.T) {
	sim := disk.NewSim()
	opts := Options{FS: sim, SegmentBytes: 256}
	w, _ := openWAL(t, "/data", opts)
	appendSync(t, w, &raft.HardState{Term: 1}, makeEntries(1, 20, 1))
	require.NoError(t, w.SaveSnapshot(raft.Snapshot{Index: 10, Term: 1, Data: []byte("at 10")}))
	require.NoError(t, w.SaveSnapshot(raft.Snapshot{Index: 15, Term: 1, Data: []byte("at 15")}))
	require.NoError(t, w.Close())

	newest := filepath.Join("/data", snapshotName(15))
	opts.FS = failingReads{FS: sim, path: newest}
	opts.Logger = testLogger(t)
	_, _, err := Open("/data", opts)
	require.ErrorIs(t, err, syscall.EIO)
	assert.NotErrorIs(t, err, ErrCorrupt)
	_, err = sim.Stat(newest)
	assert.NoError(t, err, "the snapshot that could not be read is still in place")

	opts.FS = sim
	w, rec := openWAL(t, "/data", opts)
	defer w.Close()
	require.NotNil(t, rec.Snapshot)
	assert.Equal(t, uint64(15), rec.Snapshot.Index, "once the disk reads again, the newest snapshot is used")
}

// installWithLostMarker installs s, then throws away the restore marker
// InstallSnapshot wrote after the snapshot file: the state a crash leaves
// between the snapshot file's directory fsync and the marker's fsync.
func installWithLostMarker(t *testing.T, sim *disk.Sim, w *WAL, s raft.Snapshot) {
	t.Helper()
	segment := w.segmentPath(w.activeSeq)
	info, err := sim.Stat(segment)
	require.NoError(t, err)
	require.NoError(t, w.InstallSnapshot(s))
	require.NoError(t, w.Close())
	f, err := sim.OpenFile(segment, os.O_WRONLY, 0)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(info.Size()))
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
}

// TestSnapshotWithLostMarkerThenAppends: a crash after a received
// snapshot's file became durable but before its marker did. Recovery
// starts from the snapshot; the entries appended after it must survive the
// next restart too, whether the old log ended below the snapshot (the
// appends would follow it with a gap) or held a different entry at its
// index (replay would keep that entry and discard everything after it).
func TestSnapshotWithLostMarkerThenAppends(t *testing.T) {
	tests := []struct {
		name string
		snap raft.Snapshot
	}{
		{"log ends below the snapshot", raft.Snapshot{Index: 20, Term: 2, Data: []byte("at 20")}},
		{"log holds another entry at the snapshot's index", raft.Snapshot{Index: 8, Term: 2, Data: []byte("at 8")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := disk.NewSim()
			opts := Options{FS: sim}
			w, _ := openWAL(t, "/data", opts)
			appendSync(t, w, &raft.HardState{Term: 1}, makeEntries(1, 10, 1))
			installWithLostMarker(t, sim, w, tt.snap)

			w, rec := openWAL(t, "/data", opts)
			require.NotNil(t, rec.Snapshot)
			require.Equal(t, tt.snap.Index, rec.Snapshot.Index)
			require.Empty(t, rec.Entries, "the old log does not continue the snapshot")
			after := makeEntries(tt.snap.Index+1, tt.snap.Index+4, 2)
			appendSync(t, w, &raft.HardState{Term: 2}, after)
			require.NoError(t, w.Close())

			w, rec = openWAL(t, "/data", opts)
			defer w.Close()
			require.NotNil(t, rec.Snapshot)
			assert.Equal(t, tt.snap.Index, rec.Snapshot.Index)
			assert.Equal(t, after, rec.Entries, "the entries acknowledged after the snapshot")
		})
	}
}
