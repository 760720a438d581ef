package disk

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Sim is a deterministic in-memory file system for one node, with the
// durability of a real disk: what survives a crash is only what was fsynced.
// It holds no goroutines, real files or clocks, and every random choice of
// a crash comes from the *rand.Rand passed to Crash, so one seed gives the
// same bytes every time.
//
// The model is the contract POSIX and Linux promise, not what a particular
// file system happens to do on a good day:
//
//   - A write lands in the page cache: reads see it at once, a crash loses
//     it unless File.Sync ran after it ("fsync() transfers ... all modified
//     in-core data of ... the file ... so that all changed information can
//     be retrieved even if the system crashes", fsync(2)).
//   - File.Sync does not make the file's name durable: "Calling fsync() does
//     not necessarily ensure that the entry in the directory containing the
//     file has also reached disk. For that an explicit fsync() on a file
//     descriptor for the directory is also needed" (fsync(2)). So a created,
//     renamed or removed entry is pending until SyncDir of its directory; a
//     crash before that undoes it: a new file vanishes, a removed one comes
//     back with its durable content, a rename is undone. This is weaker
//     than ext4 with its journal, where the journal commit of a file's
//     fsync in practice carries the file's new entry along, but that is
//     how the implementation behaves, not what POSIX or fsync(2) promise;
//     Pillai et al., "All File Systems Are Not Created Equal" (OSDI 2014),
//     catalogue which orderings real file systems keep. A program that is
//     correct here relies only on the promise.
//   - A directory's own entry is likewise durable only once its parent is
//     synced; a directory whose entry is lost takes its contents with it.
//   - A crash may tear the last writes (CrashOptions.TornWrites): each file
//     keeps its durable content plus a prefix, of a length drawn from the
//     rng, of the bytes appended since its last fsync, possibly ending in
//     the middle of a record. The cut falls at any byte, which is harsher
//     than write-back in pages and sectors. A file changed by more than
//     appending since its last fsync (an overwrite or a truncation) is, per
//     file, either fully written back or not at all. Bytes that were
//     durable are never damaged by a crash: writes of one sector are
//     assumed atomic.
//   - A crash may also damage one 512-byte sector holding kept, unsynced
//     bytes (CrashOptions.CorruptSector): garbage where a torn sector write
//     was cut. CorruptSector damages any sector on purpose, as media
//     corruption would.
//
// Simplifications: no permissions are checked (mode bits are recorded),
// there is no free-space limit, no time (ModTime is zero), relative paths
// are resolved from "/", and a directory cannot be opened with OpenFile
// (SyncDir syncs it). A rename across directories is durable in each
// directory when that directory is synced.
//
// File handles opened before a Crash are dead after it, like the file
// descriptors of a process that died: every call on them fails.
//
// Sim is safe for concurrent use; the simulation drives it from one
// goroutine, and kvnode's threaded server uses it from its update loop.
type Sim struct {
	mu   sync.Mutex
	root *inode
	// generation counts crashes; a handle from an older one is dead.
	generation uint64
	// opsBeforeFreeze counts down the operations FreezeAfter allows;
	// negative when no freeze is armed.
	opsBeforeFreeze int
}

// ErrFrozen is the error of every operation after the machine froze
// (FreezeAfter), until the next Crash.
var ErrFrozen = errors.New("simulated machine stopped: waiting for a crash")

// SectorBytes is the unit of CrashOptions.CorruptSector and CorruptSector.
const SectorBytes = 512

// inode is a file or a directory.
type inode struct {
	dir  bool
	mode fs.FileMode

	// A file's content as reads see it (the page cache).
	data []byte
	// syncedBytes: data[:syncedBytes] is durable, and has not been changed
	// since, while durableCopy is nil. Writes beyond it are appends.
	syncedBytes int
	// durableCopy holds the durable content once a write or truncation
	// has changed bytes below syncedBytes since the last fsync.
	durableCopy []byte

	// A directory's entries as lookups see them, and the entries a crash
	// leaves (those present at the last SyncDir).
	entries        map[string]*inode
	durableEntries map[string]*inode
}

