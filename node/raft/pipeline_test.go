package raft

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPipelineBound: a leader never has more than MaxInflightAppends
// unacknowledged MsgApp (with entries) to one follower, and batches up to
// MaxEntriesPerAppend entries in each.
func TestPipelineBound(t *testing.T) {
	const inflightMax, batchMax = 3, 4
	nw := newNetwork(t, 3, func(c *Config) {
		c.MaxInflightAppends = inflightMax
		c.MaxEntriesPerAppend = batchMax
	})
	l := nw.elect()
	nw.stabilize()
	slow := otherThan(nw.ids, l)

	// Track, per follower, the last index of every unacknowledged MsgApp.
	outstanding := map[string][]uint64{}
	peak := 0
	nw.hook = func(from string, m Message) {
		switch {
		case m.Type == MsgApp && from == l && len(m.Entries) > 0:
			require.LessOrEqual(t, len(m.Entries), batchMax)
			outstanding[m.To] = append(outstanding[m.To], m.Entries[len(m.Entries)-1].Index)
			peak = max(peak, len(outstanding[m.To]))
			require.LessOrEqual(t, len(outstanding[m.To]), inflightMax, "unacknowledged appends to %s", m.To)
		case m.Type == MsgAppResp && m.To == l:
			var keep []uint64
			for _, last := range outstanding[m.From] {
				if last > m.Index || m.Reject {
					keep = append(keep, last)
				}
			}
			if m.Reject {
				keep = nil // the leader forgets what it sent and probes again
			}
			outstanding[m.From] = keep
		}
	}

	// The slow follower's acknowledgements are held back (a slow link).
	nw.hold(slow, l)
	nw.sent = nil
	for i := range 100 {
		nw.propose(l, fmt.Sprintf("v%d", i))
	}
	nw.stabilize()
	toSlow := 0
	for _, m := range nw.sent {
		if m.Type == MsgApp && m.To == slow && len(m.Entries) > 0 {
			toSlow++
		}
	}
	assert.Equal(t, inflightMax, toSlow, "exactly the pipeline bound went out to the silent follower")
	assert.Equal(t, inflightMax, peak)
	assert.Equal(t, uint64(101), nw.nodes[l].log.committed, "the other follower keeps the quorum going")

	// Heartbeats and their answers are held too: still within the bound.
	for range 5 {
		nw.tick()
		nw.stabilize()
	}
	assert.LessOrEqual(t, len(outstanding[slow]), inflightMax)

	// Acknowledgements flow again: the slow follower catches up, batch by
	// batch, without ever exceeding the bound.
	nw.heal()
	for range 10 {
		nw.tick()
		nw.stabilize()
	}
	assert.Equal(t, nw.nodes[l].log.committed, nw.nodes[slow].log.committed)
	assert.Equal(t, nw.nodes[l].log.lastIndex(), nw.nodes[slow].log.lastIndex())
	nw.requireSafe()
}

func TestPipelineUnderReorderingAndLoss(t *testing.T) {
	nw := newNetwork(t, 5, func(c *Config) {
		c.MaxInflightAppends = 4
		c.MaxEntriesPerAppend = 3
	})
	l := nw.elect()
	nw.stabilize()
	nw.reorder = true
	nw.dropPercent = 10
	for i := range 300 {
		if nw.nodes[l].role == Leader {
			_, _, _ = nw.nodes[l].Propose([]byte(fmt.Sprintf("v%d", i)))
			nw.persist(l)
		}
		if i%5 == 0 {
			nw.tick()
		}
		for range 5 {
			nw.deliverOne(nil)
		}
	}
	nw.reorder = false
	nw.dropPercent = 0
	for range 40 {
		nw.tick()
		nw.stabilize()
	}
	l = nw.leader()
	require.NotEmpty(t, l)
	for _, id := range nw.ids {
		assert.Equal(t, nw.nodes[l].log.lastIndex(), nw.nodes[id].log.lastIndex(), id)
		assert.Equal(t, nw.nodes[l].log.committed, nw.nodes[id].log.committed, id)
	}
	assert.Greater(t, nw.nodes[l].log.committed, uint64(100), "most proposals committed")
	nw.requireSafe()
}
