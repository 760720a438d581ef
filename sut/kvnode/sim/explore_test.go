package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/server"
)

// effective is the configuration a run of cfg runs with.
func effective(cfg Config) Config {
	cfg.setDefaults()
	return cfg
}

// TestExploreDrawsFromTheSeed: the draw is a function of the seed alone, it
// changes with the seed, and without Explore nothing is drawn.
func TestExploreDrawsFromTheSeed(t *testing.T) {
	first := effective(Config{Seed: 11, Explore: true})
	assert.Equal(t, first, effective(Config{Seed: 11, Explore: true}), "same seed, same draw")
	assert.Equal(t, first, effective(first), "the effective configuration draws nothing more")

	fixed := effective(Config{Seed: 11})
	assert.Equal(t, 5, fixed.Nodes)
	assert.Equal(t, server.ReadIndex, fixed.ReadMode)
	assert.Equal(t, time.Second, fixed.ElectionTimeout)
	assert.Equal(t, 100*time.Millisecond, fixed.HeartbeatInterval)
	assert.Equal(t, uint64(1000), fixed.SnapshotEntries)

	nodes, modes, elections, snapshots := map[int]bool{}, map[server.ReadMode]bool{}, map[time.Duration]bool{}, map[uint64]bool{}
	for seed := range int64(50) {
		c := effective(Config{Seed: seed, Explore: true})
		nodes[c.Nodes] = true
		modes[c.ReadMode] = true
		elections[c.ElectionTimeout] = true
		snapshots[c.SnapshotEntries] = true
	}
	short, long := 0, 0
	for seed := range int64(200) {
		switch n := effective(Config{Seed: seed, Explore: true}).ClientIDBytes; {
		case n == 0:
			short++
		default:
			long++
			require.GreaterOrEqual(t, n, 4, "seed %d", seed)
			require.LessOrEqual(t, n, 512, "seed %d", seed)
		}
	}
	assert.Greater(t, short, 50, "short client ids")
	assert.Greater(t, long, 50, "client ids of drawn length")
	assert.Zero(t, fixed.ClientIDBytes, "short ids without Explore")
	assert.Len(t, nodes, 3, "3, 5 and 7 nodes")
	assert.Len(t, modes, 2, "index and lease reads")
	assert.Greater(t, len(elections), 20)
	assert.Greater(t, len(snapshots), 20)
}

// TestExploreKeepsWhatTheCallerSet: a field the caller set is kept, and the
// other fields draw what they draw without it, but for the heartbeat and the
// election timeout, which follow each other, and the fault interval, which
// follows the election timeout.
func TestExploreKeepsWhatTheCallerSet(t *testing.T) {
	tests := []struct {
		name  string
		set   func(*Config)
		check func(*testing.T, Config)
	}{
		{"nodes", func(c *Config) { c.Nodes = 9 }, func(t *testing.T, c Config) { assert.Equal(t, 9, c.Nodes) }},
		{"read mode", func(c *Config) { c.ReadMode = server.ReadLocal }, func(t *testing.T, c Config) {
			assert.Equal(t, server.ReadLocal, c.ReadMode)
		}},
		{"election timeout", func(c *Config) { c.ElectionTimeout = 5 * time.Second }, func(t *testing.T, c Config) {
			assert.Equal(t, 5*time.Second, c.ElectionTimeout)
			assert.LessOrEqual(t, 2*c.HeartbeatInterval, c.ElectionTimeout, "the drawn heartbeat follows it")
		}},
		{"heartbeat interval", func(c *Config) { c.HeartbeatInterval = 700 * time.Millisecond }, func(t *testing.T, c Config) {
			assert.Equal(t, 700*time.Millisecond, c.HeartbeatInterval)
			assert.GreaterOrEqual(t, c.ElectionTimeout, 2*c.HeartbeatInterval, "the drawn election timeout makes room")
		}},
		{"appends", func(c *Config) { c.MaxEntriesPerAppend, c.MaxInflightAppends = 1000, 500 }, func(t *testing.T, c Config) {
			assert.Equal(t, 1000, c.MaxEntriesPerAppend)
			assert.Equal(t, 500, c.MaxInflightAppends)
		}},
		{"storage", func(c *Config) { c.SnapshotEntries, c.SegmentBytes = 7, 3 }, func(t *testing.T, c Config) {
			assert.Equal(t, uint64(7), c.SnapshotEntries)
			assert.Equal(t, int64(3), c.SegmentBytes)
		}},
		{"network", func(c *Config) { c.MinDelay, c.MaxDelay = time.Millisecond, 2*time.Millisecond }, func(t *testing.T, c Config) {
			assert.Equal(t, time.Millisecond, c.MinDelay)
			assert.Equal(t, 2*time.Millisecond, c.MaxDelay)
		}},
		{"client ids", func(c *Config) { c.ClientIDBytes = 1000 }, func(t *testing.T, c Config) {
			assert.Equal(t, 1000, c.ClientIDBytes)
		}},
		{"nemesis and clients", func(c *Config) { c.FaultLanes, c.FaultInterval, c.Clients, c.Rate = 4, time.Minute, 2, 1 },
			func(t *testing.T, c Config) {
				assert.Equal(t, 4, c.FaultLanes)
				assert.Equal(t, time.Minute, c.FaultInterval)
				assert.Equal(t, 2, c.Clients)
				assert.Equal(t, 1.0, c.Rate)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range int64(20) {
				drawn := effective(Config{Seed: seed, Explore: true})
				cfg := Config{Seed: seed, Explore: true}
				tt.set(&cfg)
				got := effective(cfg)
				tt.check(t, got)
				// Set the same fields on the plain draw: the rest must match.
				tt.set(&drawn)
				if cfg.FaultInterval == 0 {
					drawn.FaultInterval = got.FaultInterval
				}
				drawn.ElectionTimeout, drawn.HeartbeatInterval = got.ElectionTimeout, got.HeartbeatInterval
				require.Equal(t, drawn, got, "seed %d", seed)
			}
		})
	}
}

