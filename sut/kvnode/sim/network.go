package sim

import (
	"slices"
	"time"

	"github.com/faultline/faultline/node/raft"
	"github.com/faultline/faultline/node/transport"
)

// network carries peer messages between the simulated nodes: each message
// is delayed by a random time within the configured bounds (so messages
// overtake each other), may be duplicated, and is lost when the receiver
// holds a grudge against the sender (a partition) or by the loss fault's
// chance. Clients reach every node: partitions cut only the nodes' network,
// as in the container runs.
type network struct {
	w *world
	// grudge maps a node to the nodes it drops traffic from.
	grudge map[string][]string
	// lossPercent is the chance that a peer message is dropped.
	lossPercent float64
	// slow are the nodes whose links the delay fault slows: a message
	// from or to one of them takes slowDelay more, give or take
	// slowJitter (netem's delay and jitter).
	slow                  map[string]bool
	slowDelay, slowJitter time.Duration
	// inflight counts the messages on each directed link (from, to) that
	// are sent and not yet delivered or dropped.
	inflight map[[2]string]int
	// free are deliveries done with, for the next sends.
	free []*delivery
}

// linkCapacity is the most messages one directed link holds in flight; a
// send beyond it is dropped. The node's transport is one connection per
// peer with a send queue of this size that drops when full, so no real
// link carries more: without the bound, a leader whose appends overtake
// each other could refill its window on every rejection and grow the
// traffic without end, which no deployment can do.
const linkCapacity = transport.DefaultSendQueue

// delay draws the delivery time of one message from one node to another.
func (n *network) delay(from, to string) time.Duration {
	lo, hi := n.w.cfg.MinDelay, n.w.cfg.MaxDelay
	d := lo
	if hi > lo {
		d += time.Duration(n.w.rng.Int64N(int64(hi - lo)))
	}
	if n.slow[from] || n.slow[to] {
		d += n.slowDelay - n.slowJitter + time.Duration(n.w.rng.Int64N(int64(2*n.slowJitter)+1))
	}
	return d
}

// cut reports whether traffic from one node to another is dropped.
func (n *network) cut(from, to string) bool {
	return slices.Contains(n.grudge[to], from)
}

// linked reports whether a connection between a and b works both ways
// (what a forwarded HTTP request needs).
func (n *network) linked(a, b string) bool { return !n.cut(a, b) && !n.cut(b, a) }

// send delivers a peer message, perhaps twice, perhaps never.
func (n *network) send(m raft.Message) {
	if m.Type == raft.MsgVote {
		n.w.noteElection()
	}
	if n.cut(m.From, m.To) || n.lost() {
		return
	}
	m = detach(m)
	copies := 1
	if n.w.rng.Float64() < n.w.cfg.DuplicateProbability {
		copies = 2
	}
	to := n.w.node(m.To)
	link := [2]string{m.From, m.To}
	for range copies {
		if n.inflight[link] >= linkCapacity {
			return
		}
		if n.inflight == nil {
			n.inflight = map[[2]string]int{}
		}
		n.inflight[link]++
		d := n.inFlight()
		d.to, d.link, d.m = to, link, m
		n.w.afterMessage(n.delay(m.From, m.To), d)
	}
}

// delivery is a message on its way. Deliveries are the most frequent
// events by far, so they are recycled instead of each being a closure.
type delivery struct {
	to   *node
	link [2]string
	m    raft.Message
}

// inFlight returns a delivery to fill, recycled if one is free.
func (n *network) inFlight() *delivery {
	if k := len(n.free); k > 0 {
		d := n.free[k-1]
		n.free = n.free[:k-1]
		return d
	}
	return new(delivery)
}

// arrive hands a delivery's message to its node, unless a partition that
// began while it was in flight drops it, and recycles the delivery.
func (n *network) arrive(d *delivery) {
	n.inflight[d.link]--
	to, m, cut := d.to, d.m, n.cut(d.m.From, d.m.To)
	*d = delivery{}
	n.free = append(n.free, d)
	if !cut {
		to.deliver(to.incarnation, m)
	}
}

// lost draws whether the loss fault drops one message.
func (n *network) lost() bool {
	return n.lossPercent > 0 && n.w.rng.Float64()*100 < n.lossPercent
}

// detach copies what a message shares with its sender's log: the core may
// reuse those arrays after the send, and a real transport encodes the
// message at once.
func detach(m raft.Message) raft.Message {
	if len(m.Entries) > 0 {
		m.Entries = slices.Clone(m.Entries)
	}
	return m
}
