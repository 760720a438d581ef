package wal

// UNSAFE(skip-fsync): this file implements the bug zoo's skip-fsync switch.
//
// With Options.UnsafeSkipFsync, Sync hands the bytes to the OS but does not
// fsync them, so the node acknowledges writes that a power loss would erase.
// The harness cannot cut the power of a container, and a SIGKILL does not
// empty the kernel's page cache, so the WAL simulates the loss on its own
// data: roughly once a second (durableMarkInterval, about how often a kernel
// writes dirty pages back) it records in the sidecar file "durable" the
// segment and byte offset that a real fsync would have made durable, and
// that small file is fsynced for real. Open with UnsafeSkipFsync then
// deletes every segment newer than the recorded one and truncates the
// recorded one to the recorded offset, throwing away up to a second of
// acknowledged writes, as the crash of a machine would.
//
// Snapshot files and directory entries are still fsynced: the switch breaks
// the log only. A clean Close records everything as durable.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

const (
	durableFileName     = "durable"
	durableMarkBytes    = 8 + 8 + 4 // segment seq, offset, CRC-32C
	durableMarkInterval = time.Second
)

// maybeWriteDurableMark records the durable point if the last record is
// older than durableMarkInterval.
func (w *WAL) maybeWriteDurableMark() error {
	if w.now().Sub(w.durableMarkTime) < durableMarkInterval {
		return nil
	}
	return w.writeDurableMark()
}

// writeDurableMark records the end of what has been handed to the OS in the
// active segment as durable.
func (w *WAL) writeDurableMark() error {
	if w.durableFile == nil {
		f, err := w.fs.OpenFile(filepath.Join(w.dir, durableFileName), os.O_CREATE|os.O_WRONLY, 0o640)
		if err != nil {
			return fmt.Errorf("open durable mark: %w", err)
		}
		w.durableFile = f
	}
	buf := make([]byte, 0, durableMarkBytes)
	buf = binary.LittleEndian.AppendUint64(buf, w.activeSeq)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(w.syncedBytes))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
	if _, err := w.durableFile.WriteAt(buf, 0); err != nil {
		return fmt.Errorf("write durable mark: %w", err)
	}
	if err := w.fsync(w.durableFile); err != nil {
		return fmt.Errorf("fsync durable mark: %w", err)
	}
	w.durableMarkTime = w.now()
	return nil
}

func (w *WAL) closeDurableFile() {
	if w.durableFile != nil {
		_ = w.durableFile.Close()
		w.durableFile = nil
	}
}

// discardUndurable simulates the page cache lost in a crash: it cuts the log
// back to the recorded durable mark and returns the segments that remain.
func (w *WAL) discardUndurable(segments []uint64) ([]uint64, error) {
	b, err := w.fs.ReadFile(filepath.Join(w.dir, durableFileName))
	if errors.Is(err, fs.ErrNotExist) {
		if len(segments) > 0 {
			w.logger.Warn("wal: UNSAFE skip-fsync: no durable mark; keeping the whole log")
		}
		return segments, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read durable mark: %w", err)
	}
	if len(b) != durableMarkBytes || crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		w.logger.Warn("wal: UNSAFE skip-fsync: damaged durable mark; keeping the whole log")
		return segments, nil
	}
	seq := binary.LittleEndian.Uint64(b)
	offset := int64(binary.LittleEndian.Uint64(b[8:]))
	at := slices.Index(segments, seq)
	if at < 0 {
		w.logger.Warn("wal: UNSAFE skip-fsync: durable mark names a missing segment; keeping the whole log", "segment", seq)
		return segments, nil
	}
	for _, newer := range segments[at+1:] {
		path := w.segmentPath(newer)
		w.logger.Warn("wal: UNSAFE skip-fsync: discarding a segment that was never fsynced", "segment", path)
		if err := w.fs.Remove(path); err != nil {
			return nil, fmt.Errorf("discard segment %s: %w", path, err)
		}
	}
	path := w.segmentPath(seq)
	info, err := w.fs.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("stat segment %s: %w", path, err)
	}
	if info.Size() > offset {
		w.logger.Warn("wal: UNSAFE skip-fsync: discarding writes that were never fsynced",
			"segment", path, "offset", offset, "bytes", info.Size()-offset)
		if err := w.truncateFile(path, offset); err != nil {
			return nil, err
		}
	}
	if err := w.syncDir(); err != nil {
		return nil, err
	}
	return segments[:at+1], nil
}

// removeDurableMark deletes a mark left by an earlier run with
// UnsafeSkipFsync: a run without the switch makes it stale, and a later
// unsafe run must not cut the log back to it.
func (w *WAL) removeDurableMark() error {
	err := w.fs.Remove(filepath.Join(w.dir, durableFileName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale durable mark: %w", err)
	}
	return nil
}
