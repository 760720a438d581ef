package checker

import (
	"bufio"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
)

// The linearizability search caches every (linearized set, model state) pair
// it visits. For a list key with many indeterminate appends and a read that
// no order explains (lost acknowledged data), that cache grows exponentially:
// one such key drove faultline's heap to 24 GiB within the check timeout. A
// time limit alone does not bound memory, so every search runs under a
// memoryGuard that stops it once the process heap passes a budget; the key's
// result is then unknown, never valid.

// DefaultSearchMemoryBytes is the heap budget of the linearizability searches
// when the checker is not given one: a quarter of the machine's memory
// (MemTotal in /proc/meminfo), or 2 GiB where that cannot be read. A quarter
// leaves room for the history, the report and the Go collector's headroom.
func DefaultSearchMemoryBytes() uint64 {
	if total := machineMemoryBytes(); total > 0 {
		return total / 4
	}
	return 2 << 30
}

func machineMemoryBytes() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kib, err := strconv.ParseUint(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kib << 10
		}
	}
	return 0
}

// guardPollInterval is how often the guard samples the heap. The cache of a
// runaway search grows by a few hundred MiB per second, so the budget is
// overshot by at most that much per poll.
const guardPollInterval = 50 * time.Millisecond

// memoryGuard stops the searches it watches when the heap passes budget.
// Stopping is cooperative: a watched model's Step reports "not allowed" once
// its search is stopped, so porcupine backtracks to the root in a few steps
// and frees its cache. Only a search that ends Illegal can have been cut
// short that way (a full linearization never takes a refused step), so an Ok
// result stays trustworthy.
type memoryGuard struct {
	budget uint64

	mu     sync.Mutex
	active map[*atomic.Bool]struct{}
	done   chan struct{}
}

// newMemoryGuard starts watching the heap; Close stops it. A zero budget
// means DefaultSearchMemoryBytes.
func newMemoryGuard(budget uint64) *memoryGuard {
	if budget == 0 {
		budget = DefaultSearchMemoryBytes()
	}
	g := &memoryGuard{budget: budget, active: make(map[*atomic.Bool]struct{}), done: make(chan struct{})}
	go g.watch()
	return g
}

// Close stops the watcher. Searches still running are no longer guarded.
func (g *memoryGuard) Close() { close(g.done) }

// watch samples the heap and stops every active search when it is over the
// budget after a collection (garbage from finished searches does not count).
func (g *memoryGuard) watch() {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	tick := time.NewTicker(guardPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-tick.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Uint64() <= g.budget {
			continue
		}
		runtime.GC()
		metrics.Read(sample)
		if sample[0].Value.Uint64() <= g.budget {
			continue
		}
		g.mu.Lock()
		for stopped := range g.active {
			stopped.Store(true)
		}
		g.mu.Unlock()
	}
}

// search runs porcupine on ops under the guard, verbosely when verbose is
// set. overBudget reports that the guard stopped it; the result is then
// Unknown.
func (g *memoryGuard) search(model porcupine.Model, ops []porcupine.Operation, timeout time.Duration, verbose bool) (result porcupine.CheckResult, info porcupine.LinearizationInfo, overBudget bool) {
	stopped := new(atomic.Bool)
	g.mu.Lock()
	g.active[stopped] = struct{}{}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.active, stopped)
		g.mu.Unlock()
	}()

	guarded := model
	step := model.Step
	guarded.Step = func(state, input, output any) (bool, any) {
		if stopped.Load() {
			return false, state
		}
		return step(state, input, output)
	}
	if verbose {
		result, info = porcupine.CheckOperationsVerbose(guarded, ops, timeout)
	} else {
		result = porcupine.CheckOperationsTimeout(guarded, ops, timeout)
	}
	if stopped.Load() && result != porcupine.Ok {
		return porcupine.Unknown, info, true
	}
	return result, info, false
}
