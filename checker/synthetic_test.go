package checker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

// synthOp is one operation of the simulated register store.
type synthOp struct {
	proc              int
	f, key            string
	value, expect     int64
	call, ret, lin    int64
	info, takesEffect bool
	// Results, filled in linearization order.
	found     bool
	readValue int64
	mismatch  bool
}

// syntheticRegisterHistory simulates a linearizable register store: clients
// run sequential ops with random latencies over rotating keys; each op takes
// effect at a random point of its interval (an indeterminate op takes effect
// or not at random), and results come from applying the ops in that order.
func syntheticRegisterHistory(seed uint64, clients int, duration time.Duration, opsPerKey int) history.History {
	rng := rand.New(rand.NewPCG(seed, seed))
	const activeKeys = 8
	keys := make([]string, activeKeys)
	used := make([]int, activeKeys)
	nextKey := 0
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", nextKey)
		nextKey++
	}
	recent := map[string][]int64{}
	free := make([]int64, clients)
	procs := make([]int, clients)
	for c := range procs {
		procs[c] = c
	}
	nextProc := clients
	var nextValue int64
	var ops []*synthOp
	for {
		c := 0
		for i := range free {
			if free[i] < free[c] {
				c = i
			}
		}
		call := free[c]
		if call >= int64(duration) {
			break
		}
		latency := int64(time.Millisecond) + rng.Int64N(int64(19*time.Millisecond))
		slot := rng.IntN(activeKeys)
		key := keys[slot]
		used[slot]++
		if used[slot] >= opsPerKey {
			keys[slot], used[slot] = fmt.Sprintf("k%d", nextKey), 0
			nextKey++
		}
		op := &synthOp{proc: procs[c], key: key, call: call, ret: call + latency}
		op.lin = call + rng.Int64N(latency+1)
		switch r := rng.IntN(4); {
		case r < 2:
			op.f = history.FRead
		case r == 2:
			op.f = history.FWrite
			nextValue++
			op.value = nextValue
			recent[key] = append(recent[key], op.value)
		default:
			op.f = history.FCAS
			nextValue++
			op.value = nextValue
			if rv := recent[key]; len(rv) > 0 {
				op.expect = rv[max(0, len(rv)-1-rng.IntN(3))]
			}
			recent[key] = append(recent[key], op.value)
		}
		if op.f != history.FRead && rng.IntN(100) == 0 {
			op.info, op.takesEffect = true, rng.IntN(2) == 0
			procs[c], nextProc = nextProc, nextProc+1
		}
		free[c] = op.ret + 1
		ops = append(ops, op)
	}
	// Apply in linearization order.
	byLin := append([]*synthOp(nil), ops...)
	sort.SliceStable(byLin, func(i, j int) bool { return byLin[i].lin < byLin[j].lin })
	state := map[string]int64{}
	for _, op := range byLin {
		cur, found := state[op.key]
		if op.info && !op.takesEffect {
			continue
		}
		switch op.f {
		case history.FRead:
			op.found, op.readValue = found, cur
		case history.FWrite:
			state[op.key] = op.value
		case history.FCAS:
			if found && cur == op.expect {
				state[op.key] = op.value
			} else {
				op.mismatch = true
			}
		}
	}
	type event struct {
		t  int64
		op history.Op
	}
	events := make([]event, 0, 2*len(ops))
	for _, op := range ops {
		inv := history.Op{Type: history.Invoke, Process: history.Process(op.proc), F: op.f, Key: op.key, Node: "n1"}
		if op.f != history.FRead {
			inv.Value = history.IntPtr(op.value)
		}
		if op.f == history.FCAS {
			inv.Expect = history.IntPtr(op.expect)
		}
		done := inv
		done.Type = history.OK
		switch {
		case op.info:
			done.Type, done.Error = history.Info, "timeout"
		case op.mismatch:
			done.Type, done.Error = history.Fail, CASMismatchError
		case op.f == history.FRead:
			done.Value = nil
			if op.found {
				done.Value = history.IntPtr(op.readValue)
			}
		}
		events = append(events, event{op.call, inv}, event{op.ret, done})
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].t < events[j].t })
	h := make(history.History, len(events))
	for i, e := range events {
		e.op.Index, e.op.Time = i, e.t
		h[i] = e.op
	}
	return h
}

func TestSyntheticHistory(t *testing.T) {
	h := syntheticRegisterHistory(1, 10, 5*time.Second, 100)
	require.NoError(t, h.Validate())
	r := Linearizability{Model: ModelRegister}.Check(context.Background(), Input{History: h, CheckTimeout: time.Minute})
	require.Equal(t, Valid, r.Verdict, r.Reason)

	// Break it: one ok read returns a value written to another key.
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].F == history.FRead && h[i].Type == history.OK {
			h[i].Value = history.IntPtr(-5)
			break
		}
	}
	r = Linearizability{Model: ModelRegister}.Check(context.Background(), Input{History: h, CheckTimeout: time.Minute})
	assert.Equal(t, Invalid, r.Verdict, r.Reason)
}

// peakHeap samples the live heap until stop is closed.
func peakHeap(stop <-chan struct{}, done chan<- uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	ticker := time.NewTicker(2 * time.Millisecond)
	defer ticker.Stop()
	for {
		metrics.Read(sample)
		peak = max(peak, sample[0].Value.Uint64())
		select {
		case <-stop:
			done <- peak
			return
		case <-ticker.C:
		}
	}
}

// BenchmarkLinearizability60s10Clients checks a synthetic 60-second,
// 10-client register history (about 57,000 ops over rotating keys, 1% of
// writes indeterminate) and reports ops checked per second and the peak live
// heap during the check.
func BenchmarkLinearizability60s10Clients(b *testing.B) {
	h := syntheticRegisterHistory(42, 10, 60*time.Second, 100)
	require.NoError(b, h.Validate())
	pairs := len(h.ClientPairs())
	require.GreaterOrEqual(b, pairs, 50_000)
	runtime.GC()
	var opsChecked int
	var elapsed time.Duration
	var peak uint64
	for b.Loop() {
		stop, done := make(chan struct{}), make(chan uint64)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); peakHeap(stop, done) }()
		start := time.Now()
		r := Linearizability{Model: ModelRegister}.Check(context.Background(), Input{History: h, CheckTimeout: time.Minute})
		elapsed += time.Since(start)
		close(stop)
		peak = max(peak, <-done)
		wg.Wait()
		require.Equal(b, Valid, r.Verdict, r.Reason)
		opsChecked = r.Details.(*LinearizabilityDetails).OpsChecked
	}
	perCheck := elapsed / time.Duration(b.N)
	b.ReportMetric(float64(opsChecked)/perCheck.Seconds(), "ops-checked/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.Logf("history: %d ops (%d pairs), checked %d ops in %s per check, peak live heap %.1f MiB",
		len(h), pairs, opsChecked, perCheck.Round(time.Millisecond), float64(peak)/(1<<20))
}
