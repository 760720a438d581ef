package sim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/kv"
	"github.com/faultline/faultline/node/server"
	"github.com/faultline/faultline/sut"
	"github.com/faultline/faultline/workloads"
)

// A simulated client speaks a workload through the workload's own Apply,
// as a container run's worker does, so the sim and the harness cannot
// disagree about what an op sends or how an answer becomes a completion.
// Apply is a blocking call and a simulated request is not, so an op goes
// through it twice: once with a client that only notes the API call the op
// makes (the request to send), and once the answer is back with a client
// that returns that answer (the completion to record).

// errTimedOut is the error of an op whose request timeout passed without an
// answer.
var errTimedOut = errors.New("request timed out; outcome unknown")

// requestFor is the API request op makes under workload wl, stamped with
// the client's id and, for a write, its next sequence number.
func (c *simClient) requestFor(wl workloads.Workload, op history.Op) server.Request {
	var call callRecorder
	wl.Apply(context.Background(), &call, op)
	req := call.req
	req.ClientID = clientID(c.id, c.w.cfg.ClientIDBytes)
	if req.Op != "" {
		c.seq++
		req.Seq = c.seq
	}
	return req
}

// clientID is the id of client n: "c" and its number, padded to size bytes
// when size is longer, so ids of every length stay distinct.
func clientID(n, size int) string {
	id := "c" + strconv.Itoa(n)
	if size <= len(id) {
		return id
	}
	const fill = "0123456789abcdef"
	b := make([]byte, size)
	copy(b, id)
	b[len(id)] = '-'
	for i := len(id) + 1; i < size; i++ {
		b[i] = fill[i%len(fill)]
	}
	return string(b)
}

// callRecorder is a workloads.Client that notes the one call made to it as
// the node's API request, and answers nothing definite.
type callRecorder struct{ req server.Request }

func (r *callRecorder) note(req server.Request) sut.Result {
	r.req = req
	return sut.Result{Outcome: sut.Info, Err: errTimedOut}
}

func (r *callRecorder) Read(_ context.Context, key string) sut.Result {
	return r.note(server.Request{Key: key})
}

func (r *callRecorder) Write(_ context.Context, key, value string) sut.Result {
	return r.note(server.Request{Op: kv.OpPut, Key: key, Value: value})
}

func (r *callRecorder) CAS(_ context.Context, key, expect, value string) sut.Result {
	return r.note(server.Request{Op: kv.OpCAS, Key: key, Expect: expect, Value: value})
}

func (r *callRecorder) Add(_ context.Context, key, element string) sut.Result {
	return r.note(server.Request{Op: kv.OpAppend, Key: key, Value: element})
}

func (r *callRecorder) ReadSet(_ context.Context, key string) sut.Result {
	return r.note(server.Request{Key: key})
}

func (r *callRecorder) Close() error { return nil }

// completionOf is the completion of invoke under workload wl given the
// node's answer, or errTimedOut when none came back in time.
func completionOf(wl workloads.Workload, invoke history.Op, a server.Answer, expired bool) history.Op {
	reply := answerClient{status: a.Status, res: resultOf(a)}
	if expired {
		reply = answerClient{res: sut.Result{Outcome: sut.Info, Err: errTimedOut}}
	}
	return wl.Apply(context.Background(), reply, invoke)
}

// resultOf is the outcome of a node's answer, as the kvnode adapter's
// client reports it for a container run: the status is classified by
// client.ClassifyStatus, and a failure's error names the status and the
// node's message.
func resultOf(a server.Answer) sut.Result {
	res := sut.Result{Found: a.Body.Found, Value: a.Body.Value, List: a.Body.List}
	switch client.ClassifyStatus(a.Status) {
	case client.OK:
		res.Outcome = sut.OK
		return res
	case client.Fail:
		res.Outcome = sut.Fail
	default:
		res.Outcome = sut.Info
	}
	msg := a.Body.Error
	if msg == "" {
		msg = http.StatusText(a.Status)
	}
	res.Err = fmt.Errorf("status %d: %s", a.Status, msg)
	return res
}

// answerClient is a workloads.Client whose every call returns one answer
// that already came back; a cas refused with 412 is a mismatch, as the
// kvnode adapter says.
type answerClient struct {
	status int
	res    sut.Result
}

func (c answerClient) Read(context.Context, string) sut.Result          { return c.res }
func (c answerClient) Write(context.Context, string, string) sut.Result { return c.res }
func (c answerClient) Add(context.Context, string, string) sut.Result   { return c.res }
func (c answerClient) ReadSet(context.Context, string) sut.Result       { return c.res }
func (c answerClient) Close() error                                     { return nil }

func (c answerClient) CAS(context.Context, string, string, string) sut.Result {
	res := c.res
	res.Mismatch = res.Outcome == sut.Fail && c.status == http.StatusPreconditionFailed
	return res
}
