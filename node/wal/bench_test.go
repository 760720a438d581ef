package wal

import (
	"fmt"
	"testing"

	"github.com/faultline/faultline/node/disk"
	"github.com/faultline/faultline/node/raft"
)

// BenchmarkAppendSync measures group commit: one Append of a batch of 64-byte
// entries followed by one Sync (one fsync), as the driver loop does for each
// Ready. It reports entries/s and fsyncs per batch. Run with
//
//	go test -run '^$' -bench AppendSync -benchtime 2s ./node/wal/
func BenchmarkAppendSync(b *testing.B) {
	for _, batch := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			benchmarkAppendSync(b, b.TempDir(), Options{}, batch, 0)
		})
	}
}

// BenchmarkAppendSyncSim is BenchmarkAppendSync on a disk.Sim: what the
// deterministic simulation pays for each of a node's group commits. A
// snapshot every 100,000 entries (kvnode's default --snapshot-entries) and
// 4 MiB segments keep the simulated disk, which lives in memory, from
// growing without end.
func BenchmarkAppendSyncSim(b *testing.B) {
	for _, batch := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			benchmarkAppendSync(b, "/data", Options{FS: disk.NewSim(), SegmentBytes: 4 << 20}, batch, 100_000)
		})
	}
}

// benchmarkAppendSync appends batches of batch entries with one Sync each,
// and saves a snapshot every snapshotEntries entries (never when 0).
func benchmarkAppendSync(b *testing.B, dir string, opts Options, batch int, snapshotEntries uint64) {
	w, _, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	data := make([]byte, 64)
	entries := make([]raft.Entry, batch)
	next := uint64(1)
	fsyncsBefore := w.Stats().Fsyncs
	b.SetBytes(int64(batch * len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := range entries {
			entries[i] = raft.Entry{Term: 1, Index: next, Data: data}
			next++
		}
		if err := w.Append(nil, entries); err != nil {
			b.Fatal(err)
		}
		if err := w.Sync(); err != nil {
			b.Fatal(err)
		}
		if snapshotEntries > 0 && next-1-w.LowWaterMark() >= snapshotEntries {
			if err := w.SaveSnapshot(raft.Snapshot{Index: next - 1, Term: 1, Data: data}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	appended := float64(next - 1)
	b.ReportMetric(appended/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(w.Stats().Fsyncs-fsyncsBefore)/float64(b.N), "fsyncs/op")
}
