package sim

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/kv"
	"github.com/faultline/faultline/node/server"
	"github.com/faultline/faultline/workloads"
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
	req := c.requestFor(op)
	finish := func(a server.Answer, timedOut bool) {
		if c.op != ticket {
			return
		}
		c.op++ // no later answer for this op counts
		completion := completionOf(op, a, timedOut)
		c.w.record(completion)
		if completion.Type == history.Info {
			c.process = c.w.newProcess()
		}
		done(completion)
	}
	c.w.after(c.w.cfg.RequestTimeout, func() { finish(server.Answer{}, true) })
	c.w.request(n, req, func(a server.Answer) { finish(a, false) })
}

// requestFor is the API request of a register op.
func (c *simClient) requestFor(op history.Op) server.Request {
	req := server.Request{Key: op.Key, ClientID: "c" + strconv.Itoa(c.id)}
	switch op.F {
	case history.FWrite:
		req.Op, req.Value = kv.OpPut, format(op.Value)
	case history.FCAS:
		req.Op, req.Expect, req.Value = kv.OpCAS, format(op.Expect), format(op.Value)
	default:
		return req
	}
	c.seq++
	req.Seq = c.seq
	return req
}

// completionOf turns the answer to invoke into its completion, as the
// register workload and the kvnode client do for a container run: the
// status is classified by client.ClassifyStatus; a read's value is
// decoded; a cas refused with 412 carries checker.CASMismatchError.
func completionOf(invoke history.Op, a server.Answer, timedOut bool) history.Op {
	done := invoke
	done.Value = invoke.Value
	if timedOut {
		done.Type, done.Error = history.Info, "request timed out; outcome unknown"
		if invoke.F == history.FRead {
			done.Value = nil
		}
		return done
	}
	switch client.ClassifyStatus(a.Status) {
	case client.OK:
		done.Type = history.OK
	case client.Fail:
		done.Type = history.Fail
	default:
		done.Type = history.Info
	}
	if done.Type != history.OK {
		msg := a.Body.Error
		if msg == "" {
			msg = http.StatusText(a.Status)
		}
		done.Error = fmt.Sprintf("status %d: %s", a.Status, msg)
		if invoke.F == history.FCAS && a.Status == http.StatusPreconditionFailed {
			done.Error = checker.CASMismatchError + ": " + done.Error
		}
	}
	if invoke.F == history.FRead {
		done.Value = nil
		if done.Type == history.OK && a.Body.Found {
			v, err := strconv.ParseInt(a.Body.Value, 10, 64)
			if err != nil {
				v, done.Error = workloads.UnparsableValue, fmt.Sprintf("unparsable value %q", a.Body.Value)
			}
			done.Value = history.IntPtr(v)
		}
	}
	return done
}

func format(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}