func newDir(mode fs.FileMode) *inode {
	return &inode{dir: true, mode: mode | fs.ModeDir, entries: map[string]*inode{}, durableEntries: map[string]*inode{}}
}

// NewSim returns an empty file system holding only its root, "/", durably.
func NewSim() *Sim { return &Sim{root: newDir(0o755), opsBeforeFreeze: -1} }

// FreezeAfter stops the machine after ops more operations (0: now): every
// later call on the Sim or a file of it fails with ErrFrozen and changes
// nothing, until Crash. Every method call of FS and File counts as one
// operation, reads included. A crash can so be placed inside any step of
// the code under test: between a write and its fsync, between creating a
// file and syncing its directory.
func (s *Sim) FreezeAfter(ops int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opsBeforeFreeze = max(ops, 0)
}

// enter locks the Sim for one operation, or returns the *fs.PathError of
// a frozen machine with the Sim unlocked.
func (s *Sim) enter(op, name string) error {
	s.mu.Lock()
	switch {
	case s.opsBeforeFreeze == 0:
		s.mu.Unlock()
		return &fs.PathError{Op: op, Path: name, Err: ErrFrozen}
	case s.opsBeforeFreeze > 0:
		s.opsBeforeFreeze--
	}
	return nil
}

var _ FS = (*Sim)(nil)

// clean makes name an absolute, clean path.
func clean(name string) string {
	return filepath.Clean("/" + name)
}

// walk returns the inode at the absolute clean path p.
func (s *Sim) walk(p string) (*inode, error) {
	n := s.root
	for part := range strings.SplitSeq(strings.TrimPrefix(p, "/"), "/") {
		if part == "" {
			continue
		}
		if !n.dir {
			return nil, syscall.ENOTDIR
		}
		next, ok := n.entries[part]
		if !ok {
			return nil, syscall.ENOENT
		}
		n = next
	}
	return n, nil
}

// lookup returns the inode at name, which must be a directory when dir is
// set and a file otherwise; errors are *fs.PathError for op.
func (s *Sim) lookup(op, name string, dir bool) (*inode, error) {
	n, err := s.walk(clean(name))
	switch {
	case err == nil && dir && !n.dir:
		err = syscall.ENOTDIR
	case err == nil && !dir && n.dir:
		err = syscall.EISDIR
	}
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return n, nil
}

// parent returns the directory that holds the entry of name, and the
// entry's name in it. The error is a bare errno for the caller to wrap.
func (s *Sim) parent(name string) (*inode, string, error) {
	p := clean(name)
	if p == "/" {
		return nil, "", syscall.EINVAL
	}
	dir, err := s.walk(filepath.Dir(p))
	if err == nil && !dir.dir {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, "", err
	}
	return dir, filepath.Base(p), nil
}

// supportedFlags are the open flags Sim implements.
const supportedFlags = os.O_RDONLY | os.O_WRONLY | os.O_RDWR | os.O_CREATE | os.O_EXCL | os.O_TRUNC | os.O_APPEND

// OpenFile opens or creates a file.
func (s *Sim) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	if err := s.enter("open", name); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if flag&^supportedFlags != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EINVAL}
	}
	dir, base, err := s.parent(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	n, exists := dir.entries[base]
	switch {
	case exists && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EEXIST}
	case exists && n.dir:
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	case !exists && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.ENOENT}
	case !exists:
		n = &inode{mode: perm.Perm()}
		dir.entries[base] = n
	}
	access := flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	f := &simFile{sim: s, ino: n, name: name, generation: s.generation,
		readable: access != os.O_WRONLY, writable: access != os.O_RDONLY, appending: flag&os.O_APPEND != 0}
	if flag&os.O_TRUNC != 0 && f.writable {
		n.truncate(0)
	}
	return f, nil
}

