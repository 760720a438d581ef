package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/faultline/faultline/node/disk"
)

// Segment files are named by sequence number, <seq>.wal with 16 decimal
// digits, so a directory listing sorts them in log order. The newest
// segment is the active one: the only one written to, and the only one whose
// end may be torn by a crash.
const segmentSuffix = ".wal"

// segment is what the WAL remembers about one segment file.
type segment struct {
	seq uint64
	// maxIndex is the highest entry index written to the segment (0 if it
	// holds none). A segment whose maxIndex is at or below the low-water
	// mark holds nothing recovery needs beyond the snapshot.
	maxIndex uint64
}

func segmentName(seq uint64) string { return fmt.Sprintf("%016d%s", seq, segmentSuffix) }

func parseSegmentName(name string) (uint64, bool) {
	return parseSequenceName(name, segmentSuffix)
}

func (w *WAL) segmentPath(seq uint64) string { return filepath.Join(w.dir, segmentName(seq)) }

// prepareDir makes sure dir exists and is a directory, creating it (but not
// its parents, so a mistyped path is noticed) when it is missing.
func prepareDir(fsys disk.FS, dir string) error {
	info, err := fsys.Stat(dir)
	switch {
	case err == nil:
		if !info.IsDir() {
			return fmt.Errorf("data dir %s is not a directory; point the node at a directory", dir)
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		if err := fsys.Mkdir(dir, 0o750); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("create data dir %s: its parent directory does not exist; create it or fix the path", dir)
			}
			return fmt.Errorf("create data dir %s: %w; check the path and its permissions", dir, err)
		}
		return syncDirPath(fsys, filepath.Dir(dir))
	default:
		return fmt.Errorf("data dir %s: %w; check the path and its permissions", dir, err)
	}
}

// scanDir lists the segment and snapshot files in the data dir, each sorted
// ascending, and removes temporary files a crash left behind.
func (w *WAL) scanDir() (segments, snapshots []uint64, err error) {
	dirents, err := w.fs.ReadDir(w.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read data dir %s: %w; check its permissions", w.dir, err)
	}
	for _, d := range dirents {
		name := d.Name()
		if seq, ok := parseSegmentName(name); ok {
			segments = append(segments, seq)
		} else if index, ok := parseSnapshotName(name); ok {
			snapshots = append(snapshots, index)
		} else if strings.HasSuffix(name, tempSuffix) {
			if err := w.fs.Remove(filepath.Join(w.dir, name)); err != nil {
				return nil, nil, fmt.Errorf("remove leftover temporary file: %w", err)
			}
		}
	}
	slices.Sort(segments)
	slices.Sort(snapshots)
	return segments, snapshots, nil
}

// createSegment creates segment seq, starts it with the current hard state
// (so every older segment can be deleted without losing the term and vote),
// makes it durable and makes it the active segment.
func (w *WAL) createSegment(seq uint64) error {
	path := w.segmentPath(seq)
	f, err := w.fs.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("create segment %s: %w", path, err)
	}
	var head []byte
	if !w.hardState.IsEmpty() {
		head = appendHardStateRecord(nil, w.hardState)
	}
	if _, err := f.Write(head); err != nil {
		_ = f.Close()
		return fmt.Errorf("write segment %s: %w", path, err)
	}
	w.bytesWritten.Add(uint64(len(head)))
	if err := w.syncSegment(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync segment %s: %w", path, err)
	}
	if err := w.syncDir(); err != nil {
		_ = f.Close()
		return err
	}
	w.setActive(f, seq, int64(len(head)))
	w.segments = append(w.segments, segment{seq: seq})
	w.segmentCount.Store(int64(len(w.segments)))
	return nil
}

// openActive reopens the newest segment for appending after recovery.
func (w *WAL) openActive(seq uint64) error {
	path := w.segmentPath(seq)
	f, err := w.fs.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open segment %s: %w", path, err)
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("stat segment %s: %w", path, err)
	}
	w.setActive(f, seq, info.Size())
	return nil
}

func (w *WAL) setActive(f disk.File, seq uint64, sizeBytes int64) {
	w.file = f
	w.activeSeq = seq
	w.activeBytes = sizeBytes
	w.syncedBytes = sizeBytes
	if w.bw == nil {
		w.bw = newWriteBuffer(f)
	} else {
		w.bw.Reset(f)
	}
}

// rollover makes everything written so far durable, closes the active
// segment and starts the next one. The old segment is synced first: once a
// newer segment exists, damage in an older one is never a torn tail.
func (w *WAL) rollover() error {
	if err := w.syncLocked(); err != nil {
		return err
	}
	if err := w.file.Close(); err != nil {
		return fmt.Errorf("close segment %s: %w", w.segmentPath(w.activeSeq), err)
	}
	w.file = nil
	return w.createSegment(w.activeSeq + 1)
}

// deleteSegmentsThrough deletes the oldest segments whose entries are all at
// or below lowWaterMark. It deletes a prefix only (replay needs the survivors
// in order) and never the active segment, which always holds the newest hard
// state: every segment starts with the hard state current when it was
// created and every later hard state is written to it.
func (w *WAL) deleteSegmentsThrough(lowWaterMark uint64) error {
	n := 0
	for n < len(w.segments)-1 && w.segments[n].maxIndex <= lowWaterMark {
		n++
	}
	if n == 0 {
		return nil
	}
	for _, seg := range w.segments[:n] {
		if err := w.fs.Remove(w.segmentPath(seg.seq)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete segment below the low-water mark: %w", err)
		}
		w.logger.Debug("wal: deleted segment below the low-water mark",
			"segment", segmentName(seg.seq), "max_index", seg.maxIndex, "low_water_mark", lowWaterMark)
	}
	w.segments = append([]segment(nil), w.segments[n:]...)
	w.segmentCount.Store(int64(len(w.segments)))
	return w.syncDir()
}

// syncDir fsyncs the data dir, making file creations, renames and deletions
// in it durable.
func (w *WAL) syncDir() error {
	w.fsyncs.Add(1)
	return syncDirPath(w.fs, w.dir)
}

func syncDirPath(fsys disk.FS, dir string) error {
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}
