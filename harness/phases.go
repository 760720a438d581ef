package harness

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/sut"
	"github.com/faultline/faultline/workloads"
)

// recoveryKey is written after healing to measure when the cluster serves
// again. It is outside every workload's key space and never checked.
const recoveryKey = "faultline-recovery-probe"

// pollInterval is how often the recovery and convergence phases re-ask.
const pollInterval = 100 * time.Millisecond

// waitServing returns how long it took until one write and one read
// succeeded through some node, trying nodes in turn.
func waitServing(ctx context.Context, env Env, runID string) (time.Duration, error) {
	start := time.Now()
	nodes := env.DB.Nodes()
	wrote := false
	for i := 0; ; i++ {
		node := nodes[i%len(nodes)]
		c := env.NewClient(env.DB.Endpoint(node), fmt.Sprintf("%s-recovery-%d", runID, i), 2*time.Second)
		if !wrote {
			if r := c.Write(ctx, recoveryKey, fmt.Sprint(i)); r.Outcome == sut.OK {
				wrote = true
			}
		}
		if wrote {
			if r := c.Read(ctx, recoveryKey); r.Outcome == sut.OK {
				_ = c.Close()
				return time.Since(start), nil
			}
		}
		_ = c.Close()
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("no successful write and read within %v", time.Since(start).Truncate(time.Millisecond))
		case <-time.After(pollInterval):
		}
	}
}

// finalReadProcessBase numbers final-read processes apart from workers.
const finalReadProcessBase = 1_000_000

// finalReadAttempts bounds retries of one final read that fails.
const finalReadAttempts = 5

// finalReads reads every key the workload touched from every node, after
// healing. Each attempt is its own process; a failed attempt is retried with
// a new process up to finalReadAttempts times.
func finalReads(ctx context.Context, spec Spec, env Env, wl workloads.Workload, rec *history.Recorder) {
	invokes := wl.FinalReads(rec.History())
	type job struct {
		invoke history.Op
		node   string
	}
	jobs := make(chan job)
	var next atomic.Int64
	next.Store(finalReadProcessBase)
	var wg sync.WaitGroup
	const readers = 8
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				for attempt := 0; attempt < finalReadAttempts; attempt++ {
					if ctx.Err() != nil {
						break
					}
					process := next.Add(1)
					c := env.NewClient(env.DB.Endpoint(j.node), fmt.Sprintf("%s-p%d", env.RunID, process), spec.RequestTimeout)
					inv := j.invoke
					inv.Type, inv.Process, inv.Node, inv.Final = history.Invoke, history.Process(process), j.node, true
					inv = rec.Record(inv)
					rctx, cancel := context.WithTimeout(ctx, spec.RequestTimeout)
					done := wl.Apply(rctx, c, inv)
					cancel()
					_ = c.Close()
					done.Process, done.Node, done.F, done.Key, done.Final = inv.Process, j.node, inv.F, inv.Key, true
					if done.Type == "" || done.Type == history.Invoke {
						done.Type, done.Error = history.Info, "workload returned no outcome"
					}
					rec.Record(done)
					if done.Type == history.OK {
						break
					}
					sleepCtx(ctx, pollInterval*time.Duration(attempt+1))
				}
			}
		}()
	}
	for _, inv := range invokes {
		for _, node := range env.DB.Nodes() {
			select {
			case jobs <- job{invoke: inv, node: node}:
			case <-ctx.Done():
			}
		}
	}
	close(jobs)
	wg.Wait()
}

// convergence polls every node's status until all report the same applied
// index and state digest, or ctx ends; it returns the last states seen.
func convergence(ctx context.Context, db DB) []checker.ReplicaState {
	var watch stallWatch
	for {
		states := make([]checker.ReplicaState, 0, len(db.Nodes()))
		for _, node := range db.Nodes() {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := db.Status(sctx, node)
			cancel()
			rs := checker.ReplicaState{Node: node, AppliedIndex: st.AppliedIndex, Digest: st.Digest,
				Role: st.Role, Leader: st.Leader, CommitIndex: st.CommitIndex, LastLogIndex: st.LastLogIndex, Recovering: st.Recovering}
			if err != nil {
				rs.Err = err.Error()
			}
			states = append(states, rs)
		}
		if converged(states) || watch.stalled(states, time.Now()) {
			return states
		}
		select {
		case <-ctx.Done():
			return states
		case <-time.After(pollInterval):
		}
	}
}

// convergenceStall ends the wait for convergence early: replicas none of
// whose states (applied index, digest, error) changed for this long are not
// catching up. A diverged log is never repaired, so waiting out the rest of
// the recovery timeout would only delay the verdict. A catching-up follower
// applies entries every heartbeat and a snapshot install takes seconds, so
// 20 s without any change is well past both.
const convergenceStall = 20 * time.Second

// stallWatch tells when a sequence of replica states stopped changing.
type stallWatch struct {
	last  []checker.ReplicaState
	since time.Time
}

// stalled records states seen at now and reports whether they are the same
// as every sample of the last convergenceStall.
func (w *stallWatch) stalled(states []checker.ReplicaState, now time.Time) bool {
	if w.last == nil || !slices.Equal(states, w.last) {
		w.last, w.since = states, now
		return false
	}
	return now.Sub(w.since) >= convergenceStall
}

func converged(states []checker.ReplicaState) bool {
	for _, s := range states {
		if s.Err != "" || s.AppliedIndex != states[0].AppliedIndex || s.Digest != states[0].Digest {
			return false
		}
	}
	return len(states) > 0
}
