package docker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// runLockWait bounds HoldRun's wait for a run's lock.
const runLockWait = 2 * time.Second

// runLockName is the lock file a live run holds (see HoldRun).
func runLockName(runID string) string { return "faultline-run-" + runID + ".lock" }

// checkRunID refuses a run id that cannot label containers or name a file.
func checkRunID(runID string) error {
	if !runIDPattern.MatchString(runID) {
		return fmt.Errorf("run id %q: use letters, digits, '_', '.' and '-' (at most 63)", runID)
	}
	return nil
}

// HoldRun marks the run live on this host until release is called or the
// process exits, however it exits: CleanupUnused leaves a live run's
// containers and network alone unless forced. A run is held by the process
// that sets it up and checks it (faultline test, suite and bugs hold each of
// theirs); a run left behind by a killed process, or kept with
// --keep-cluster after its process ended, is not live.
func HoldRun(runID string) (release func(), err error) {
	if err := checkRunID(runID); err != nil {
		return nil, fmt.Errorf("hold run: %w", err)
	}
	name := runLockName(runID)
	path := filepath.Join(lockDir, name)
	// A previous holder of the same id (tests reuse ids) removes the file on
	// release; if that happens between our open and our lock, the lock
	// guards a file nobody else can find, so take the new one.
	for range 10 {
		f, err := openLock(name)
		if err != nil {
			return nil, fmt.Errorf("hold run %s: %w", runID, err)
		}
		// CleanupUnused's probe holds the lock shared for a moment; a
		// process that holds the same run keeps it.
		ctx, cancel := context.WithTimeout(context.Background(), runLockWait)
		err = waitFlock(ctx, f, lockExclusive)
		cancel()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("hold run %s: another process on this host holds it (give this run another id): %w", runID, err)
		}
		if sameFile(f, path) {
			return func() {
				os.Remove(path)
				f.Close()
			}, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("hold run %s: its lock file %s keeps being replaced", runID, path)
}

// runLive reports whether a process on this host holds the run (HoldRun).
// When the lock cannot be read it answers true: leaving a run's containers
// is recoverable, removing a live run's is not.
func runLive(runID string) bool {
	if checkRunID(runID) != nil {
		return false
	}
	f, err := os.Open(filepath.Join(lockDir, runLockName(runID)))
	if err != nil {
		return !os.IsNotExist(err)
	}
	defer f.Close()
	ok, err := tryFlock(f, lockShared)
	return err != nil || !ok
}

// ValidRunID reports whether runID can be a run id.
func ValidRunID(runID string) bool { return checkRunID(runID) == nil }
