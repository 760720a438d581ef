package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Client timing.
const (
	// DefaultDialTimeout bounds NewClient's wait for the connection and, in
	// Status and HashKV, the dial of the member asked.
	DefaultDialTimeout = 2 * time.Second
	// DefaultCallTimeout bounds each call when ClientOptions.Timeout is 0,
	// and each Status and HashKV: etcd's client waits for a connection to
	// be ready for as long as the context lets it, so a call to a member
	// that is down would otherwise never end.
	DefaultCallTimeout = 5 * time.Second
	// clientKeepAliveTime and clientKeepAliveTimeout: a connection whose
	// member stops answering pings (paused, partitioned from the client) is
	// closed after about four seconds, so later calls wait for a new
	// connection, and end as never sent, instead of being written into a
	// dead one, which would make them Info. The server accepts pings this
	// often because Command sets --grpc-keepalive-min-time below it.
	clientKeepAliveTime    = 2 * time.Second
	clientKeepAliveTimeout = 2 * time.Second
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// DialTimeout bounds the first connection's setup; 0: DefaultDialTimeout.
	// The connection is made in the background: a member that is down does
	// not fail NewClient, its calls fail (as never sent) at their deadline.
	DialTimeout time.Duration
	// Timeout bounds each call, on top of the caller's context (the earlier
	// deadline wins); 0: DefaultCallTimeout.
	Timeout time.Duration
}

// Client invokes the workloads' operations on one etcd member. It is one
// logical client process: one clientv3.Client with a single endpoint (no
// endpoint discovery, no failover to another member), so every call goes to
// the member the worker was given.
//
// Retries. etcd's client retries a call inside one invocation: a Range on
// codes.Unavailable (a read retried is still a read within the call's
// interval, so that is safe), a Put or Txn only when the failed attempt
// never got a connection, and any call whose attempt ended with a deadline
// or cancellation code while the caller's context was still live. That last
// rule would resend a write the server may have applied; an interceptor
// below the retry loop (attemptRecorder) gives such an error another code, so
// etcd's client never resends a write that reached the server. The same
// interceptor records whether any attempt reached the server, which is how a
// call that never left the client is told apart from one that timed out
// after sending (clientv3 reports both as context.DeadlineExceeded).
//
// Every call carries etcd's require-leader metadata, so a member without a
// leader refuses it at once (a definite Fail) instead of holding it until
// the deadline.
type Client struct {
	cli      *clientv3.Client
	endpoint string
	timeout  time.Duration
}

// NewClient returns a client of the member whose client URL is endpoint
// (host:port or http://host:port).
func NewClient(endpoint string, opts ClientOptions) (*Client, error) {
	cli, err := newV3Client(endpoint, opts.DialTimeout)
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	return &Client{cli: cli, endpoint: endpoint, timeout: timeout}, nil
}

func newV3Client(endpoint string, dialTimeout time.Duration) (*clientv3.Client, error) {
	if dialTimeout <= 0 {
		dialTimeout = DefaultDialTimeout
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            []string{endpoint},
		DialTimeout:          dialTimeout,
		DialKeepAliveTime:    clientKeepAliveTime,
		DialKeepAliveTimeout: clientKeepAliveTimeout,
		DialOptions:          []grpc.DialOption{grpc.WithChainUnaryInterceptor(attemptRecorder)},
		// The client's own warnings (every retry, every reconnect) would
		// interleave with the harness's output; what matters is in the
		// outcome of each call.
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %s: %w: check the endpoint (host:port of the member's client URL)", endpoint, err)
	}
	return cli, nil
}

// Close ends the client's connection.
func (c *Client) Close() error {
	if err := c.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("close etcd client of %s: %w", c.endpoint, err)
	}
	return nil
}

