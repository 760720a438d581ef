// Package wal is kvnode's durable storage: a segmented write-ahead log of
// raft entries and hard states, plus snapshot files that set the low-water
// mark below which whole segments are deleted.
//
// Contract with the driver loop: Append everything a Ready asks to persist,
// then call Sync once (group commit: one fsync for the whole batch), and only
// then send the Ready's messages. Nothing appended is durable before Sync
// returns nil. A WAL is used by one goroutine; only Stats and LowWaterMark
// may be called concurrently with it.
//
// On disk (see record.go, segment.go, snapshot.go):
//
//	<dir>/0000000000000001.wal   segments, CRC-32C framed records
//	<dir>/0000000000001000.snap  snapshot files named by index (newest two kept)
//	<dir>/durable                only with UnsafeSkipFsync (see unsafe.go)
package wal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/node/disk"
	"github.com/faultline/faultline/node/raft"
)

// ErrCorrupt is wrapped by Open's error when the log or the snapshots are
// damaged in a way that cannot be repaired without losing acknowledged data.
// The message names the file and byte offset and says what to do.
var ErrCorrupt = errors.New("corrupt write-ahead log")

var errClosed = errors.New("wal is closed")

const (
	// DefaultSegmentBytes is the rollover size when Options.SegmentBytes is
	// zero. Rollover costs two fsyncs (old segment, directory), so segments
	// should be large; they should be small enough that a snapshot frees
	// disk space soon. 64 MiB is a few seconds of writes at full speed.
	DefaultSegmentBytes = 64 << 20
	// writeBufferBytes is the Append buffer. A group commit of a few
	// hundred small entries fits, so Sync usually issues one write.
	writeBufferBytes = 256 << 10
)

// Options configures Open.
type Options struct {
	// SegmentBytes: a segment that has grown to this size is closed and a
	// new one started at the next Append. 0 means DefaultSegmentBytes.
	SegmentBytes int64
	// UnsafeSkipFsync is the bug zoo's skip-fsync: Sync does not fsync, and
	// Open throws away what a real crash could have lost. See unsafe.go.
	UnsafeSkipFsync bool
	// Logger receives warnings about repairs; nil discards them.
	Logger *slog.Logger
	// FS is the file system the WAL's files live on; nil means disk.OS.
	// Every file operation of the WAL goes through it.
	FS disk.FS
	// Now is the clock of UnsafeSkipFsync's bookkeeping (how often it
	// records the durable point); nil means time.Now. A deterministic
	// simulation passes its simulated clock.
	Now func() time.Time
}

// Recovered is the durable state found by Open: the latest hard state, the
// newest valid snapshot (nil if none) and the log entries after it.
type Recovered struct {
	HardState raft.HardState
	Snapshot  *raft.Snapshot
	Entries   []raft.Entry
	// TornTailCut says a torn tail was cut off the newest segment: records
	// that were written but not all durable are gone, and on a disk that
	// lied about an fsync they may have been acknowledged.
	TornTailCut bool
	// Marked says the data dir holds the recovering mark (MarkRecovering):
	// an earlier start lost storage and did not finish catching up.
	Marked bool
}

// Empty reports whether nothing was recovered: a new data dir, or one
// whose contents were removed.
func (r Recovered) Empty() bool {
	return r.HardState.IsEmpty() && r.Snapshot == nil && len(r.Entries) == 0
}

// Stats are running counters, safe to read while the WAL is in use.
type Stats struct {
	// Fsyncs counts fsync calls on segments, snapshots and the directory.
	Fsyncs uint64
	// BytesWritten counts bytes written to segments and snapshot files.
	BytesWritten uint64
	// Segments is the number of segment files now on disk.
	Segments int
}

// WAL is an open write-ahead log.
type WAL struct {
	dir    string
	opts   Options
	logger *slog.Logger
	fs     disk.FS

	mu sync.Mutex
	// segments lists the segment files, oldest first; the last is active.
	segments    []segment
	file        disk.File
	bw          *bufio.Writer
	activeSeq   uint64
	activeBytes int64 // size of the active segment including buffered bytes
	syncedBytes int64 // bytes of the active segment handed to the OS
	dirty       bool  // appended since the last Sync
	scratch     []byte
	hardState   raft.HardState // the newest hard state appended
	lastIndex   uint64         // index of the newest entry (or snapshot)
	snapshots   []uint64       // snapshot files on disk, oldest first
	failed      error          // a write or fsync failed: the WAL is unusable
	closed      bool

	lowWaterMark atomic.Uint64
	fsyncs       atomic.Uint64
	bytesWritten atomic.Uint64
	segmentCount atomic.Int64

	// UNSAFE(skip-fsync): state of the simulated page cache, see unsafe.go.
	durableFile     disk.File
	durableMarkTime time.Time
	now             func() time.Time
}

