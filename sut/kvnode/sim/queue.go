package sim

import (
	"container/heap"
	"fmt"
	"time"
)

// event is one thing that happens in the simulated world at a simulated
// time. Events at the same time run in the order they were scheduled (seq),
// so the order never depends on anything but the seed.
type event struct {
	at  time.Duration
	seq uint64
	run func()
}

// eventQueue is a min-heap of events by (at, seq).
type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = event{}
	*q = old[:len(old)-1]
	return e
}

// at schedules run after delay d of simulated time (d < 0 counts as 0).
func (w *world) after(d time.Duration, run func()) {
	w.seq++
	heap.Push(&w.events, event{at: w.now + max(d, 0), seq: w.seq, run: run})
}

// maxEvents bounds the events of one run: a run of 30 simulated seconds
// takes well under a million, so reaching it means the simulated world
// stopped advancing (a livelock), which Run reports as an error instead of
// running for ever.
const maxEvents = 3_000_000

// runUntil runs every event scheduled before end, in order, and leaves the
// clock at end.
func (w *world) runUntil(end time.Duration) {
	for len(w.events) > 0 && w.events[0].at < end {
		if w.seq > maxEvents {
			w.fail(fmt.Errorf("more than %d events by simulated time %v: the simulation stopped advancing", maxEvents, w.now))
			return
		}
		e := heap.Pop(&w.events).(event)
		w.now = e.at
		e.run()
	}
	w.now = max(w.now, end)
}