// ReadFile returns a copy of the file's content.
func (s *Sim) ReadFile(name string) ([]byte, error) {
	if err := s.enter("open", name); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	n, err := s.lookup("open", name, false)
	if err != nil {
		return nil, err
	}
	return slices.Clone(n.data), nil
}

// ReadDir lists a directory, sorted by name.
func (s *Sim) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := s.enter("readdirent", name); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	n, err := s.lookup("readdirent", name, true)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(n.entries))
	for _, entry := range sortedNames(n.entries) {
		out = append(out, fs.FileInfoToDirEntry(n.entries[entry].info(entry)))
	}
	return out, nil
}

// Stat describes a file or directory.
func (s *Sim) Stat(name string) (fs.FileInfo, error) {
	if err := s.enter("stat", name); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	p := clean(name)
	n, err := s.walk(p)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return n.info(filepath.Base(p)), nil
}

// Mkdir creates a directory; its entry is pending until its parent is synced.
func (s *Sim) Mkdir(name string, perm fs.FileMode) error {
	if err := s.enter("mkdir", name); err != nil {
		return err
	}
	defer s.mu.Unlock()
	dir, base, err := s.parent(name)
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: err}
	}
	if _, exists := dir.entries[base]; exists {
		return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.EEXIST}
	}
	dir.entries[base] = newDir(perm.Perm())
	return nil
}

// Remove removes a file or an empty directory; pending until the directory
// is synced.
func (s *Sim) Remove(name string) error {
	if err := s.enter("remove", name); err != nil {
		return err
	}
	defer s.mu.Unlock()
	dir, base, err := s.parent(name)
	if err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	n, exists := dir.entries[base]
	switch {
	case !exists:
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.ENOENT}
	case n.dir && len(n.entries) > 0:
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
	}
	delete(dir.entries, base)
	return nil
}

// Rename moves a file or directory, replacing a file at newpath; pending
// until the directories involved are synced.
func (s *Sim) Rename(oldpath, newpath string) error {
	if err := s.enter("rename", oldpath); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := s.rename(oldpath, newpath); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

func (s *Sim) rename(oldpath, newpath string) error {
	oldDir, oldBase, err := s.parent(oldpath)
	if err != nil {
		return err
	}
	newDir, newBase, err := s.parent(newpath)
	if err != nil {
		return err
	}
	n, exists := oldDir.entries[oldBase]
	switch {
	case !exists:
		return syscall.ENOENT
	case n.dir && strings.HasPrefix(clean(newpath)+"/", clean(oldpath)+"/"):
		return syscall.EINVAL
	}
	if target, ok := newDir.entries[newBase]; ok && target != n && (target.dir || n.dir) {
		return syscall.EEXIST
	}
	delete(oldDir.entries, oldBase)
	newDir.entries[newBase] = n
	return nil
}

// SyncDir makes the directory's current entries the ones a crash leaves.
func (s *Sim) SyncDir(name string) error {
	if err := s.enter("fsync", name); err != nil {
		return err
	}
	defer s.mu.Unlock()
	n, err := s.lookup("fsync", name, true)
	if err != nil {
		return err
	}
	n.durableEntries = cloneEntries(n.entries)
	return nil
}

func cloneEntries(m map[string]*inode) map[string]*inode {
	out := make(map[string]*inode, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedNames(m map[string]*inode) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// write stores p at off, keeping the durable content aside first if the
// write changes bytes that are durable.
func (n *inode) write(p []byte, off int64) {
	end := int(off) + len(p)
	if int(off) < n.syncedBytes && n.durableCopy == nil {
		n.durableCopy = slices.Clone(n.data[:n.syncedBytes])
	}
	if size := len(n.data); end > size {
		if end > cap(n.data) {
			// Double: append's growth for large slices (1.25x) copies a
			// growing segment file over and over.
			grown := make([]byte, size, max(end, 2*cap(n.data)))
			copy(grown, n.data)
			n.data = grown
		}
		n.data = n.data[:end]
		// A hole reads as zeros, whatever the array held before a truncation.
		clear(n.data[size:min(int(off), end)])
	}
	copy(n.data[off:], p)
}

// truncate sets the size, keeping the durable content aside first if that
// cuts durable bytes.
func (n *inode) truncate(size int) {
	if size < n.syncedBytes && n.durableCopy == nil {
		n.durableCopy = slices.Clone(n.data[:n.syncedBytes])
	}
	if size <= len(n.data) {
		n.data = n.data[:size]
		return
	}
	n.write(make([]byte, size-len(n.data)), int64(len(n.data)))
}

// sync makes the current content durable.
func (n *inode) sync() {
	n.syncedBytes = len(n.data)
	n.durableCopy = nil
}

func (n *inode) info(name string) fs.FileInfo {
	return fileInfo{name: name, size: int64(len(n.data)), mode: n.mode}
}

type fileInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return i.mode }
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }

// simFile is an open file of a Sim.
type simFile struct {
	sim        *Sim
	ino        *inode
	name       string
	generation uint64
	offset     int64
	readable   bool
	writable   bool
	appending  bool
	closed     bool
}

// errDeadHandle is returned by a handle opened before the last crash.
var errDeadHandle = &deadHandleError{}

type deadHandleError struct{}

func (*deadHandleError) Error() string {
	return "file handle opened before a simulated crash"
}

// lock locks the Sim and checks that the handle may be used for op.
func (f *simFile) lock(op string) error {
	if err := f.sim.enter(op, f.name); err != nil {
		return err
	}
	var err error
	switch {
	case f.closed:
		err = fs.ErrClosed
	case f.generation != f.sim.generation:
		err = errDeadHandle
	}
	if err != nil {
		f.sim.mu.Unlock()
		return &fs.PathError{Op: op, Path: f.name, Err: err}
	}
	return nil
}

func (f *simFile) Read(p []byte) (int, error) {
	if err := f.lock("read"); err != nil {
		return 0, err
	}
	defer f.sim.mu.Unlock()
	if !f.readable {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: syscall.EBADF}
	}
	if f.offset >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[f.offset:])
	f.offset += int64(n)
	return n, nil
}

