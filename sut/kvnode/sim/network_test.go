package sim

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/nemesis"
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
		w.runEvent(w.events.pop())
	}
	for range 20 {
		w.net.send(raft.Message{Type: raft.MsgApp, From: "n1", To: "n2"})
	}
	assert.Equal(t, linkCapacity+1, w.events.Len(), "delivered messages free their room, and only theirs")
}

// TestCutOff: the nodes a partition cuts off from a majority are the ones
// stacked faults may target; a node on the majority side never is.
func TestCutOff(t *testing.T) {
	ids := []string{"n1", "n2", "n3", "n4", "n5"}
	for _, tc := range []struct {
		name   string
		grudge map[string][]string
		want   []string
	}{
		{"whole network", nil, nil},
		{"one isolated", nemesis.Isolate(ids, "n3"), []string{"n3"}},
		{"two against three", nemesis.Complete([][]string{{"n1", "n2"}, {"n3", "n4", "n5"}}), []string{"n1", "n2"}},
		{"bridge keeps everyone in a majority", nemesis.Complete([][]string{{"n1", "n2"}, {"n4", "n5"}}), []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{}
			for _, id := range ids {
				w.nodes = append(w.nodes, &node{id: id, w: w})
			}
			w.net = &network{w: w, grudge: tc.grudge}
			assert.ElementsMatch(t, tc.want, w.cutOff())
		})
	}
}

// TestDelayFault: while a delay fault slows a node, every message from or
// to it (peers and clients alike) takes the base delay plus the fault's
// delay, give or take its jitter; other links keep the base delay.
func TestDelayFault(t *testing.T) {
	base := 2 * time.Millisecond
	w := &world{cfg: Config{MinDelay: base, MaxDelay: base}, rng: rand.New(rand.NewPCG(1, 2))}
	w.net = &network{w: w, slow: map[string]bool{"n2": true}, slowDelay: 250 * time.Millisecond, slowJitter: 50 * time.Millisecond}
	for _, tc := range []struct {
		name     string
		from, to string
		lo, hi   time.Duration
	}{
		{"to the slow node", "n1", "n2", base + 200*time.Millisecond, base + 300*time.Millisecond},
		{"from the slow node", "n2", "n3", base + 200*time.Millisecond, base + 300*time.Millisecond},
		{"a client to the slow node", clientEnd, "n2", base + 200*time.Millisecond, base + 300*time.Millisecond},
		{"between other nodes", "n1", "n3", base, base},
		{"a client to another node", clientEnd, "n3", base, base},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 200 {
				d := w.net.delay(tc.from, tc.to)
				assert.GreaterOrEqual(t, d, tc.lo)
				assert.LessOrEqual(t, d, tc.hi)
			}
		})
	}
	w.net.slow = nil
	assert.Equal(t, base, w.net.delay("n1", "n2"), "healed")
}

// TestEventQueueOrder: events pop by time, and events at one time in the
// order they were scheduled, whatever order they were pushed in.
func TestEventQueueOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var q eventQueue
	var want []event
	for seq := range uint64(2000) {
		e := event{at: time.Duration(r.IntN(50)), seq: seq}
		want = append(want, e)
		q.push(e)
	}
	slices.SortFunc(want, func(a, b event) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq))
	})
	for i, w := range want {
		require.Equal(t, len(want)-i, q.Len())
		e := q.pop()
		require.Equal(t, [2]any{w.at, w.seq}, [2]any{e.at, e.seq}, "pop %d", i)
	}
	assert.Zero(t, q.Len())
}
