package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

// These tests run the real faultline binary against real node containers.
// They skip (saying why) only when no Docker engine answers.

var faultlineBin string

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "faultline-e2e")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		faultlineBin = filepath.Join(dir, "faultline")
		build := exec.Command("go", "build", "-o", faultlineBin, ".")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build faultline:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func requireDocker(t *testing.T) {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Skipf("no Docker engine answers (docker info: %v): start Docker to run the real-container tests", err)
	}
}

func faultline(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, faultlineBin, args...)
	cmd.Env = append(os.Environ(), "TESTCONTAINERS_RYUK_DISABLED=true")
	return cmd
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// leftovers counts containers and networks labelled with runID.
func leftovers(t *testing.T, runID string) int {
	t.Helper()
	n := 0
	for _, args := range [][]string{
		{"ps", "-aq", "--filter", "label=faultline.run=" + runID},
		{"network", "ls", "-q", "--filter", "label=faultline.run=" + runID},
	} {
		out, err := exec.Command("docker", args...).Output()
		require.NoError(t, err)
		n += len(strings.Fields(string(out)))
	}
	return n
}

func TestRegisterRunOnRealCluster(t *testing.T) {
	requireDocker(t)
	store := t.TempDir()
	runID := fmt.Sprintf("fl-e2e-%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := faultline(ctx, "test", "--nodes", "3", "--time-limit", "10s", "--nemesis", "none",
		"--concurrency", "8", "--store", store, "--run-id", runID, "--seed", "42")
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Log(out.String())
	require.Equal(t, 0, exitCode(err), "a correct kvnode without faults must be valid")
	assert.Equal(t, 0, leftovers(t, runID), "the run must remove its containers and network")

	dir, err := filepath.EvalSymlinks(filepath.Join(store, "latest"))
	require.NoError(t, err)
	h, err := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	require.NoError(t, err)
	require.NoError(t, h.Validate(), "the history must be well-formed")
	ok := 0
	for _, p := range h.ClientPairs() {
		if p.Outcome() == history.OK {
			ok++
		}
	}
	assert.GreaterOrEqual(t, ok, 300, "a 10 s run should complete hundreds of ops")
	for _, f := range []string{"test.json", "results.json", "index.html", "nodes/n1.log"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
}

func TestInterruptLeavesNothingBehind(t *testing.T) {
	requireDocker(t)
	store := t.TempDir()
	runID := fmt.Sprintf("fl-e2e-int-%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := faultline(ctx, "test", "--nodes", "3", "--time-limit", "2m", "--nemesis", "partition,pause",
		"--nemesis-interval", "1s", "--store", store, "--run-id", runID)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())

	// Wait until the main phase has recorded ops and a fault, then interrupt.
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if h, err := history.ReadFile(filepath.Join(store, "latest", "history.jsonl")); err == nil {
			if len(h) > 50 && len(h.FaultWindows()) > 0 {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Greater(t, leftovers(t, runID), 0, "the cluster should be running before the interrupt")
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	t.Log(out.String())
	assert.NotEqual(t, 0, exitCode(err), "an interrupted run is not a valid run")
	assert.Equal(t, 0, leftovers(t, runID), "SIGINT must remove the run's containers and network")
	h, err := history.ReadFile(filepath.Join(store, "latest", "history.jsonl"))
	require.NoError(t, err)
	for _, w := range h.FaultWindows() {
		assert.NotEqual(t, int64(1<<63-1), w.End, "every fault must be healed: %s", w.Kind)
	}
}

// TestCorrectNodeUnderEachFault runs a 30-second register workload against a
// correct 5-node kvnode under each fault on its own; every run must be
// linearizable and leave nothing behind.
func TestCorrectNodeUnderEachFault(t *testing.T) {
	requireDocker(t)
	if testing.Short() {
		t.Skip("-short: skipping four 30-second container runs")
	}
	for _, fault := range []string{"partition", "kill", "pause", "clock"} {
		t.Run(fault, func(t *testing.T) {
			store := t.TempDir()
			runID := fmt.Sprintf("fl-e2e-%s-%d", fault, time.Now().UnixNano())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var out bytes.Buffer
			cmd := faultline(ctx, "test", "--nodes", "5", "--time-limit", "30s", "--nemesis", fault,
				"--nemesis-interval", "5s", "--store", store, "--run-id", runID)
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			t.Log(out.String())
			if !assert.Equal(t, 0, exitCode(err), "the correct kvnode must be valid under %s", fault) {
				// The store is a temporary directory: the checkers' findings
				// go to the test log before it is removed.
				if results, err := os.ReadFile(filepath.Join(store, "latest", "results.json")); err == nil {
					t.Logf("results.json:\n%s", results)
				}
			}
			assert.Equal(t, 0, leftovers(t, runID))

			h, err := history.ReadFile(filepath.Join(store, "latest", "history.jsonl"))
			require.NoError(t, err)
			require.NoError(t, h.Validate())
			windows := h.FaultWindows()
			require.NotEmpty(t, windows, "the %s nemesis must have injected faults", fault)
			for _, w := range windows {
				assert.Equal(t, fault, w.Kind)
				assert.NotEqual(t, int64(1<<63-1), w.End, "every fault must be healed")
			}
		})
	}
}
