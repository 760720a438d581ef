package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/rundir"
)

// badKey is the key the synthetic history makes non-linearizable. It is
// also markup, to prove the report escapes keys.
const badKey = `<script>alert("k")</script>`

// synthFault is one fault of the synthetic run.
type synthFault struct {
	start, stop time.Duration
	fault       history.Fault
	// stopOffsets are the clock offsets reported after healing (clock only).
	stopOffsets map[string]int64
}

var synthFaults = []synthFault{
	{start: 4 * time.Second, stop: 9 * time.Second, fault: history.Fault{Kind: "partition", Shape: "halves",
		Targets: []string{"n1", "n2"}, Grudge: map[string][]string{"n1": {"n3"}, "n2": {"n3"}, "n3": {"n1", "n2"}}}},
	{start: 12 * time.Second, stop: 15 * time.Second, fault: history.Fault{Kind: "kill", Shape: "one", Targets: []string{"n3"}}},
	{start: 18 * time.Second, stop: 24 * time.Second, fault: history.Fault{Kind: "clock", Action: "bump", Targets: []string{"n1", "n2"},
		ClockOffsetsMillis: map[string]int64{"n1": 2500, "n2": -800, "n3": 0}, Params: map[string]string{"delta_ms": "2500"}},
		stopOffsets: map[string]int64{"n1": 0, "n2": 0, "n3": 0}},
}

// inFault reports whether t falls in one of the synthetic faults.
func inFault(t time.Duration) bool {
	for _, f := range synthFaults {
		if t >= f.start && t <= f.stop {
			return true
		}
	}
	return false
}

// synthOp is a client operation before it becomes two records.
type synthOp struct {
	process        int
	invoke, finish time.Duration
	f, key         string
	value, expect  *int64
	outcome        history.Type
	readValue      *int64
	err            string
	node           string
}

// syntheticHistory builds a deterministic, well-formed 30-second register
// history with 6 client processes, three faults (partition, kill, clock
// bump) during which ops slow down, fail or time out, and one key (badKey)
// with a stale read, so the linearizability checker finds exactly one
// failing key.
func syntheticHistory(t testing.TB) history.History {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	const (
		processes = 6
		runLength = 30 * time.Second
	)
	var ops []synthOp
	nextValue := int64(1)
	lastWritten := map[string]int64{}
	nextProcess := processes
	// Workers take turns in time order, so that a cas usually expects the
	// value most recently written to its key.
	procs := make([]int, processes)
	nows := make([]time.Duration, processes)
	for w := range procs {
		procs[w], nows[w] = w, time.Duration(w)*time.Millisecond
	}
	for {
		w := 0
		for i := range nows {
			if nows[i] < nows[w] {
				w = i
			}
		}
		now := nows[w]
		if now >= runLength {
			break
		}
		op := synthOp{process: procs[w], invoke: now, node: fmt.Sprintf("n%d", w%3+1)}
		op.key = fmt.Sprintf("k%d", now/(2*time.Second))
		switch r := rng.IntN(10); {
		case r < 5:
			op.f = history.FRead
		case r < 8:
			op.f = history.FWrite
			op.value = history.IntPtr(nextValue)
			lastWritten[op.key] = nextValue
			nextValue++
		default:
			op.f = history.FCAS
			op.expect = history.IntPtr(lastWritten[op.key] - int64(rng.IntN(2)))
			op.value = history.IntPtr(nextValue)
			nextValue++
		}
		latency := time.Duration(1+rng.IntN(8))*time.Millisecond + time.Duration(rng.IntN(1000))*time.Microsecond
		op.outcome = history.OK
		if inFault(now) {
			switch r := rng.IntN(10); {
			case r < 2:
				op.outcome, op.err = history.Info, "timeout"
				latency = 500 * time.Millisecond
			case r < 4:
				op.outcome, op.err = history.Fail, "no leader"
				latency = time.Duration(rng.IntN(3000)) * time.Microsecond
			default:
				latency *= 5
			}
		}
		op.finish = op.invoke + latency
		ops = append(ops, op)
		nows[w] = op.finish + time.Duration(rng.IntN(5))*time.Millisecond
		if op.outcome == history.Info {
			procs[w] = nextProcess
			nextProcess++
		}
	}
	// Apply every op at the middle of its interval to decide what reads see
	// and whether a cas matched. An indeterminate write is applied.
	order := make([]int, len(ops))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		oa, ob := ops[order[a]], ops[order[b]]
		return oa.invoke+oa.finish < ob.invoke+ob.finish
	})
	state := map[string]*int64{}
	for _, i := range order {
		op := &ops[i]
		if op.outcome == history.Fail {
			continue
		}
		switch op.f {
		case history.FRead:
			op.readValue = state[op.key]
		case history.FWrite:
			state[op.key] = op.value
		case history.FCAS:
			cur := state[op.key]
			if cur != nil && *cur == *op.expect {
				state[op.key] = op.value
			} else if op.outcome == history.OK {
				op.outcome, op.err = history.Fail, checker.CASMismatchError
			}
		}
	}
	// The stale read: a write to badKey completes, then a later read of it
	// sees nothing. Both run during the clock bump.
	ops = append(ops,
		synthOp{process: nextProcess, invoke: 20 * time.Second, finish: 20*time.Second + 3*time.Millisecond, f: history.FWrite,
			key: badKey, value: history.IntPtr(nextValue), outcome: history.OK, node: "n1"},
		synthOp{process: nextProcess + 1, invoke: 20*time.Second + 400*time.Millisecond, finish: 20*time.Second + 402*time.Millisecond,
			f: history.FRead, key: badKey, outcome: history.OK, node: "n2"},
	)

	var recs []history.Op
	for _, op := range ops {
		inv := history.Op{Time: int64(op.invoke), Type: history.Invoke, Process: history.Process(op.process), Node: op.node,
			F: op.f, Key: op.key, Value: op.value, Expect: op.expect}
		if op.f == history.FRead {
			inv.Value = nil
		}
		done := inv
		done.Time, done.Type, done.Error = int64(op.finish), op.outcome, op.err
		if op.f == history.FRead {
			done.Value = op.readValue
		}
		recs = append(recs, inv, done)
	}
	for _, f := range synthFaults {
		start := history.Op{Time: int64(f.start), Type: history.Invoke, Process: history.NemesisProcess, F: history.FStart, Fault: cloneFault(f.fault)}
		startDone := start
		startDone.Time, startDone.Type = int64(f.start+5*time.Millisecond), history.OK
		startDone.Fault = cloneFault(f.fault)
		startDone.Fault.Params = map[string]string{"apply_ms": "5"}
		for k, v := range f.fault.Params {
			startDone.Fault.Params[k] = v
		}
		start.Fault.ClockOffsetsMillis = nil // known only once applied
		stop := history.Op{Time: int64(f.stop), Type: history.Invoke, Process: history.NemesisProcess, F: history.FStop, Fault: cloneFault(f.fault)}
		stopDone := stop
		stopDone.Time, stopDone.Type = int64(f.stop+5*time.Millisecond), history.OK
		stopDone.Fault = cloneFault(f.fault)
		if f.stopOffsets != nil {
			stopDone.Fault.Action, stopDone.Fault.ClockOffsetsMillis = "reset", f.stopOffsets
		}
		recs = append(recs, start, startDone, stop, stopDone)
	}
	sort.SliceStable(recs, func(a, b int) bool { return recs[a].Time < recs[b].Time })
	for i := range recs {
		recs[i].Index = i
	}
	h := history.History(recs)
	require.NoError(t, h.Validate())
	return h
}

