package harness

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/checker"
)

// leaderPollInterval is how often the leader watch asks every node whether
// it leads. A leader cut off from its quorum keeps its office for at least
// one election timeout, many polls.
const leaderPollInterval = 100 * time.Millisecond

// leaderWatch records, for every (node, generation), when the node was first
// seen reporting that it leads that generation: the leaders checker's input.
type leaderWatch struct {
	db  DB
	now func() int64 // run time, the history's clock

	mu   sync.Mutex
	seen map[checker.LeaderSighting]int64 // key has FirstSeen zero
	// termUnknown is set once a leader's status says its generation is
	// not the one it leads in (sut.Status.LeaderTermUnknown).
	termUnknown bool
}

// watchLeaders polls every node until the returned stop is called; stop
// returns the sightings, ordered by time.
func watchLeaders(ctx context.Context, db DB, now func() int64) (stop func() []checker.LeaderSighting) {
	w := &leaderWatch{db: db, now: now, seen: map[checker.LeaderSighting]int64{}}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(leaderPollInterval)
		defer ticker.Stop()
		for {
			w.poll(ctx)
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
	return func() []checker.LeaderSighting {
		cancel()
		<-done
		return w.sightings()
	}
}

// poll asks every node once, concurrently; a node that does not answer in
// time (killed, paused, cut off from the harness) is skipped.
func (w *leaderWatch) poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, leaderPollInterval*5)
	defer cancel()
	var wg sync.WaitGroup
	for _, node := range w.db.Nodes() {
		wg.Go(func() {
			st, err := w.db.Peek(ctx, node)
			if err != nil || !strings.EqualFold(st.Role, "leader") {
				return
			}
			if st.LeaderTermUnknown {
				w.mu.Lock()
				w.termUnknown = true
				w.mu.Unlock()
				return
			}
			at := w.now()
			key := checker.LeaderSighting{Node: node, Generation: st.Generation}
			w.mu.Lock()
			defer w.mu.Unlock()
			if _, ok := w.seen[key]; !ok {
				w.seen[key] = at
			}
		})
	}
	wg.Wait()
}

// sightings are the leaders seen; nil (no leaders checker) when the store
// does not say which generation a leader leads in.
func (w *leaderWatch) sightings() []checker.LeaderSighting {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.termUnknown {
		return nil
	}
	out := make([]checker.LeaderSighting, 0, len(w.seen))
	for key, at := range w.seen {
		key.FirstSeen = at
		out = append(out, key)
	}
	slices.SortFunc(out, func(a, b checker.LeaderSighting) int {
		return cmp.Or(cmp.Compare(a.FirstSeen, b.FirstSeen), strings.Compare(a.Node, b.Node))
	})
	return out
}
