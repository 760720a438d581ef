package sim

import (
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/node/server"
)

// simClient is one simulated worker: one op in flight at a time, to a
// random node, under a logical process that retires after an indeterminate
// outcome (Jepsen's rule, which porcupine needs).
type simClient struct {
	w       *world
	id      int
	process history.Process
	seq     uint64
	// op counts the ops this client invoked; a late answer to an earlier
	// op (after its timeout) is ignored.
	op int
}

// next invokes the client's next op after a think time, unless the main
// phase is over.
func (c *simClient) next() {
	think := time.Duration(c.w.rng.Int64N(int64(2*c.w.thinkTime()) + 1))
	c.w.after(think, func() {
		if c.w.now >= c.w.cfg.Duration {
			return
		}
		c.invoke(c.w.gen.Next(), false, c.next)
	})
}

// invoke records op's invoke, sends it to a random node and records its
// completion; then calls done.
func (c *simClient) invoke(op history.Op, final bool, done func()) {
	n := c.w.nodes[c.w.rng.IntN(len(c.w.nodes))]
	c.invokeOn(n, op, final, func(history.Op) { done() })
}

// invokeOn is invoke on a chosen node; done gets the completion.
func (c *simClient) invokeOn(n *node, op history.Op, final bool, done func(history.Op)) {
	c.op++
	ticket := c.op
	op.Type, op.Process, op.Node, op.Final = history.Invoke, c.process, n.id, final
	op = c.w.record(op)
	req := c.requestFor(c.w.wl, op)
	finish := func(a server.Answer, timedOut bool) {
		if c.op != ticket {
			return
		}
		c.op++ // no later answer for this op counts
		completion := completionOf(c.w.wl, op, a, timedOut)
		c.w.record(completion)
		if completion.Type == history.Info {
			c.process = c.w.newProcess()
		}
		done(completion)
	}
	c.w.after(c.w.cfg.RequestTimeout, func() { finish(server.Answer{}, true) })
	c.w.request(n, req, func(a server.Answer) { finish(a, false) })
}