func cloneFault(f history.Fault) *history.Fault {
	c := f
	return &c
}

// writeSyntheticRun writes a complete run directory (test.json, history,
// results.json from the real checkers, node logs) and returns its path.
func writeSyntheticRun(t testing.TB, store string) string {
	t.Helper()
	h, res := syntheticChecked(t)
	dir := filepath.Join(store, "register-partition", "20261126T050000")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, rundir.NodesDir), 0o755))
	spec := map[string]any{
		"name": "register-partition", "seed": 1234567890123, "start": "2026-11-26T05:00:00Z",
		"command":  `faultline test --workload register --nemesis partition,kill,clock --seed 1234567890123 --time-limit 30s`,
		"workload": "register", "nemesis": []string{"partition", "kill", "clock"}, "nodes": []string{"n1", "n2", "n3"},
		"options":  map[string]any{"concurrency": 6, "rate": 0, "node_flags": "--read-mode=<local>", "time_limit": "30s"},
		"versions": map[string]string{"faultline": "devel", "go": "go1.26.8"},
	}
	writeJSONFile(t, filepath.Join(dir, rundir.TestFile), spec)
	f, err := os.Create(filepath.Join(dir, rundir.HistoryFile))
	require.NoError(t, err)
	require.NoError(t, history.Write(f, h))
	require.NoError(t, f.Close())
	writeJSONFile(t, filepath.Join(dir, rundir.ResultsFile), res)
	for _, n := range []string{"n1", "n2", "n3"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, rundir.NodesDir, n+".log"), []byte("level=INFO msg=started <script>x</script>\n"), 0o644))
	}
	return dir
}

var synthetic struct {
	once    sync.Once
	history history.History
	results checker.Results
}

// syntheticChecked is syntheticHistory checked by the real checkers,
// computed once per test binary.
func syntheticChecked(t testing.TB) (history.History, checker.Results) {
	synthetic.once.Do(func() {
		synthetic.history = syntheticHistory(t)
		synthetic.results = checker.Run(context.Background(), checker.Input{History: synthetic.history, CheckTimeout: time.Minute},
			checker.Linearizability{Model: checker.ModelRegister}, checker.Stats{}, checker.Availability{})
	})
	require.NotEmpty(t, synthetic.history)
	return synthetic.history, synthetic.results
}

func writeJSONFile(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}