// TestExploreDrawsConfigurationsTheNodeTakes: every draw is one a node
// starts with (server.Config.Validate: an election timeout of at least two
// heartbeats, a heartbeat of at least one tick) and one the simulation
// checks soundly (a linearizable read mode, delays in order).
func TestExploreDrawsConfigurationsTheNodeTakes(t *testing.T) {
	for seed := range int64(1000) {
		c := effective(Config{Seed: seed, Explore: true})
		require.Contains(t, []int{3, 5, 7}, c.Nodes, "seed %d", seed)
		require.Contains(t, []server.ReadMode{server.ReadIndex, server.ReadLease}, c.ReadMode, "seed %d", seed)
		require.GreaterOrEqual(t, c.HeartbeatInterval, nodeTick, "seed %d", seed)
		require.GreaterOrEqual(t, c.ElectionTimeout, 2*c.HeartbeatInterval, "seed %d", seed)
		require.Zero(t, c.ElectionTimeout%nodeTick, "seed %d", seed)
		require.Positive(t, c.MinDelay, "seed %d", seed)
		require.LessOrEqual(t, c.MinDelay, c.MaxDelay, "seed %d", seed)
		require.Positive(t, c.SnapshotEntries, "seed %d", seed)
		require.Positive(t, c.SegmentBytes, "seed %d", seed)
		require.Positive(t, c.Rate, "seed %d", seed)
		require.GreaterOrEqual(t, c.FaultInterval, c.ElectionTimeout, "seed %d: faults give the cluster time to fail over", seed)
		w := &world{cfg: c}
		for i := range c.Nodes {
			w.nodes = append(w.nodes, &node{id: "n" + string(rune('1'+i))})
		}
		ncfg := w.nodeConfig("n1")
		ncfg.FS = nil
		require.NoError(t, ncfg.Validate(), "seed %d", seed)
	}
}

// TestFocusFaults: a test's three kinds or fewer are kept as asked; of more,
// a seed keeps all or one to three of them, in the order asked, and over
// many seeds both happen and every kind is focused on.
func TestFocusFaults(t *testing.T) {
	for _, faults := range [][]string{nil, {FaultKill}, {FaultPartition, FaultClock, FaultKill}} {
		for seed := range int64(20) {
			c := effective(Config{Seed: seed, Explore: true, Faults: faults})
			assert.Equal(t, faults, c.Faults, "seed %d keeps %v", seed, faults)
		}
	}

	all := FaultKinds()
	full, focused, seen := 0, 0, map[string]bool{}
	for seed := range int64(200) {
		c := effective(Config{Seed: seed, Explore: true, Faults: all})
		assert.Equal(t, c.Faults, effective(Config{Seed: seed, Explore: true, Faults: all}).Faults, "seed %d draws its focus again", seed)
		if len(c.Faults) == len(all) {
			full++
			continue
		}
		focused++
		require.True(t, len(c.Faults) >= 1 && len(c.Faults) <= maxFocus, "seed %d focuses on %v", seed, c.Faults)
		last := -1
		for _, kind := range c.Faults {
			i := slices.Index(all, kind)
			require.Greater(t, i, last, "seed %d: %v is not in the order asked", seed, c.Faults)
			last = i
			seen[kind] = true
		}
	}
	assert.Greater(t, full, 50, "about half of 200 seeds keep every kind")
	assert.Greater(t, focused, 50, "about half of 200 seeds focus")
	assert.Len(t, seen, len(all), "every kind is focused on by some seed")

	fixed := effective(Config{Seed: 3, Faults: all})
	assert.Equal(t, all, fixed.Faults, "without Explore the faults are the test's")
}