// Read reads key's value with a linearizable Range (etcd's default; never
// serializable, which may answer from a stale member).
func (c *Client) Read(ctx context.Context, key string) (value string, found bool, out Outcome) {
	ctx, done := c.call(ctx)
	defer done()
	resp, err := c.cli.Get(ctx, key)
	if out = c.outcome(ctx, err, readOp); out.Verdict != OK {
		return "", false, out
	}
	if len(resp.Kvs) == 0 {
		return "", false, ok
	}
	return string(resp.Kvs[0].Value), true, ok
}

// Write sets key to value.
func (c *Client) Write(ctx context.Context, key, value string) Outcome {
	ctx, done := c.call(ctx)
	defer done()
	_, err := c.cli.Put(ctx, key, value)
	return c.outcome(ctx, err, writeOp)
}

// CAS sets key to value if it holds expect, in one Txn: If value == expect
// Then Put Else nothing. A key that does not exist never matches (etcd fails
// a value comparison on a missing key). A precondition that did not hold is
// a definite Fail with Mismatch set.
func (c *Client) CAS(ctx context.Context, key, expect, value string) Outcome {
	ctx, done := c.call(ctx)
	defer done()
	resp, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(key), "=", expect)).
		Then(clientv3.OpPut(key, value)).
		Commit()
	if out := c.outcome(ctx, err, writeOp); out.Verdict != OK {
		return out
	}
	if !resp.Succeeded {
		return Outcome{Verdict: Fail, Err: fmt.Errorf("cas %s: value is not %q", key, expect), Mismatch: true}
	}
	return ok
}

// Add adds element to the set at setKey: one key per element,
// setKey/element, put with the element as its value. Adding an element twice
// leaves one key (its creation revision is the first add's).
func (c *Client) Add(ctx context.Context, setKey, element string) Outcome {
	ctx, done := c.call(ctx)
	defer done()
	_, err := c.cli.Put(ctx, setPrefix(setKey)+element, element)
	return c.outcome(ctx, err, writeOp)
}

// ReadSet reads the set at setKey with one linearizable Range over the
// prefix setKey/, sorted by creation revision: the elements come in the
// order they were added.
func (c *Client) ReadSet(ctx context.Context, setKey string) ([]string, Outcome) {
	ctx, done := c.call(ctx)
	defer done()
	prefix := setPrefix(setKey)
	resp, err := c.cli.Get(ctx, prefix, clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if out := c.outcome(ctx, err, readOp); out.Verdict != OK {
		return nil, out
	}
	elements := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		elements = append(elements, strings.TrimPrefix(string(kv.Key), prefix))
	}
	return elements, ok
}

func setPrefix(setKey string) string { return setKey + "/" }

// call prepares one call's context: the client's timeout, etcd's
// require-leader metadata, and a fresh attempt record.
func (c *Client) call(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	ctx = clientv3.WithRequireLeader(ctx)
	return context.WithValue(ctx, attemptsKey{}, new(attempts)), cancel
}

// outcome classifies a finished call, adding the member to the error.
func (c *Client) outcome(ctx context.Context, err error, kind opKind) Outcome {
	if err == nil {
		return ok
	}
	reached := true
	if a, found := ctx.Value(attemptsKey{}).(*attempts); found {
		reached = a.reached.Load()
	}
	out := classify(err, kind, reached)
	out.Err = fmt.Errorf("etcd %s: %w", c.endpoint, out.Err)
	return out
}

// attempts records, for one call, whether any attempt may have reached the
// server. Attempts of one call run one after another, but the record is read
// by the caller's goroutine, hence the atomic.
type attempts struct{ reached atomic.Bool }

type attemptsKey struct{}

// attemptRecorder runs once per attempt, inside etcd's retry interceptor
// (gRPC runs the dial option's chain after the client's own interceptor).
// It marks the call's record when the attempt got past gRPC's picker, and
// hides a server-ended deadline from the retry loop (serverEndedError). An
// attempt whose context already ended is not started at all.
func attemptRecorder(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	err := invoker(ctx, method, req, reply, cc, opts...)
	if a, found := ctx.Value(attemptsKey{}).(*attempts); found && !neverSent(err) {
		a.reached.Store(true)
	}
	return serverEndedError(ctx, err)
}
