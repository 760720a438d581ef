package wal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// recoveringFile marks a data dir whose node restarted from storage that may
// have lost acknowledged entries or a vote, and has not yet caught up from a
// leader (raft.Restore.Recovering). It survives a crash during the catch-up,
// so a node that restarts half caught up still knows it must not vote.
const recoveringFile = "RECOVERING"

// MarkRecovering makes the recovering mark durable (file and directory
// fsynced) before the node speaks to anyone.
func (w *WAL) MarkRecovering() error {
	path := filepath.Join(w.dir, recoveringFile)
	f, err := w.fs.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create recovery mark %s: %w", path, err)
	}
	_, err = io.WriteString(f, "this node lost storage and has not caught up from a leader yet: it does not vote until then\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write recovery mark %s: %w", path, err)
	}
	w.fsyncs.Add(1)
	return w.syncDir()
}

// ClearRecovering removes the recovering mark once the node has caught up.
// The caller must have made the caught-up log durable first.
func (w *WAL) ClearRecovering() error {
	path := filepath.Join(w.dir, recoveringFile)
	if err := w.fs.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove recovery mark %s: %w", path, err)
	}
	return w.syncDir()
}

// recoveringMarked reports whether the data dir holds the recovering mark.
func (w *WAL) recoveringMarked() (bool, error) {
	_, err := w.fs.Stat(filepath.Join(w.dir, recoveringFile))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("check recovery mark in %s: %w", w.dir, err)
}