func newWriteBuffer(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, writeBufferBytes) }

// Open recovers the log in dir, creating dir (not its parents) if missing,
// and returns the WAL positioned for appending together with what it
// recovered. A torn tail at the end of the newest segment is cut off with a
// warning; any other damage returns an error wrapping ErrCorrupt.
func Open(dir string, opts Options) (*WAL, Recovered, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fsys := disk.Or(opts.FS)
	if err := prepareDir(fsys, dir); err != nil {
		return nil, Recovered{}, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	w := &WAL{dir: dir, opts: opts, logger: logger, fs: fsys, now: now}
	rec, err := w.recover()
	if err != nil {
		if w.file != nil {
			_ = w.file.Close()
		}
		w.closeDurableFile()
		return nil, Recovered{}, err
	}
	return w, rec, nil
}

// recover does Open's work once the directory exists.
func (w *WAL) recover() (Recovered, error) {
	segments, snapshots, err := w.scanDir()
	if err != nil {
		return Recovered{}, err
	}
	if w.opts.UnsafeSkipFsync {
		if segments, err = w.discardUndurable(segments); err != nil {
			return Recovered{}, err
		}
	} else if err := w.removeDurableMark(); err != nil {
		return Recovered{}, err
	}
	st := newReplayState()
	for i, seq := range segments {
		path := w.segmentPath(seq)
		data, err := w.fs.ReadFile(path)
		if err != nil {
			return Recovered{}, fmt.Errorf("read segment %s: %w", path, err)
		}
		if err := st.replaySegment(segmentImage{path: path, data: data, last: i == len(segments)-1}); err != nil {
			return Recovered{}, err
		}
	}
	if st.tornOffset >= 0 {
		if err := w.cutTornTail(segments[len(segments)-1], st); err != nil {
			return Recovered{}, err
		}
	}
	snap, err := w.chooseSnapshot(snapshots, st)
	if err != nil {
		return Recovered{}, err
	}
	// Asked before entriesAfter, which discards a log that disagrees.
	lostMarker := snap != nil && !st.continues(snap.Index, snap.Term)
	if lostMarker {
		w.logger.Warn("wal: the log does not continue the snapshot it recovered from (a crash lost its marker); recording the marker",
			"snapshot_index", snap.Index, "log_last_index", st.lastIndex())
	}
	var snapIndex, snapTerm uint64
	if snap != nil {
		snapIndex, snapTerm = snap.Index, snap.Term
	}
	entries, err := st.entriesAfter(snapIndex, snapTerm)
	if err != nil {
		return Recovered{}, fmt.Errorf("%w: %s: %v; restore this node's data dir from a healthy replica, "+
			"or remove this node's data dir and restart it: it rejoins without voting until a leader has caught it up (safe while a majority of the nodes keeps its data; wipe one node at a time)", ErrCorrupt, w.dir, err)
	}

	w.hardState = st.hardState
	w.lastIndex = snapIndex
	if len(entries) > 0 {
		w.lastIndex = entries[len(entries)-1].Index
	}
	w.lowWaterMark.Store(snapIndex)
	for _, index := range snapshots {
		if snap != nil && index <= snap.Index {
			w.snapshots = append(w.snapshots, index)
		}
	}
	for i, seq := range segments {
		w.segments = append(w.segments, segment{seq: seq, maxIndex: st.segmentMaxIndex[i]})
	}
	w.segmentCount.Store(int64(len(w.segments)))
	if len(segments) == 0 {
		err = w.createSegment(1)
	} else {
		err = w.openActive(segments[len(segments)-1])
	}
	if err != nil {
		return Recovered{}, err
	}
	if lostMarker {
		if err := w.recordRestoreMarker(*snap); err != nil {
			return Recovered{}, err
		}
	}
	if w.opts.UnsafeSkipFsync {
		if err := w.writeDurableMark(); err != nil {
			return Recovered{}, err
		}
	}
	marked, err := w.recoveringMarked()
	if err != nil {
		return Recovered{}, err
	}
	return Recovered{HardState: st.hardState, Snapshot: snap, Entries: entries,
		TornTailCut: st.tornOffset >= 0, Marked: marked}, nil
}

// cutTornTail truncates the newest segment where its torn tail starts.
func (w *WAL) cutTornTail(seq uint64, st *replayState) error {
	path := w.segmentPath(seq)
	info, err := w.fs.Stat(path)
	if err != nil {
		return fmt.Errorf("stat segment %s: %w", path, err)
	}
	w.logger.Warn("wal: cutting off a torn tail left by a crash",
		"segment", path, "offset", st.tornOffset, "bytes", info.Size()-int64(st.tornOffset), "reason", st.tornReason)
	if err := w.truncateFile(path, int64(st.tornOffset)); err != nil {
		return err
	}
	w.fsyncs.Add(1)
	return nil
}

// truncateFile truncates path to sizeBytes and fsyncs it.
func (w *WAL) truncateFile(path string, sizeBytes int64) error {
	f, err := w.fs.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open segment %s to truncate: %w", path, err)
	}
	err = f.Truncate(sizeBytes)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("truncate segment %s: %w", path, err)
	}
	return nil
}

