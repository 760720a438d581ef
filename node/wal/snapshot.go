package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/faultline/faultline/node/raft"
)

// Snapshot files are named by the index they cover, <index>.snap, and hold
//
//	magic "FLSNAP01" | uint32 CRC-32C(rest) | index u64 | term u64 | dataBytes u64 | data
//
// A snapshot is written to <name>.tmp, fsynced, renamed into place and then
// the directory is fsynced, so a crash leaves either the old set of
// snapshots or the new one, never a half-written file under a real name.
const (
	snapshotMagic       = "FLSNAP01"
	snapshotHeaderBytes = len(snapshotMagic) + 4 + 8 + 8 + 8
	snapshotSuffix      = ".snap"
	tempSuffix          = ".tmp"
	// snapshotsKept is how many snapshot files survive a SaveSnapshot: the
	// newest, and the one before it as a fallback if the newest is damaged.
	snapshotsKept = 2
)

func snapshotName(index uint64) string { return fmt.Sprintf("%016d%s", index, snapshotSuffix) }

func parseSnapshotName(name string) (uint64, bool) {
	return parseSequenceName(name, snapshotSuffix)
}

// parseSequenceName parses "<16 decimal digits><suffix>".
func parseSequenceName(name, suffix string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

func encodeSnapshot(s raft.Snapshot) []byte {
	buf := make([]byte, 0, snapshotHeaderBytes+len(s.Data))
	buf = append(buf, snapshotMagic...)
	buf = append(buf, 0, 0, 0, 0) // checksum, filled in below
	buf = binary.LittleEndian.AppendUint64(buf, s.Index)
	buf = binary.LittleEndian.AppendUint64(buf, s.Term)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(len(s.Data)))
	buf = append(buf, s.Data...)
	sumAt := len(snapshotMagic)
	binary.LittleEndian.PutUint32(buf[sumAt:], crc32.Checksum(buf[sumAt+4:], castagnoli))
	return buf
}

var errBadSnapshot = errors.New("damaged snapshot file")

func decodeSnapshot(b []byte) (raft.Snapshot, error) {
	if len(b) < snapshotHeaderBytes || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return raft.Snapshot{}, fmt.Errorf("%w: bad header", errBadSnapshot)
	}
	sumAt := len(snapshotMagic)
	if crc32.Checksum(b[sumAt+4:], castagnoli) != binary.LittleEndian.Uint32(b[sumAt:]) {
		return raft.Snapshot{}, fmt.Errorf("%w: bad checksum", errBadSnapshot)
	}
	p := b[sumAt+4:]
	s := raft.Snapshot{Index: binary.LittleEndian.Uint64(p), Term: binary.LittleEndian.Uint64(p[8:])}
	if dataBytes := binary.LittleEndian.Uint64(p[16:]); dataBytes != uint64(len(p)-24) {
		return raft.Snapshot{}, fmt.Errorf("%w: data length %d, file holds %d", errBadSnapshot, dataBytes, len(p)-24)
	}
	s.Data = p[24:]
	return s, nil
}

// writeSnapshotFile makes s durable under its final name.
func (w *WAL) writeSnapshotFile(s raft.Snapshot) error {
	final := filepath.Join(w.dir, snapshotName(s.Index))
	temp := final + tempSuffix
	f, err := w.fs.OpenFile(temp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("create snapshot %s: %w", temp, err)
	}
	n, err := f.Write(encodeSnapshot(s))
	w.bytesWritten.Add(uint64(n))
	if err == nil {
		err = w.fsync(f)
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		_ = w.fs.Remove(temp)
		return fmt.Errorf("write snapshot %s: %w", temp, err)
	}
	if err := w.fs.Rename(temp, final); err != nil {
		return fmt.Errorf("rename snapshot into place: %w", err)
	}
	return w.syncDir()
}

// loadSnapshot reads and verifies the snapshot file for index.
func (w *WAL) loadSnapshot(index uint64) (raft.Snapshot, error) {
	path := filepath.Join(w.dir, snapshotName(index))
	b, err := w.fs.ReadFile(path)
	if err != nil {
		return raft.Snapshot{}, fmt.Errorf("read snapshot %s: %w", path, err)
	}
	s, err := decodeSnapshot(b)
	if err != nil {
		return raft.Snapshot{}, fmt.Errorf("snapshot %s: %w", path, err)
	}
	if s.Index != index {
		return raft.Snapshot{}, fmt.Errorf("snapshot %s: %w: holds index %d", path, errBadSnapshot, s.Index)
	}
	return s, nil
}

