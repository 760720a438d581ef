//go:build unix

package docker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// useLockDir points the host locks at a directory of the test's own. Two
// hostLock values on one file behave like two processes: flock(2) locks
// belong to open files, not processes.
func useLockDir(t *testing.T) {
	old := lockDir
	lockDir = t.TempDir()
	t.Cleanup(func() { lockDir = old })
}

func TestImagesArePrunedOnlyWhenNoOtherProcessHoldsThem(t *testing.T) {
	useLockDir(t)
	ctx := context.Background()
	us, other := &hostLock{name: "images.lock"}, &hostLock{name: "images.lock"}
	require.NoError(t, us.hold(ctx))
	require.NoError(t, us.hold(ctx), "holding twice is one hold")
	require.NoError(t, other.hold(ctx))

	_, err := us.takeExclusive()
	require.ErrorIs(t, err, ErrImagesInUse, "another process holds the images")

	lock, err := other.takeExclusive()
	require.NoError(t, err, "the last holder may prune")
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	require.Error(t, us.hold(short), "a new hold waits while images are being pruned")
	require.NoError(t, lock.Close())
	require.NoError(t, us.hold(ctx), "and gets its hold once pruning is done")
}

func TestBuildsTakeTurns(t *testing.T) {
	useLockDir(t)
	ctx := context.Background()
	unlock, err := lockBuild(ctx)
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = lockBuild(short)
	require.ErrorContains(t, err, "wait for another faultline process to build the node image")
	unlock()
	unlock, err = lockBuild(ctx)
	require.NoError(t, err)
	unlock()
}

func TestHeldRunIsLiveUntilReleased(t *testing.T) {
	useLockDir(t)
	release, err := HoldRun("fl-held")
	require.NoError(t, err)
	assert.True(t, runLive("fl-held"))
	assert.False(t, runLive("fl-other"), "a run nobody holds is not live")

	_, err = HoldRun("fl-held")
	require.ErrorContains(t, err, "another process on this host holds it")

	release()
	assert.False(t, runLive("fl-held"), "a released run is not live")
	release, err = HoldRun("fl-held")
	require.NoError(t, err, "a run id can be held again once released")
	release()

	_, err = HoldRun("bad id!")
	require.ErrorContains(t, err, "use letters, digits")
}
