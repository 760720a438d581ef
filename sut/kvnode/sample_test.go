package kvnode

import (
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSampleConfigIsValidAndDeterministic(t *testing.T) {
	seen := map[string]map[any]bool{"heartbeat": {}, "election": {}, "snapshot": {}, "segment": {}}
	for seed := range int64(20) {
		a, b := rand.New(rand.NewSource(seed)), rand.New(rand.NewSource(seed))
		for i := range 50 {
			c := SampleConfig(a)
			require.NoError(t, ValidateSample(c), "seed %d draw %d: %v", seed, i, c.Flags())
			assert.Equal(t, c.Flags(), SampleNodeFlags(b), "the same seed draws the same flags")
			back, err := ParseConfig(c.Flags())
			require.NoError(t, err)
			assert.Equal(t, c, back)
			assert.GreaterOrEqual(t, c.ElectionTimeout, SampleElectionPerHeartbeat*c.HeartbeatInterval)
			seen["heartbeat"][c.HeartbeatInterval] = true
			seen["election"][c.ElectionTimeout] = true
			seen["snapshot"][c.SnapshotEntries] = true
			seen["segment"][c.SegmentBytes] = true
		}
	}
	assert.Len(t, seen["snapshot"], len(SampleSnapshotEntries))
	assert.Len(t, seen["segment"], len(SampleSegmentBytes))
	assert.Greater(t, len(seen["heartbeat"]), 10)
	assert.Greater(t, len(seen["election"]), 100)
}

func TestValidateSampleRejects(t *testing.T) {
	good := SampleConfig(rand.New(rand.NewSource(1)))
	require.NoError(t, ValidateSample(good))
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"election too close to heartbeat", func(c *Config) {
			c.HeartbeatInterval = 200 * time.Millisecond
			c.ElectionTimeout = 800 * time.Millisecond
		}, "at least 5 heartbeats"},
		{"heartbeat off the tick", func(c *Config) { c.HeartbeatInterval = 55 * time.Millisecond }, "heartbeat interval"},
		{"election too long", func(c *Config) { c.ElectionTimeout = 10 * time.Second }, "election timeout"},
		{"huge snapshot interval", func(c *Config) { c.SnapshotEntries = 10000 }, "snapshot entries"},
		{"zero segment", func(c *Config) { c.SegmentBytes = 0 }, "segment bytes"},
		{"an unsafe switch", func(c *Config) { c.Unsafe = []string{"stale-read"} }, "more than the sampled fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			err := ValidateSample(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