func (f *simFile) Write(p []byte) (int, error) {
	if err := f.lock("write"); err != nil {
		return 0, err
	}
	defer f.sim.mu.Unlock()
	if !f.writable {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.EBADF}
	}
	if f.appending {
		f.offset = int64(len(f.ino.data))
	}
	f.ino.write(p, f.offset)
	f.offset += int64(len(p))
	return len(p), nil
}

func (f *simFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.lock("write"); err != nil {
		return 0, err
	}
	defer f.sim.mu.Unlock()
	switch {
	case !f.writable:
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.EBADF}
	case f.appending:
		return 0, &fs.PathError{Op: "writeat", Path: f.name, Err: syscall.EINVAL}
	case off < 0:
		return 0, &fs.PathError{Op: "writeat", Path: f.name, Err: syscall.EINVAL}
	}
	f.ino.write(p, off)
	return len(p), nil
}

func (f *simFile) Stat() (fs.FileInfo, error) {
	if err := f.lock("stat"); err != nil {
		return nil, err
	}
	defer f.sim.mu.Unlock()
	return f.ino.info(filepath.Base(clean(f.name))), nil
}

func (f *simFile) Sync() error {
	if err := f.lock("sync"); err != nil {
		return err
	}
	defer f.sim.mu.Unlock()
	f.ino.sync()
	return nil
}

func (f *simFile) Truncate(sizeBytes int64) error {
	if err := f.lock("truncate"); err != nil {
		return err
	}
	defer f.sim.mu.Unlock()
	if !f.writable || sizeBytes < 0 {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: syscall.EINVAL}
	}
	f.ino.truncate(int(sizeBytes))
	return nil
}

func (f *simFile) Close() error {
	if err := f.lock("close"); err != nil {
		return err
	}
	defer f.sim.mu.Unlock()
	f.closed = true
	return nil
}
