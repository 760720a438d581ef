package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
)

// Bad nightly flags are refused before any image is built or container
// started, so these need no Docker engine.
func TestSuiteNightlyFlagUsageErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"suite", "--budget", "5m"}, "--budget only applies with --explore"},
		{[]string{"suite", "--explore", "--budget", "0s"}, "--budget 0s"},
		{[]string{"suite", "--explore", "--nodes", "3"}, "--nodes is drawn by --explore"},
		{[]string{"suite", "--explore", "--time-limit", "10s"}, "--time-limit is drawn by --explore"},
		{[]string{"suite", "--explore", "--workloads", "bank"}, "--workloads"},
		{[]string{"suite", "--explore", "--nemeses", "meteor"}, "meteor"},
		{[]string{"suite", "--keep-last", "-1"}, "--keep-last -1"},
		{[]string{"suite", "--explore", "--keep-cluster"}, "--keep-cluster cannot be used with --explore"},
	}
	for _, tt := range tests {
		t.Run(tt.wantErr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := faultline(ctx, tt.args...).CombinedOutput()
			require.Error(t, err, "output: %s", out)
			assert.Equal(t, harness.ExitBadArgs, exitCode(err), "output: %s", out)
			assert.Contains(t, string(out), tt.wantErr)
		})
	}
}
