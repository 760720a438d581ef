package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/faultline/faultline/node/server"
)

// exploreStream selects the random stream the configuration is drawn from:
// the seed's own stream, apart from the world's (Run), so a run without
// Explore draws nothing from it and its history stays what it was, and a
// run with Explore sees the same faults and client choices as the fixed
// configuration would have until the drawn configuration makes it differ.
const exploreStream = 0x6a09e667f3bcc909

// explore fills every field of c that the caller left zero and that a
// store's operator chooses with a value drawn from the seed (Config.Explore).
// A store is run in many configurations, and a bug often shows only in some:
// a small cluster loses its quorum to one more crash, a lease read exists
// only in lease mode, a short election timeout makes elections overlap
// faults, small appends and a slow network leave followers behind, and
// frequent snapshots make a lagging follower catch up from a snapshot
// instead of the log. The draw covers, each on its own:
//
//   - Nodes: 3 or 5 (as often), 7 (rarely: a run costs more per node).
//   - ReadMode: index or lease, as often; never local, which is documented
//     as not linearizable.
//   - ElectionTimeout: 300 ms to 2 s (log scale), a multiple of the tick;
//     HeartbeatInterval a third, a fifth, a tenth or a twentieth of it (at
//     least one tick), the ratios deployed stores use.
//   - MaxEntriesPerAppend: the node's default (256) or 1 to 8, so a
//     follower that fell behind catches up over many appends.
//   - MaxInflightAppends: the node's default (64) or 1 to 4, so appends
//     wait for acknowledgements and retries matter.
//   - SnapshotEntries: 25 to 1000 (log scale), so snapshots, compaction and
//     snapshot transfers happen within a short run, under faults.
//   - SegmentBytes: the default 1 MiB or 4 to 64 KiB (log scale), so WAL
//     segments roll over and are deleted under crashes.
//   - MinDelay and MaxDelay: a network from a fast LAN (up to 1 ms) to a
//     slow one (up to 30 ms), MinDelay a fraction of MaxDelay.
//   - FaultLanes 1 to 3, FaultInterval 1.5 to 5 election timeouts (log
//     scale): how busy the nemesis is, against how fast the store fails
//     over.
//   - Clients 5, 10 or 15 and Rate 50 to 200 ops/s (log scale): how busy
//     the clients are, within what a 10 s run checks quickly.
//   - The fault focus (focusFaults): when the test asks for more than
//     three fault kinds, half of the seeds run all of them and the other
//     half a subset of one to three, drawn anew for each seed.
//   - ClientIDBytes: short ids ("c3") or 4 to 512 bytes (log scale), as
//     often: the length of what a client names itself, which the node
//     stores in every write's command and its session table, is the
//     client's to choose, and sizes the node computes from it must hold for
//     any length.
//
// Every value is drawn, set or not, so a field the caller sets does not
// shift the draws of the others; a drawn zero leaves the field to its
// default. The run length, the workload and the unsafe switches are the
// test's, not the store's configuration, and are never drawn; of the
// faults, only the focus is.
func (c *Config) explore() {
	r := rand.New(rand.NewPCG(uint64(c.Seed), exploreStream))
	fill(&c.Nodes, pick(r, 3, 3, 3, 3, 5, 5, 5, 5, 7))
	fill(&c.ReadMode, pick(r, server.ReadIndex, server.ReadLease))

	// The heartbeat follows the election timeout, whichever of the two the
	// caller set; the node refuses an election timeout under two heartbeats.
	election := roundTo(logUniform(r, 300*time.Millisecond, 2*time.Second), nodeTick)
	ratio := time.Duration(pick(r, 3, 5, 10, 20))
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = max(election, 2*c.HeartbeatInterval)
	}
	fill(&c.HeartbeatInterval, roundTo(c.ElectionTimeout/ratio, nodeTick))

	fill(&c.MaxEntriesPerAppend, pick(r, 0, 1+r.IntN(8)))
	fill(&c.MaxInflightAppends, pick(r, 0, 1+r.IntN(4)))
	fill(&c.SnapshotEntries, uint64(logUniform[int64](r, 25, 1000)))
	fill(&c.SegmentBytes, pick(r, 0, logUniform[int64](r, 4<<10, 64<<10)))

	fill(&c.MaxDelay, logUniform(r, time.Millisecond, 30*time.Millisecond))
	fill(&c.MinDelay, logUniform(r, 50*time.Microsecond, max(c.MaxDelay/4, 50*time.Microsecond)))
	fill(&c.FaultLanes, 1+r.IntN(3))
	// The nemesis keeps the store's pace: a fault that returns before the
	// cluster could elect a leader again shows only that it is unavailable
	// (a run where no write or cas succeeds decides nothing).
	fill(&c.FaultInterval, time.Duration(float64(c.ElectionTimeout)*logUniform(r, 1.5, 5.0)))
	fill(&c.Clients, pick(r, 5, 10, 15))
	fill(&c.Rate, logUniform(r, 50.0, 200.0))
	// Drawn last: how many draws it takes depends on the faults asked for.
	c.Faults = focusFaults(r, c.Faults)
	// After the focus, so the draws before it are those of the build that
	// had no such draw (the sweeps measured on it keep their
	// configurations).
	fill(&c.ClientIDBytes, pick(r, 0, int(logUniform[int64](r, 4, 512))))
}

// maxFocus is the most fault kinds a focused run draws.
const maxFocus = 3

// focusFaults draws the fault kinds one run injects out of those the test
// asked for. With every kind in every run, the lanes of the nemesis spread
// over all of them, and a bug that needs two kinds to meet (a clock set back
// on a node that is then cut off, a crash while a partition holds) waits for
// a coincidence among many. So half of the runs focus on one to three of the
// kinds, drawn for each seed (Jepsen users run narrow nemesis packages for
// the same reason); the other half keep the full mix, so combinations of
// many kinds are still tried. Three kinds or fewer are kept as asked: the
// test named them.
func focusFaults(r *rand.Rand, faults []string) []string {
	focus, size := r.IntN(2) == 0, 1+r.IntN(maxFocus)
	if !focus || len(faults) <= maxFocus {
		return faults
	}
	order := r.Perm(len(faults))[:size]
	slices.Sort(order) // the kinds keep the order they were asked in
	kept := make([]string, len(order))
	for i, j := range order {
		kept[i] = faults[j]
	}
	return kept
}

// fill sets *v to drawn if the caller left it zero. A drawn zero leaves
// the field to its default.
func fill[T comparable](v *T, drawn T) {
	var zero T
	if *v == zero {
		*v = drawn
	}
}

// pick draws one of choices, each as likely; repeat a choice to weigh it.
func pick[T any](r *rand.Rand, choices ...T) T { return choices[r.IntN(len(choices))] }

// logUniform draws from [lo, hi] uniformly on a log scale: each doubling
// as likely as the next.
// It draws one number whatever the bounds, so the draws after it do not
// depend on them.
func logUniform[T ~int64 | ~float64](r *rand.Rand, lo, hi T) T {
	u := r.Float64()
	if hi <= lo || lo <= 0 {
		return lo
	}
	return T(float64(lo) * math.Exp(u*math.Log(float64(hi)/float64(lo))))
}

// roundTo rounds d to a multiple of unit, at least one.
func roundTo(d, unit time.Duration) time.Duration { return max(d.Round(unit), unit) }
