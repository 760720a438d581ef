package sim

import (
	"container/heap"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/node/raft"
)

// A directed link holds at most linkCapacity messages in flight, as the
// node's send queue does; what is delivered frees room, and the other
// direction has its own.
func TestLinkCapacity(t *testing.T) {
	w := &world{cfg: Config{MinDelay: time.Millisecond, MaxDelay: time.Millisecond}, rng: rand.New(rand.NewPCG(1, 2))}
	w.nodes = []*node{{w: w, id: "n1"}, {w: w, id: "n2"}}
	w.net = &network{w: w}

	for range linkCapacity + 10 {
		w.net.send(raft.Message{Type: raft.MsgApp, From: "n1", To: "n2"})
	}
	assert.Equal(t, linkCapacity, w.events.Len(), "sends beyond the link's capacity are dropped")

	w.net.send(raft.Message{Type: raft.MsgAppResp, From: "n2", To: "n1"})
	assert.Equal(t, linkCapacity+1, w.events.Len(), "the other direction is its own link")

	for range 10 {
		heap.Pop(&w.events).(event).run()
	}
	for range 20 {
		w.net.send(raft.Message{Type: raft.MsgApp, From: "n1", To: "n2"})
	}
	assert.Equal(t, linkCapacity+1, w.events.Len(), "delivered messages free their room, and only theirs")
}
