package main

import (
	"context"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/campaign"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/sut/kvnode"
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

// kvnode's explored runs carry a drawn node configuration its adapter
// accepts; etcd, with no sampler, runs every explored configuration with
// only the flags the user gave.
func TestExploreDrawsNodeConfigThroughTheAdapter(t *testing.T) {
	kv, etcd := storesUnderTest[kvnode.Name], storesUnderTest["etcd"]
	require.NotNil(t, kv.sampleNode)
	require.Nil(t, etcd.sampleNode)
	space := campaign.DefaultExploreSpace()
	space.SampleNode = kv.sampleNode
	master := rand.New(rand.NewSource(7))
	for i := range 20 {
		c := campaign.DrawConfig(master, space, i, 0)
		require.NoError(t, c.Validate())
		cfg, err := kvnode.ParseConfig(c.NodeFlags)
		require.NoError(t, err)
		require.NoError(t, kvnode.ValidateSample(cfg), "config %d: %v", i, c.NodeFlags)
		spec := c.Spec(harness.DefaultSpec())
		require.NoError(t, kv.validateFlags(spec.NodeFlags))
		assert.Contains(t, spec.Command(), "--node-flags=")
	}
	space.SampleNode = etcd.sampleNode
	c := campaign.DrawConfig(master, space, 0, 0)
	base := harness.DefaultSpec()
	base.NodeFlags = []string{"--snapshot-count=1000"}
	assert.Equal(t, []string{"--snapshot-count=1000"}, c.Spec(base).NodeFlags)
}
