package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Host locks let faultline processes that share one Docker engine from one
// host stay out of each other's way. The engine cannot tell that a process
// has just built an image it is about to create containers from, or that a
// cluster's harness is still running, so each process says so with flock(2)
// on a file in the temporary directory (every process must see the same
// TMPDIR). The kernel drops a lock when its process exits, however it exits,
// so a killed harness never leaves a stale lock behind.
//
// Processes on other hosts, or in another mount namespace with its own /tmp,
// are not seen: for them only the engine's own refusal to remove an image a
// container uses, and KeepImageTags, protect.

// lockDir holds the lock files; tests point it at a directory of their own.
var lockDir = os.TempDir()

// lockPollInterval is how often a blocked lock is retried; flock(2) itself
// cannot be given a context.
const lockPollInterval = 50 * time.Millisecond

// Lock files.
const (
	// imagesLockName is held shared by every process that built or reused a
	// node image, from BuildImage until PruneImages or exit, and exclusively
	// by PruneImages while it removes images.
	imagesLockName = "faultline-node-images.lock"
	// buildLockName is held exclusively around looking up and building the
	// node image, so processes that need the same image build it once.
	buildLockName = "faultline-node-build.lock"
)

// ErrImagesInUse is returned by PruneImages when another faultline process on
// this host holds a node image: it may be between building its image and
// creating containers from it, which no container shows yet.
var ErrImagesInUse = errors.New("another faultline process on this host is using a node image")

// openLock opens (creating) the lock file name in lockDir. Reading is enough
// to flock a file, so one another user created can be locked too.
func openLock(name string) (*os.File, error) {
	path := filepath.Join(lockDir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o666)
	if err != nil {
		// With fs.protected_regular, O_CREAT on another user's file in a
		// sticky directory such as /tmp is refused; a plain open is not.
		if g, gerr := os.Open(path); gerr == nil {
			return g, nil
		}
		return nil, fmt.Errorf("open lock file %s: %w (set TMPDIR to a writable directory every faultline process shares)", path, err)
	}
	return f, nil
}

// waitFlock takes mode on f, polling until ctx is done.
func waitFlock(ctx context.Context, f *os.File, mode int) error {
	for {
		ok, err := tryFlock(f, mode)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for lock %s: %w", f.Name(), ctx.Err())
		case <-time.After(lockPollInterval):
		}
	}
}

// hostLock is a lock file a process holds shared for as long as it uses what
// the lock guards, and takes exclusively to change it when no other process
// does.
type hostLock struct {
	name string
	mu   sync.Mutex
	f    *os.File // the shared hold, or nil
}

// nodeImages guards the node images (see imagesLockName).
var nodeImages = &hostLock{name: imagesLockName}

// hold takes the lock shared, waiting for an exclusive holder to finish, and
// keeps it until takeExclusive or the process exits. Holding it twice is one
// hold.
func (l *hostLock) hold(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		return nil
	}
	f, err := openLock(l.name)
	if err != nil {
		return err
	}
	if err := waitFlock(ctx, f, lockShared); err != nil {
		f.Close()
		return err
	}
	l.f = f
	return nil
}

// takeExclusive ends this process's hold and takes the lock exclusively,
// without waiting: it fails with ErrImagesInUse while another process holds
// it. Closing the returned file releases it.
func (l *hostLock) takeExclusive() (*os.File, error) {
	l.mu.Lock()
	f := l.f
	l.f = nil
	l.mu.Unlock()
	if f == nil {
		var err error
		if f, err = openLock(l.name); err != nil {
			return nil, err
		}
	}
	ok, err := tryFlock(f, lockExclusive)
	if err == nil && (!ok || !locksCoordinate) {
		err = ErrImagesInUse
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// lockBuild takes the build lock (see buildLockName); the returned function
// releases it.
func lockBuild(ctx context.Context) (func(), error) {
	f, err := openLock(buildLockName)
	if err != nil {
		return nil, err
	}
	if err := waitFlock(ctx, f, lockExclusive); err != nil {
		f.Close()
		return nil, fmt.Errorf("wait for another faultline process to build the node image: %w", err)
	}
	return func() { f.Close() }, nil
}