// Append buffers a hard state (if hs is non-nil) and entries. Nothing is
// durable until Sync. entries must be contiguous; if entries[0].Index is at
// or below the last index, the entries from there on are replaced (replay
// reproduces that: an entry at index i discards every earlier-written entry
// at i or above). Append rolls over to a new segment first if the active one
// has reached SegmentBytes; a batch is never split across segments.
func (w *WAL) Append(hs *raft.HardState, entries []raft.Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if err := w.checkEntries(entries); err != nil {
		return err
	}
	if hs == nil && len(entries) == 0 {
		return nil
	}
	if w.activeBytes >= w.opts.SegmentBytes {
		if err := w.rollover(); err != nil {
			return w.fail(err)
		}
	}
	buf := w.scratch[:0]
	// A crash may keep any prefix of what was written since the last
	// fsync, cut at a record boundary too, which replay cannot tell from
	// a log that ends there. So every prefix must be a state the node may
	// restart from: the hard state goes before the entries (no entry of a
	// term the node had not durably entered), but with its commit index
	// held to the log in front of it; the full commit index follows the
	// entries it covers.
	changed := hs != nil && *hs != w.hardState
	var ahead raft.HardState
	if changed {
		ahead = *hs
		ahead.Commit = min(ahead.Commit, w.lastIndexBefore(entries))
		if ahead != w.hardState {
			buf = appendHardStateRecord(buf, ahead)
		}
	}
	for _, e := range entries {
		buf = appendEntryRecord(buf, e)
	}
	if changed && *hs != ahead {
		buf = appendHardStateRecord(buf, *hs)
	}
	if len(buf) == 0 {
		return nil
	}
	if _, err := w.bw.Write(buf); err != nil {
		return w.fail(fmt.Errorf("write segment %s: %w", w.segmentPath(w.activeSeq), err))
	}
	if cap(buf) <= 4*writeBufferBytes {
		w.scratch = buf
	}
	w.activeBytes += int64(len(buf))
	w.bytesWritten.Add(uint64(len(buf)))
	w.dirty = true
	if hs != nil {
		w.hardState = *hs
	}
	if n := len(entries); n > 0 {
		w.lastIndex = entries[n-1].Index
		active := &w.segments[len(w.segments)-1]
		active.maxIndex = max(active.maxIndex, w.lastIndex)
	}
	return nil
}

// lastIndexBefore is the index of the log's last entry once the records
// in front of entries are replayed: the entry before the first of them (an
// entry replaces every entry at or above its index), or the last index
// appended so far when there are none.
func (w *WAL) lastIndexBefore(entries []raft.Entry) uint64 {
	if len(entries) > 0 {
		return entries[0].Index - 1
	}
	return w.lastIndex
}

// checkEntries rejects a batch that would leave a hole in the log.
func (w *WAL) checkEntries(entries []raft.Entry) error {
	for i, e := range entries {
		if entryRecordBytes(e)-recordHeaderBytes > maxRecordBytes {
			return fmt.Errorf("append entry %d: %d bytes of data is over the %d byte record limit", e.Index, len(e.Data), maxRecordBytes)
		}
		if i > 0 && e.Index != entries[i-1].Index+1 {
			return fmt.Errorf("append: entry %d follows entry %d in one batch: entries must be contiguous", e.Index, entries[i-1].Index)
		}
	}
	if len(entries) > 0 && entries[0].Index > w.lastIndex+1 {
		return fmt.Errorf("append: entry %d would leave a gap after entry %d", entries[0].Index, w.lastIndex)
	}
	if len(entries) > 0 && entries[0].Index == 0 {
		return errors.New("append: entry index 0 is not a valid index")
	}
	return nil
}

// Sync writes everything appended and fsyncs the active segment once. A
// Sync with nothing new to write does nothing.
func (w *WAL) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	return w.syncLocked()
}

