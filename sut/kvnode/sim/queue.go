package sim

import (
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
	msg *delivery // a message arriving, instead of run
}

// eventQueue is a binary min-heap of events by (at, seq). It is written
// out rather than built on container/heap, whose Push and Pop box every
// event in an interface: one allocation each, on the simulation's hottest
// path. (at, seq) orders all events totally, so any heap pops them in the
// same order.
type eventQueue []event

func (q eventQueue) Len() int { return len(q) }

func (q eventQueue) less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}

// push adds e.
func (q *eventQueue) push(e event) {
	*q = append(*q, e)
	h := *q
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

// pop removes and returns the earliest event; the queue must not be empty.
func (q *eventQueue) pop() event {
	h := *q
	e := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = event{}
	h = h[:last]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h.less(l, least) {
			least = l
		}
		if r < len(h) && h.less(r, least) {
			least = r
		}
		if least == i {
			break
		}
		h[i], h[least] = h[least], h[i]
		i = least
	}
	*q = h
	return e
}

// at schedules run after delay d of simulated time (d < 0 counts as 0).
func (w *world) after(d time.Duration, run func()) {
	w.seq++
	w.events.push(event{at: w.now + max(d, 0), seq: w.seq, run: run})
}

// afterMessage schedules d's arrival after delay d of simulated time.
func (w *world) afterMessage(delay time.Duration, d *delivery) {
	w.seq++
	w.events.push(event{at: w.now + max(delay, 0), seq: w.seq, msg: d})
}

// runEvent runs e.
func (w *world) runEvent(e event) {
	if e.msg != nil {
		w.net.arrive(e.msg)
		return
	}
	e.run()
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
		e := w.events.pop()
		w.now = e.at
		w.runEvent(e)
	}
	w.now = max(w.now, end)
}
