//go:build unix

package docker

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Lock modes for flock(2).
const (
	lockShared    = unix.LOCK_SH
	lockExclusive = unix.LOCK_EX
)

// locksCoordinate reports whether host locks coordinate faultline processes
// here; where they do not, every lock is granted at once.
const locksCoordinate = true

// tryFlock takes (or converts this open file's lock to) mode without
// blocking, and reports false when another holder's lock conflicts. Linux
// converts a lock by dropping it first, so a failed conversion may leave
// none: callers close the file after one.
func tryFlock(f *os.File, mode int) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), mode|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, unix.EINTR):
			continue
		default:
			return false, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
	}
}

// sameFile reports whether the open file is still the one at path (a lock
// on a file that was unlinked and recreated guards nothing).
func sameFile(f *os.File, path string) bool {
	open, err := f.Stat()
	if err != nil {
		return false
	}
	named, err := os.Stat(path)
	return err == nil && os.SameFile(open, named)
}
