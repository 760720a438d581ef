package harness

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/workloads"
)

// A worker backs off after an op that failed for want of a serving node (a
// definite failure other than a cas mismatch, or an indeterminate result),
// doubling from minBackoff to maxBackoff over consecutive such ops and
// starting again after any success. Such answers come back in microseconds
// (no leader: 503; a killed container behind Docker's port proxy: a reset);
// without a pause every worker would record thousands of identical failures
// per second, growing the history and the check time without adding
// information.
const (
	minBackoff = 20 * time.Millisecond
	maxBackoff = 640 * time.Millisecond
)

// nextBackoff is the pause after an unavailability failure that followed a
// pause of prev (0 after a success).
func nextBackoff(prev time.Duration) time.Duration {
	if prev < minBackoff {
		return minBackoff
	}
	return min(2*prev, maxBackoff)
}

// counters are the live totals shown on the progress line.
type counters struct {
	ok, fail, info atomic.Int64
}

func (c *counters) add(t history.Type) {
	switch t {
	case history.OK:
		c.ok.Add(1)
	case history.Fail:
		c.fail.Add(1)
	case history.Info:
		c.info.Add(1)
	}
}

// worker is one logical client slot. It runs one process at a time; after an
// indeterminate result that process retires and the worker continues as
// process+concurrency, so every process's ops stay sequential.
type worker struct {
	id          int
	concurrency int
	node        string
	db          DB
	newClient   ClientFactory
	runID       string
	timeout     time.Duration
	workload    workloads.Workload
	gen         *sharedGenerator
	rate        *rateLimiter
	rec         *history.Recorder
	counts      *counters
}

func (w *worker) client(process int, endpoint string) workloads.Client {
	return w.newClient(endpoint, fmt.Sprintf("%s-p%d", w.runID, process), w.timeout)
}

// run issues ops until ctx is done or the generator is exhausted. An op
// already invoked is always completed and recorded, even if ctx ends while it
// is in flight: its request context is independent of the run's deadline
// except for the request timeout.
func (w *worker) run(ctx context.Context) {
	process := w.id
	endpoint := w.db.Endpoint(w.node)
	c := w.client(process, endpoint)
	var backoff time.Duration
	for {
		// A restarted container may listen on a new host port. A new
		// client starts a new sequence, so it must be a new process too:
		// the node's idempotent receiver would take a reused id's low
		// sequence numbers for retries.
		if ep := w.db.Endpoint(w.node); ep != endpoint {
			endpoint = ep
			process += w.concurrency
			_ = c.Close()
			c = w.client(process, endpoint)
		}
		if err := w.rate.wait(ctx); err != nil {
			return
		}
		invoke, ok := w.gen.next()
		if !ok {
			return
		}
		invoke.Type = history.Invoke
		invoke.Process = history.Process(process)
		invoke.Node = w.node
		invoke = w.rec.Record(invoke)

		reqCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.timeout)
		done := w.workload.Apply(reqCtx, c, invoke)
		cancel()
		done.Process = invoke.Process
		done.Node = w.node
		done.F = invoke.F
		done.Key = invoke.Key
		if done.Type == "" || done.Type == history.Invoke {
			done.Type = history.Info
			done.Error = "workload returned no outcome"
		}
		w.rec.Record(done)
		w.counts.add(done.Type)
		if done.Type == history.Info {
			process += w.concurrency
			_ = c.Close()
			c = w.client(process, endpoint)
		}
		unavailable := done.Type == history.Info ||
			(done.Type == history.Fail && !strings.HasPrefix(done.Error, checker.CASMismatchError))
		if !unavailable {
			backoff = 0
			continue
		}
		backoff = nextBackoff(backoff)
		sleepCtx(ctx, backoff)
	}
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