// chooseSnapshot picks the snapshot recovery starts from. indexes lists the
// snapshot files, oldest first. The newest valid snapshot wins; if the newest
// is damaged, an older one is used only when the replayed log still holds
// every entry from just after it up to the damaged one, because otherwise
// the state between them is gone. "No snapshot" counts as an older snapshot
// at index 0. After a fallback the damaged files are renamed to <name>.corrupt
// and kept; when there is no fallback they stay where they are.
func (w *WAL) chooseSnapshot(indexes []uint64, st *replayState) (*raft.Snapshot, error) {
	var damagedIndex uint64
	var damagedErr error
	var damaged []string
	for i := len(indexes) - 1; i >= -1; i-- {
		var snap *raft.Snapshot
		if i >= 0 {
			s, err := w.loadSnapshot(indexes[i])
			if err != nil && !errors.Is(err, errBadSnapshot) {
				// The file could not be read (an I/O error): that says
				// nothing about its content, so it is neither damage to
				// fall back from nor a reason to set the file aside.
				return nil, err
			}
			if err != nil {
				w.logger.Warn("wal: damaged snapshot", "index", indexes[i], "err", err)
				damaged = append(damaged, snapshotName(indexes[i]))
				if damagedErr == nil {
					damagedIndex, damagedErr = indexes[i], err
				}
				continue
			}
			snap = &s
		}
		if damagedErr == nil {
			return snap, nil
		}
		var index uint64
		if snap != nil {
			index = snap.Index
		}
		if st.firstIndex() == 0 || st.firstIndex() > index+1 || st.lastIndex() < damagedIndex {
			break
		}
		w.logger.Warn("wal: recovering from an older snapshot because the newest is damaged",
			"damaged_index", damagedIndex, "snapshot_index", index)
		for _, name := range damaged {
			w.quarantine(name)
		}
		return snap, nil
	}
	return nil, fmt.Errorf("%w: %v, and the log does not cover the entries from an older snapshot up to it; "+
		"restore this node's data dir from a healthy replica, or remove this node's data dir and restart it: it rejoins without voting until a leader has caught it up (safe while a majority of the nodes keeps its data; wipe one node at a time)",
		ErrCorrupt, damagedErr)
}

// appendMarker buffers the marker of type typ for a snapshot at (index,
// term) in the active segment, to be made durable by the next sync.
func (w *WAL) appendMarker(typ recordType, index, term uint64) error {
	mark := appendSnapshotRecord(nil, typ, index, term)
	if _, err := w.bw.Write(mark); err != nil {
		return fmt.Errorf("write segment %s: %w", w.segmentPath(w.activeSeq), err)
	}
	w.activeBytes += int64(len(mark))
	w.bytesWritten.Add(uint64(len(mark)))
	w.dirty = true
	return nil
}

// recordRestoreMarker writes and syncs a restore marker for snap, the
// snapshot recovery chose, when the log alone does not continue it
// (replayState.continues). That is the state a crash leaves after a
// received snapshot's file became durable but before its marker did: the
// log ends below the snapshot, or holds another entry at its index.
// Recovery returns the snapshot and nothing after it either way, but the
// entries appended next would follow the old log in the segment, and the
// next replay would find a gap (and refuse to start) or keep the old entry
// at the snapshot's index and so discard every entry after it,
// acknowledged ones included. The marker, synced before anything is
// appended, makes replay restart the log after the snapshot.
func (w *WAL) recordRestoreMarker(snap raft.Snapshot) error {
	if err := w.appendMarker(recordRestore, snap.Index, snap.Term); err != nil {
		return err
	}
	return w.syncLocked()
}

// quarantine renames a damaged file out of the way, keeping it for a person
// to inspect.
func (w *WAL) quarantine(name string) {
	path := filepath.Join(w.dir, name)
	if err := w.fs.Rename(path, path+".corrupt"); err != nil {
		w.logger.Warn("wal: cannot set damaged file aside", "file", path, "err", err)
	}
}

// trimSnapshots deletes all but the newest snapshotsKept snapshot files.
func (w *WAL) trimSnapshots() error {
	if len(w.snapshots) <= snapshotsKept {
		return nil
	}
	drop := w.snapshots[:len(w.snapshots)-snapshotsKept]
	for _, index := range drop {
		if err := w.fs.Remove(filepath.Join(w.dir, snapshotName(index))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete old snapshot: %w", err)
		}
	}
	w.snapshots = append([]uint64(nil), w.snapshots[len(drop):]...)
	return w.syncDir()
}
