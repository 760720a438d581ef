package harness

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Parallel runs on one store (faultline test started twice in one second)
// each get a run directory of their own, and store/latest ends up pointing at
// one of them.
func TestRunsStartedTogetherGetTheirOwnDirectories(t *testing.T) {
	store := t.TempDir()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const runs = 8
	dirs := make([]string, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() { dirs[i], errs[i] = newRunDir(store, "register-none", start) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range runs {
		require.NoError(t, errs[i])
		assert.False(t, seen[dirs[i]], "two runs got %s", dirs[i])
		seen[dirs[i]] = true
		assert.DirExists(t, filepath.Join(dirs[i], NodesDir))
	}
	latest, err := filepath.EvalSymlinks(filepath.Join(store, "latest"))
	require.NoError(t, err)
	pointsAtARun := false
	for dir := range seen {
		real, err := filepath.EvalSymlinks(dir)
		require.NoError(t, err)
		pointsAtARun = pointsAtARun || real == latest
	}
	assert.True(t, pointsAtARun, "latest points at %s, not at a run", latest)
	left, err := filepath.Glob(filepath.Join(store, "latest.tmp*"))
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary link is left behind")
}
