package kvnode

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"time"
)

// Ranges of the node configurations SampleConfig draws for an exploration.
// Timeouts are multiples of the node's default tick (10ms) so the
// replication core sees exactly the drawn number of ticks.
const (
	// SampleTick is kvnode's default --tick; drawn timeouts are multiples of it.
	SampleTick = 10 * time.Millisecond
	// MinSampleHeartbeat and MaxSampleHeartbeat bound --heartbeat-interval.
	MinSampleHeartbeat = 50 * time.Millisecond
	MaxSampleHeartbeat = 200 * time.Millisecond
	// MinSampleElection and MaxSampleElection bound --election-timeout.
	// The core randomizes the timeout in [t, 2t), so 3s means a failover may
	// take up to 6s: slow, but still short next to a 20s run.
	MinSampleElection = 500 * time.Millisecond
	MaxSampleElection = 3 * time.Second
	// SampleElectionPerHeartbeat is the smallest election timeout in
	// heartbeats. kvnode only demands 2; 5 leaves room for a lost heartbeat or
	// two and for scheduling jitter on a loaded machine, so elections in an
	// explored run come from faults and not from a too-tight configuration.
	SampleElectionPerHeartbeat = 5
)

// SampleSnapshotEntries are the --snapshot-entries values drawn. kvnode's
// default (100000) is rarely reached in a 20-90s run under faults; these
// make a snapshot, the low-water mark moving, and segment deletion happen
// several times per run, so a killed or partitioned follower usually comes
// back behind the low-water mark and must be sent a snapshot.
var SampleSnapshotEntries = []uint64{100, 250, 500, 1000, 2500}

// SampleSegmentBytes are the --segment-bytes values drawn (16 KiB to 1 MiB
// against kvnode's 64 MiB default), so segments roll over and whole
// segments fall below the low-water mark during a run.
var SampleSegmentBytes = []int64{16 << 10, 64 << 10, 256 << 10, 1 << 20}

// SampleConfig draws a node configuration for one explored run: heartbeat
// interval, election timeout, snapshot and segment thresholds. It always
// makes the same four draws from r.
func SampleConfig(r *rand.Rand) Config {
	var c Config
	c.HeartbeatInterval = time.Duration(drawTicks(r, MinSampleHeartbeat, MaxSampleHeartbeat)) * SampleTick
	minElection := max(MinSampleElection, SampleElectionPerHeartbeat*c.HeartbeatInterval)
	c.ElectionTimeout = time.Duration(drawTicks(r, minElection, MaxSampleElection)) * SampleTick
	c.SnapshotEntries = SampleSnapshotEntries[r.Intn(len(SampleSnapshotEntries))]
	c.SegmentBytes = SampleSegmentBytes[r.Intn(len(SampleSegmentBytes))]
	return c
}

// SampleNodeFlags is SampleConfig rendered as node flags: the adapter's
// hook for the store-neutral explore loop.
func SampleNodeFlags(r *rand.Rand) []string { return SampleConfig(r).Flags() }

// drawTicks draws a whole number of ticks in [lo, hi].
func drawTicks(r *rand.Rand, lo, hi time.Duration) int64 {
	loTicks := int64((lo + SampleTick - 1) / SampleTick)
	hiTicks := max(int64(hi/SampleTick), loTicks)
	return loTicks + r.Int63n(hiTicks-loTicks+1)
}

// ValidateSample checks that c is a configuration SampleConfig can draw:
// timeouts in whole ticks within their ranges, the election timeout at
// least SampleElectionPerHeartbeat heartbeats, thresholds from the drawn
// sets, and nothing else set.
func ValidateSample(c Config) error {
	var errs []error
	hb, el := c.HeartbeatInterval, c.ElectionTimeout
	if hb < MinSampleHeartbeat || hb > MaxSampleHeartbeat || hb%SampleTick != 0 {
		errs = append(errs, fmt.Errorf("heartbeat interval %v: must be a multiple of %v in [%v, %v]", hb, SampleTick, MinSampleHeartbeat, MaxSampleHeartbeat))
	}
	if el < MinSampleElection || el > MaxSampleElection || el%SampleTick != 0 {
		errs = append(errs, fmt.Errorf("election timeout %v: must be a multiple of %v in [%v, %v]", el, SampleTick, MinSampleElection, MaxSampleElection))
	}
	if el < SampleElectionPerHeartbeat*hb {
		errs = append(errs, fmt.Errorf("election timeout %v: must be at least %d heartbeats (%v)", el, SampleElectionPerHeartbeat, SampleElectionPerHeartbeat*hb))
	}
	if !slices.Contains(SampleSnapshotEntries, c.SnapshotEntries) {
		errs = append(errs, fmt.Errorf("snapshot entries %d: must be one of %v", c.SnapshotEntries, SampleSnapshotEntries))
	}
	if !slices.Contains(SampleSegmentBytes, c.SegmentBytes) {
		errs = append(errs, fmt.Errorf("segment bytes %d: must be one of %v", c.SegmentBytes, SampleSegmentBytes))
	}
	drawn := Config{HeartbeatInterval: hb, ElectionTimeout: el, SnapshotEntries: c.SnapshotEntries, SegmentBytes: c.SegmentBytes}
	if !slices.Equal(c.Flags(), drawn.Flags()) {
		errs = append(errs, fmt.Errorf("sets more than the sampled fields: %v", c.Flags()))
	}
	return errors.Join(errs...)
}
