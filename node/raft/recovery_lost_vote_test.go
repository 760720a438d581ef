package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A node w votes b into T+1 but acknowledges nothing of T+1 before a
// corrupt sector cuts its whole log (vote included) off as a torn tail. The
// stale leader a of T then reaches w while b is cut off.
func TestRecoveringNodeThatLostOnlyAVoteRefusesStaleLeader(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	a, b, w, staleTerm := nw.cutOffLeader()
	noBApp := func(m Message) bool { return !(m.From == b && (m.Type == MsgApp || m.Type == MsgHeartbeat)) }
	for range 3 {
		if nw.nodes[b].role == Leader {
			break
		}
		nw.campaign(b)
		nw.stabilizeFiltered(noBApp)
	}
	require.Equal(t, Leader, nw.nodes[b].role)
	require.Greater(t, nw.nodes[b].term, staleTerm)
	require.Equal(t, b, nw.stores[w].hardState.Vote)

	staleIndex := nw.staleLeaderMeetsWiped(a, b, w)
	assert.Less(t, nw.nodes[a].log.committed, staleIndex, "a committed nothing with w")

	nw.heal()
	for range 5 {
		for range nw.nodes[b].cfg.HeartbeatTicks {
			nw.tick()
		}
		nw.stabilize()
	}
	nw.requireSafe()
}
