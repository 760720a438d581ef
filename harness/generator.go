package harness

import (
	"sync"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/workloads"
)

// sharedGenerator hands out the workload's ops to all workers in one seeded
// sequence. The sequence is a function of the seed alone; which worker gets
// which op depends on timing, as in Jepsen.
type sharedGenerator struct {
	mu  sync.Mutex
	gen workloads.Generator
	// limit bounds the number of ops generated in one run (0 = no bound).
	limit int
	count int
}

func (g *sharedGenerator) next() (history.Op, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.limit > 0 && g.count >= g.limit {
		return history.Op{}, false
	}
	g.count++
	return g.gen.Next(), true
}