func (w *WAL) syncLocked() error {
	if !w.dirty {
		return nil
	}
	if err := w.bw.Flush(); err != nil {
		return w.fail(fmt.Errorf("write segment %s: %w", w.segmentPath(w.activeSeq), err))
	}
	w.syncedBytes = w.activeBytes
	if err := w.syncSegment(w.file); err != nil {
		return w.fail(fmt.Errorf("fsync segment %s: %w", w.segmentPath(w.activeSeq), err))
	}
	w.dirty = false
	return nil
}

// syncSegment fsyncs a segment file, except under UnsafeSkipFsync.
func (w *WAL) syncSegment(f disk.File) error {
	if w.opts.UnsafeSkipFsync {
		// UNSAFE(skip-fsync): no fsync; only note now and then how far a
		// real one would have reached.
		return w.maybeWriteDurableMark()
	}
	return w.fsync(f)
}

func (w *WAL) fsync(f disk.File) error {
	w.fsyncs.Add(1)
	return f.Sync()
}

// SaveSnapshot makes s, a snapshot of the node's own state machine at an
// applied index (so its entry is in the log), durable as a snapshot file,
// records it in the log, syncs the log, keeps the newest two snapshot files,
// and deletes the segments whose entries are all at or below s.Index.
// s.Index becomes the low-water mark; the entries after it stay, as they do
// in the replication core's compacted log. A snapshot not newer than the
// low-water mark is ignored.
func (w *WAL) SaveSnapshot(s raft.Snapshot) error {
	return w.saveSnapshot(s, recordSnapshot)
}

// InstallSnapshot is SaveSnapshot for a snapshot received from the leader,
// which the replication core installs by discarding its whole log (the log
// lacked the snapshot's entry or disagreed with it): recovery discards the
// entries written before it too, and the log restarts after s.Index.
func (w *WAL) InstallSnapshot(s raft.Snapshot) error {
	return w.saveSnapshot(s, recordRestore)
}

// saveSnapshot does SaveSnapshot's and InstallSnapshot's work; typ is the
// marker that tells replay whether the log before the snapshot was kept.
func (w *WAL) saveSnapshot(s raft.Snapshot, typ recordType) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if s.Index == 0 || s.Index <= w.lowWaterMark.Load() {
		return nil
	}
	if err := w.writeSnapshotFile(s); err != nil {
		return w.fail(err)
	}
	w.snapshots = append(w.snapshots, s.Index)
	if err := w.appendMarker(typ, s.Index, s.Term); err != nil {
		return w.fail(err)
	}
	if err := w.syncLocked(); err != nil {
		return err
	}
	if w.opts.UnsafeSkipFsync {
		// UNSAFE(skip-fsync): segments are about to be deleted for good;
		// the simulated crash must not reach back past them.
		if err := w.writeDurableMark(); err != nil {
			return w.fail(err)
		}
	}
	w.lowWaterMark.Store(s.Index)
	w.lastIndex = max(w.lastIndex, s.Index)
	if err := w.trimSnapshots(); err != nil {
		return w.fail(err)
	}
	if err := w.deleteSegmentsThrough(s.Index); err != nil {
		return w.fail(err)
	}
	return nil
}

// LowWaterMark returns the index of the newest durable snapshot: entries at
// or below it are not needed for recovery.
func (w *WAL) LowWaterMark() uint64 { return w.lowWaterMark.Load() }

// Stats returns the running counters.
func (w *WAL) Stats() Stats {
	return Stats{
		Fsyncs:       w.fsyncs.Load(),
		BytesWritten: w.bytesWritten.Load(),
		Segments:     int(w.segmentCount.Load()),
	}
}

// Close syncs what was appended and closes the files. Close after a failure
// closes the files and returns the failure.
func (w *WAL) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	var err error
	if w.failed == nil {
		err = w.syncLocked()
		if err == nil && w.opts.UnsafeSkipFsync {
			// UNSAFE(skip-fsync): a clean shutdown loses nothing.
			err = w.writeDurableMark()
		}
	} else {
		err = w.failed
	}
	w.closed = true
	if closeErr := w.file.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("close segment: %w", closeErr)
	}
	w.closeDurableFile()
	return err
}

// usable returns why the WAL cannot be used, if it cannot.
func (w *WAL) usable() error {
	if w.closed {
		return errClosed
	}
	if w.failed != nil {
		return fmt.Errorf("wal failed earlier and is unusable; restart the node: %w", w.failed)
	}
	return nil
}

// fail makes err sticky. After a failed write or fsync the file's content
// is unknown (the kernel may have dropped the dirty pages), so retrying
// could acknowledge data that is not on disk: the node must restart and
// recover from what is.
func (w *WAL) fail(err error) error {
	w.failed = err
	w.logger.Error("wal: write failed; refusing further writes", "err", err)
	return err
}
