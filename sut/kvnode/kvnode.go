// Package kvnode is the adapter between the harness and kvnode, faultline's
// reference store: how a client invokes an operation on a node, how a node's
// status reads in the harness's terms, kvnode's fault hooks (clock and
// crash points), its command line as a typed Config, the node configurations
// an exploration draws, and the bug zoo of its unsafe switches. It is the
// only package outside node/ and cmd/kvnode that imports node/ packages
// (node/client, and node/server for the read modes and unsafe switches).
package kvnode

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/sut"
)

// Name is the store's name on the command line (--store) and in reports.
const Name = "kvnode"

// ClientOptions configure a Client.
type ClientOptions struct {
	// ClientID names the client to kvnode's idempotent receiver; two
	// clients must never share one.
	ClientID string
	// Timeout bounds each call.
	Timeout time.Duration
}

// Client invokes the operations the workloads need on one kvnode node. It
// satisfies workloads.Client.
type Client struct {
	c *client.Client
}

// NewClient returns a client of the node whose client API is at endpoint
// (http://host:port).
func NewClient(endpoint string, opts ClientOptions) *Client {
	return &Client{c: client.New(endpoint, client.Options{ClientID: opts.ClientID, Timeout: opts.Timeout})}
}

// Read reads key's value.
func (c *Client) Read(ctx context.Context, key string) sut.Result { return result(c.c.Get(ctx, key)) }

// Write sets key to value.
func (c *Client) Write(ctx context.Context, key, value string) sut.Result {
	return result(c.c.Put(ctx, key, value))
}

// CAS sets key to value if it holds expect; a mismatch (412) is a definite
// failure with Mismatch set.
func (c *Client) CAS(ctx context.Context, key, expect, value string) sut.Result {
	res := c.c.CAS(ctx, key, expect, value)
	out := result(res)
	out.Mismatch = res.Outcome == client.Fail && res.StatusCode == http.StatusPreconditionFailed
	return out
}

// Add appends element to the list at key.
func (c *Client) Add(ctx context.Context, key, element string) sut.Result {
	return result(c.c.Append(ctx, key, element))
}

// ReadSet reads the list at key, in append order.
func (c *Client) ReadSet(ctx context.Context, key string) sut.Result {
	return result(c.c.Get(ctx, key))
}

// Close releases nothing: the client shares one connection pool.
func (c *Client) Close() error { return nil }

func result(r client.Result) sut.Result {
	return sut.Result{Outcome: outcome(r.Outcome), Found: r.Found, Value: r.Value, List: r.List, Err: r.Err}
}

func outcome(o client.Outcome) sut.Outcome {
	switch o {
	case client.OK:
		return sut.OK
	case client.Fail:
		return sut.Fail
	}
	return sut.Info
}

// Admin asks one node for its status and drives its fault hooks, over the
// given HTTP client (nil: a shared one).
type Admin struct {
	HTTP    *http.Client
	Timeout time.Duration
}

// NewHTTPClient returns an HTTP client suited to polling many nodes.
func NewHTTPClient() *http.Client { return &http.Client{Transport: client.Transport()} }

func (a Admin) client(endpoint string) *client.Client {
	return client.New(endpoint, client.Options{Timeout: a.Timeout, HTTPClient: a.HTTP})
}

// Status returns the node's status with the state digest at its applied
// index (GET /status).
func (a Admin) Status(ctx context.Context, endpoint string) (sut.Status, error) {
	st, err := a.client(endpoint).Status(ctx)
	return status(st), err
}

// Peek returns the node's last published status, without the digest: cheap
// enough to poll many times a second.
func (a Admin) Peek(ctx context.Context, endpoint string) (sut.Status, error) {
	st, err := a.client(endpoint).Peek(ctx)
	return status(st), err
}

// Clock sends a clock command to the node's fault-hook endpoint
// (--enable-fault-hooks) and returns its status after it.
func (a Admin) Clock(ctx context.Context, endpoint string, cmd sut.ClockCommand) (sut.Status, error) {
	st, err := a.client(endpoint).Clock(ctx, client.ClockCommand{Action: cmd.Action, OffsetMillis: cmd.OffsetMillis,
		DeltaMillis: cmd.DeltaMillis, PeriodMillis: cmd.PeriodMillis, DurationMillis: cmd.DurationMillis, Rate: cmd.Rate})
	return status(st), err
}

// CrashPoint arms or disarms a crash point on the node.
func (a Admin) CrashPoint(ctx context.Context, endpoint string, cmd sut.CrashPointCommand) error {
	if _, err := a.client(endpoint).CrashPoint(ctx, client.CrashPointCommand{Point: cmd.Point, Armed: cmd.Armed, AboveIndex: cmd.AboveIndex}); err != nil {
		return fmt.Errorf("crash point %s: %w", cmd.Point, err)
	}
	return nil
}

// CrashPoints lists the crash points kvnode offers.
var CrashPoints = []string{sut.CrashAfterVote, sut.CrashAfterCommit}

// status maps kvnode's own status to the harness's terms.
func status(st client.Status) sut.Status {
	return sut.Status{
		Node: st.ID, Role: st.Role, Generation: st.Generation, Leader: st.Leader,
		AppliedIndex: st.AppliedIndex, CommitIndex: st.CommitIndex, LastLogIndex: st.LastLogIndex,
		GenerationStartIndex: st.GenerationStartIndex, Digest: st.Digest, Recovering: st.Recovering,
		ClockOffsetMillis: st.ClockOffsetMillis, ClockRate: st.ClockRate, CrashPoints: st.CrashPoints, Unsafe: st.Unsafe,
	}
}
