package harness

import (
	"context"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/workloads"
)

func generated(t *testing.T, workload string, seed int64, n int) []history.Op {
	t.Helper()
	wl, err := workloads.ByName(workload)
	require.NoError(t, err)
	g := &sharedGenerator{gen: wl.NewGenerator(rand.New(rand.NewSource(seed)), 20)}
	var ops []history.Op
	for range n {
		op, ok := g.next()
		require.True(t, ok)
		ops = append(ops, op)
	}
	return ops
}

func TestSameSeedSameOps(t *testing.T) {
	for _, wl := range workloads.Names() {
		t.Run(wl, func(t *testing.T) {
			a := generated(t, wl, 7, 2000)
			b := generated(t, wl, 7, 2000)
			c := generated(t, wl, 8, 2000)
			assert.Equal(t, a, b, "the same seed must give the same op sequence")
			assert.NotEqual(t, a, c, "a different seed should give a different sequence")
		})
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Spec)
		wantErr string
	}{
		{"defaults", func(*Spec) {}, ""},
		{"zero nodes", func(s *Spec) { s.Nodes = 0 }, "--nodes"},
		{"unknown workload", func(s *Spec) { s.Workload = "bank" }, "--workload"},
		{"negative rate", func(s *Spec) { s.Rate = -1 }, "--rate"},
		{"tiny time limit", func(s *Spec) { s.TimeLimit = time.Millisecond }, "--time-limit"},
		{"bad name", func(s *Spec) { s.Name = "../escape" }, "--name"},
		{"no concurrency", func(s *Spec) { s.Concurrency = 0 }, "--concurrency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSpec()
			tt.change(&s)
			err := s.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, "register-none", s.Name)
				return
			}
			require.Error(t, err)
			assert.True(t, IsUsage(err), "a bad option is a usage error (exit 254)")
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestExitCodes(t *testing.T) {
	assert.Equal(t, 0, ExitCode(checker.Valid))
	assert.Equal(t, 1, ExitCode(checker.Invalid))
	assert.Equal(t, 2, ExitCode(checker.Unknown))
}

func TestRateLimiterSpacesStarts(t *testing.T) {
	r := newRateLimiter(200) // one start every 5 ms
	start := time.Now()
	for range 21 {
		require.NoError(t, r.wait(context.Background()))
	}
	// 21 starts need at least 20 intervals; no upper bound is asserted.
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Error(t, newRateLimiter(1).wait(ctx))
}

func TestNextBackoff(t *testing.T) {
	var got []time.Duration
	var b time.Duration
	for range 8 {
		b = nextBackoff(b)
		got = append(got, b)
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, 640 * ms, 640 * ms}, got)
}
