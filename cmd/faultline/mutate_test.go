package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
)

// TestMutateBadArguments: faultline mutate refuses bad flags with 254 and
// a message that says what to give instead, before building anything.
func TestMutateBadArguments(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--max-mutants", "0"}, "--max-mutants 0: give at least 1"},
		{[]string{"--seeds-per-mutant", "0"}, "--seeds-per-mutant 0"},
		{[]string{"--budget-per-mutant", "0s"}, "--budget-per-mutant 0s: give a positive duration"},
		{[]string{"--workers", "0"}, "--workers 0"},
		{[]string{"--min-score", "120"}, "between 0 and 100"},
		{[]string{"--packages", "node/nope"}, "node/nope is not a directory"},
		{[]string{"--packages", ","}, "--packages is empty"},
		{[]string{"--workloads", "queue"}, `unknown workload "queue"`},
		{[]string{"--root", os.TempDir()}, "holds no go.mod of faultline"},
		{[]string{"extra"}, "takes no arguments"},
		{[]string{"--baseline", "/nonexistent/baseline.json"}, "--baseline: baseline /nonexistent/baseline.json"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(append([]string{"mutate"}, tt.args...), &stderr)
			assert.Equal(t, harness.ExitBadArgs, code, stderr.String())
			assert.Contains(t, stderr.String(), tt.want)
		})
	}
}

// TestMutateUnknownMutant: an id --mutants names that no operator makes is
// refused with 254 before anything is built or swept.
func TestMutateUnknownMutant(t *testing.T) {
	store := t.TempDir()
	var stderr bytes.Buffer
	code := run([]string{"mutate", "--mutants", "0a83b68b0332,nope", "--store", store}, &stderr)
	assert.Equal(t, harness.ExitBadArgs, code, stderr.String())
	assert.Contains(t, stderr.String(), "--mutants: unknown mutant: nope is not among the")
	entries, err := os.ReadDir(store)
	require.NoError(t, err)
	assert.Empty(t, entries, "no campaign directory")
}

// TestMutateList: --list prints each mutant of the packages once, in the
// seeded order, and the same seed gives the same order.
func TestMutateList(t *testing.T) {
	list := func(seed string) []string {
		out := captureStdout(t, func() {
			var stderr bytes.Buffer
			require.Equal(t, harness.ExitValid, run([]string{"mutate", "--list", "--packages", "node/kv", "--seed", seed}, &stderr), stderr.String())
		})
		return strings.Split(strings.TrimSpace(out), "\n")
	}
	first := list("3")
	require.NotEmpty(t, first)
	for _, line := range first {
		assert.Contains(t, line, "node/kv/")
	}
	assert.Equal(t, first, list("3"))
	assert.NotEqual(t, first, list("4"))
}

func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	f()
	os.Stdout = old
	require.NoError(t, w.Close())
	return <-done
}
