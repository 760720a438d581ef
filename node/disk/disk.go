// Package disk is the file system kvnode's storage uses, behind a small
// interface with two implementations: OS, a thin wrapper over package os,
// and Sim, a deterministic in-memory file system that models the page cache
// (writes are lost in a crash unless fsynced), directory entries that are
// durable only once their directory is fsynced, torn writes and damaged
// sectors. node/wal and node/server's data-dir check do every file
// operation through an FS, so the same code runs on a real disk and in the
// deterministic simulation.
package disk

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// FS is the file system operations kvnode's storage needs. Paths are
// operating-system paths (filepath). Errors wrap the fs.Err* sentinels
// (fs.ErrNotExist, fs.ErrExist, ...) as package os does, so callers test
// them with errors.Is.
type FS interface {
	// OpenFile opens name with os.O_* flags (O_RDONLY, O_WRONLY, O_RDWR,
	// O_CREATE, O_EXCL, O_TRUNC, O_APPEND). A file it creates is not
	// durable, its directory entry included, until the file and its
	// directory are fsynced (File.Sync, SyncDir).
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// ReadFile returns the whole content of name.
	ReadFile(name string) ([]byte, error)
	// ReadDir lists the directory name, sorted by file name.
	ReadDir(name string) ([]fs.DirEntry, error)
	// Stat describes name.
	Stat(name string) (fs.FileInfo, error)
	// Mkdir creates the directory name; its parent must exist.
	Mkdir(name string, perm fs.FileMode) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// Rename moves oldpath to newpath, replacing a file there.
	Rename(oldpath, newpath string) error
	// SyncDir fsyncs the directory name: the creations, renames and removals
	// of its entries made so far survive a crash.
	SyncDir(name string) error
}

// File is an open file. *os.File implements it.
type File interface {
	io.Reader
	io.Writer
	// WriteAt writes at an offset; not allowed on a file opened O_APPEND.
	io.WriterAt
	// Stat describes the open file.
	Stat() (fs.FileInfo, error)
	// Sync fsyncs the file's content (not its directory entry).
	Sync() error
	// Truncate changes the file's size.
	Truncate(sizeBytes int64) error
	Close() error
}

// OS is the real file system.
type OS struct{}

var _ FS = OS{}

// OpenFile is os.OpenFile.
func (OS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		// A nil *os.File must not become a non-nil File.
		return nil, err
	}
	return f, nil
}

// ReadFile is os.ReadFile.
func (OS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// ReadDir is os.ReadDir.
func (OS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// Stat is os.Stat.
func (OS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// Mkdir is os.Mkdir.
func (OS) Mkdir(name string, perm fs.FileMode) error { return os.Mkdir(name, perm) }

// Remove is os.Remove.
func (OS) Remove(name string) error { return os.Remove(name) }

// Rename is os.Rename.
func (OS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// SyncDir opens the directory and fsyncs it.
func (OS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if closeErr := d.Close(); err == nil {
		err = closeErr
	}
	return err
}

// Or returns fsys, or OS when fsys is nil: the default of a nil FS option.
func Or(fsys FS) FS {
	if fsys == nil {
		return OS{}
	}
	return fsys
}

// MkdirAll creates dir and any missing parents, like os.MkdirAll, and
// fsyncs the directory that received each new entry, so that what it
// created survives a crash (an entry is durable only once its directory is
// fsynced). A dir that already exists is left alone.
func MkdirAll(fsys FS, dir string, perm fs.FileMode) error {
	info, err := fsys.Stat(dir)
	if err == nil {
		if !info.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: errNotDir}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirAll(fsys, parent, perm); err != nil {
			return err
		}
	}
	if err := fsys.Mkdir(dir, perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := fsys.SyncDir(parent); err != nil {
		return fmt.Errorf("fsync dir %s: %w", parent, err)
	}
	return nil
}

// errNotDir is the error for a path used as a directory that is a file.
var errNotDir = errors.New("not a directory")
