//go:build docker

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/rundir"
)

// TestParallelRunsShareOneEngine starts three real 'faultline test' processes
// at once on one engine and one store. Two build the same node image (their
// builds take turns, so the second reuses the first's); the third compiles
// the node binaries without inlining (GOFLAGS=-gcflags=-l), so its image has
// another content hash and is built, and old images pruned, while the others
// are between building theirs and creating containers from it, which used to
// remove their image. A 'faultline cleanup --run' aimed at a live run must
// leave it alone. Every run must be valid and leave nothing behind.
func TestParallelRunsShareOneEngine(t *testing.T) {
	requireDocker(t)
	store := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	type process struct {
		runID string
		cmd   *exec.Cmd
		out   bytes.Buffer
		done  chan error
	}
	start := time.Now()
	procs := make([]*process, 3)
	for i := range procs {
		p := &process{runID: fmt.Sprintf("fl-par-%d-%d", start.UnixNano(), i), done: make(chan error, 1)}
		p.cmd = faultline(ctx, "test", "--nodes", "3", "--time-limit", "5s", "--nemesis", "none",
			"--concurrency", "4", "--store", store, "--run-id", p.runID,
			"--name", fmt.Sprintf("parallel-%d", i), "--seed", fmt.Sprint(i+1))
		if i == 2 {
			p.cmd.Env = append(p.cmd.Env, "GOFLAGS="+strings.TrimSpace(goEnv(t, "GOFLAGS")+" -gcflags=-l"))
		}
		p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
		require.NoError(t, p.cmd.Start())
		go func() { p.done <- p.cmd.Wait() }()
		procs[i] = p
	}
	t.Cleanup(func() {
		for _, p := range procs {
			_, _ = faultline(context.Background(), "cleanup", "--force", "--run", p.runID).CombinedOutput()
		}
	})

	// While the first run's cluster is up, a cleanup aimed at it must see
	// that it is live and leave it (and the node images) alone.
	first := procs[0]
	require.Eventually(t, func() bool { return leftovers(t, first.runID) > 0 }, 3*time.Minute, 100*time.Millisecond,
		"run %s never created its cluster", first.runID)
	out, err := faultline(ctx, "cleanup", "--run", first.runID).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "left 1 live runs ("+first.runID+")")
	assert.Contains(t, string(out), "left node images: another faultline process is using one")

	for i, p := range procs {
		var err error
		select {
		case err = <-p.done:
		case <-ctx.Done():
			t.Fatalf("run %d (%s) did not finish: %s", i, p.runID, p.out.String())
		}
		assert.Equal(t, harness.ExitValid, exitCode(err), "run %d (%s) must be valid:\n%s", i, p.runID, p.out.String())
		assert.Equal(t, 0, leftovers(t, p.runID), "run %s must remove its containers and network", p.runID)
	}
	t.Logf("three parallel runs done in %v", time.Since(start).Round(100*time.Millisecond))

	results, err := filepath.Glob(filepath.Join(store, "parallel-*", "*", rundir.ResultsFile))
	require.NoError(t, err)
	assert.Len(t, results, 3, "each run has a run directory of its own, with its results")
	for _, path := range results {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Contains(t, string(b), `"verdict": "`+string(checker.Valid)+`"`, path)
	}
	tags := map[string]bool{}
	for _, p := range procs {
		if m := imageTagLine(p.out.String()); m != "" {
			tags[m] = true
		}
	}
	assert.Len(t, tags, 2, "two node images: the shared one and the one built without inlining")
}

// imageTagLine finds the "node image <tag> ready" line of a run's output.
func imageTagLine(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "node image "); ok {
			if tag, _, ok := strings.Cut(rest, " ready"); ok {
				return tag
			}
		}
	}
	return ""
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}
