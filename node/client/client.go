package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Outcome classifies what a call tells about its operation.
type Outcome int

const (
	// OK: the operation took effect (a read returned a value or not-found).
	OK Outcome = iota
	// Fail: the operation definitely did not take effect.
	Fail
	// Info: the outcome is unknown; a write may or may not have taken effect.
	Info
)

// String returns "ok", "fail" or "info", the history's names.
func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Fail:
		return "fail"
	case Info:
		return "info"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Result is the answer to one call. Found, Value and List are meaningful for
// OK reads (and carry what the server returned for writes); Err explains a
// Fail or Info. Seq is the sequence number a write was sent with (0 for
// reads), for retrying it with WithSeq. StatusCode is the HTTP status, 0 when
// no response arrived.
type Result struct {
	Outcome    Outcome
	Found      bool
	Value      string
	List       []string
	Err        error
	Seq        uint64
	StatusCode int
}

// Options configure a Client.
type Options struct {
	// ClientID names the client to the idempotent receiver. Empty means a
	// random id. Two clients must never share an id.
	ClientID string
	// Timeout bounds each call (0: only the caller's context bounds it).
	Timeout time.Duration
	// HTTPClient carries the requests; nil means a shared client whose
	// keep-alive pool is sized for many concurrent callers (see Transport).
	HTTPClient *http.Client
}

// maxIdleConnsPerHost keeps a warm connection for each of up to this many
// concurrent callers per node, so 64 workers (and headroom) never pay a
// fresh TCP handshake per request.
const maxIdleConnsPerHost = 256

// Transport returns a new http.Transport tuned for kvnode: keep-alive pooling
// for many concurrent callers per node and a short dial timeout, so a down
// node is reported (as Fail) quickly.
func Transport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		MaxIdleConns:        4 * maxIdleConnsPerHost,
		MaxIdleConnsPerHost: maxIdleConnsPerHost,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

var sharedHTTPClient = &http.Client{Transport: Transport()}

// Client talks to one kvnode. It is safe for concurrent use, but the
// idempotent receiver assumes a client id has one write in flight at a time
// (a later sequence number applied first makes the earlier one stale), so
// give each logical process its own Client.
type Client struct {
	base    string
	id      string
	timeout time.Duration
	http    *http.Client
	seq     *atomic.Uint64 // shared with views made by WithSeq
	fixed   uint64         // non-zero in a WithSeq view
}

// New returns a client for the node at baseURL (e.g. http://127.0.0.1:8000).
func New(baseURL string, opts Options) *Client {
	c := &Client{
		base:    strings.TrimRight(baseURL, "/"),
		id:      opts.ClientID,
		timeout: opts.Timeout,
		http:    opts.HTTPClient,
		seq:     new(atomic.Uint64),
	}
	if c.id == "" {
		c.id = randomID()
	}
	if c.http == nil {
		c.http = sharedHTTPClient
	}
	return c
}

func randomID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("client: read random id: %v", err))
	}
	return hex.EncodeToString(b[:])
}

// ClientID returns the id sent in X-Client-Id.
func (c *Client) ClientID() string { return c.id }

// BaseURL returns the node's base URL.
func (c *Client) BaseURL() string { return c.base }

// Seq returns the last sequence number this client assigned.
func (c *Client) Seq() uint64 { return c.seq.Load() }

// WithSeq returns a view of the client whose writes all use sequence number
// seq instead of the next one: retrying a write with its original Result.Seq
// lets the idempotent receiver return the first attempt's result instead of
// applying it again. seq must be non-zero.
func (c *Client) WithSeq(seq uint64) *Client {
	v := *c
	v.fixed = seq
	return &v
}

func (c *Client) nextSeq() uint64 {
	if c.fixed != 0 {
		return c.fixed
	}
	return c.seq.Add(1)
}

func (c *Client) keyURL(key, suffix string) string {
	return c.base + "/kv/" + url.PathEscape(key) + suffix
}

// Get reads key. OK with Found false means the key does not exist.
func (c *Client) Get(ctx context.Context, key string) Result {
	return c.do(ctx, http.MethodGet, c.keyURL(key, ""), nil, 0)
}

// Put writes value under key.
func (c *Client) Put(ctx context.Context, key, value string) Result {
	return c.write(ctx, http.MethodPut, c.keyURL(key, ""), PutRequest{Value: value})
}

// CAS sets key to value if it holds expect. A mismatch (or an absent key)
// is Fail with StatusCode 412.
func (c *Client) CAS(ctx context.Context, key, expect, value string) Result {
	return c.write(ctx, http.MethodPost, c.keyURL(key, "/cas"), CASRequest{Expect: expect, Value: value})
}

// Append appends elem to the list under key, creating it if absent. On a
// string key it is Fail with StatusCode 409.
func (c *Client) Append(ctx context.Context, key, elem string) Result {
	return c.write(ctx, http.MethodPost, c.keyURL(key, "/append"), AppendRequest{Element: elem})
}

func (c *Client) write(ctx context.Context, method, u string, body any) Result {
	seq := c.nextSeq()
	b, err := json.Marshal(body)
	if err != nil {
		return Result{Outcome: Fail, Err: fmt.Errorf("encode request: %w", err), Seq: seq}
	}
	return c.do(ctx, method, u, b, seq)
}

// do sends one request and classifies the answer.
func (c *Client) do(ctx context.Context, method, u string, body []byte, seq uint64) Result {
	res := Result{Seq: seq}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		res.Outcome, res.Err = Fail, fmt.Errorf("build request: %w", err)
		return res
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderClientID, c.id)
		req.Header.Set(HeaderSeq, strconv.FormatUint(seq, 10))
		// The idempotent receiver makes a replay harmless, so let
		// net/http resend a write whose pooled connection turned out to be
		// closed before any response byte arrived, instead of reporting an
		// indeterminate outcome.
		req.Header.Set("Idempotency-Key", c.id+"/"+strconv.FormatUint(seq, 10))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		res.Outcome, res.Err = classifyError(err), fmt.Errorf("%s %s: %w", method, u, err)
		return res
	}
	defer resp.Body.Close()
	res.StatusCode = resp.StatusCode
	res.Outcome = ClassifyStatus(resp.StatusCode)

	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	var kv KVResponse
	if err == nil && len(data) > 0 {
		err = json.Unmarshal(data, &kv)
	}
	if err != nil {
		if res.Outcome == OK {
			// The status says it happened but the answer (a read's value) is
			// lost: nothing definite can be reported.
			res.Outcome = Info
		}
		res.Err = fmt.Errorf("%s %s: status %d: read body: %w", method, u, resp.StatusCode, err)
		return res
	}
	res.Found, res.Value, res.List = kv.Found, kv.Value, kv.List
	if res.Outcome != OK {
		msg := kv.Error
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		res.Err = fmt.Errorf("%s %s: status %d: %s", method, u, resp.StatusCode, msg)
	}
	return res
}

// maxResponseBytes bounds a response body (a long list from the set
// workload fits comfortably).
const maxResponseBytes = 64 << 20

// ClassifyStatus maps an HTTP status to an outcome: 2xx and 404 (a read of
// an absent key) are OK; 400 (bad request: a missing field, a key over the
// length limit), 408 (body not received within the node's read timeout),
// 409 (wrong type), 412 (cas mismatch), 413 (body over the size limit) and
// 503 (rejected before proposing) are definite failures: the node answers
// each before proposing anything. Everything else, including 504 (proposed,
// outcome unknown) and unexpected codes, is Info.
func ClassifyStatus(code int) Outcome {
	switch code {
	case http.StatusNotFound:
		return OK
	case http.StatusBadRequest, http.StatusRequestTimeout, http.StatusConflict,
		http.StatusPreconditionFailed, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable:
		return Fail
	}
	if code >= 200 && code < 300 {
		return OK
	}
	return Info
}

// classifyError maps a transport error to an outcome. Only a failed dial
// proves nothing was sent (Fail); a timeout, reset or EOF after the
// connection was up may have delivered the request (Info).
func classifyError(err error) Outcome {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return Fail
	}
	return Info
}

// Status returns the node's GET /status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	return c.statusCall(ctx, http.MethodGet, c.base+"/status", nil)
}

// Peek returns the node's last published status without the state digest
// (GET /status?digest=false): cheap, and it never waits on the node's
// update loop, so it suits frequent polling.
func (c *Client) Peek(ctx context.Context) (Status, error) {
	return c.statusCall(ctx, http.MethodGet, c.base+"/status?digest=false", nil)
}

// Clock sends a fault-hook clock command (POST /admin/clock) and returns the
// node's status afterwards. The node must run with --enable-fault-hooks.
func (c *Client) Clock(ctx context.Context, cmd ClockCommand) (Status, error) {
	b, err := json.Marshal(cmd)
	if err != nil {
		return Status{}, fmt.Errorf("encode clock command: %w", err)
	}
	return c.statusCall(ctx, http.MethodPost, c.base+"/admin/clock", b)
}

// CrashPoint arms or disarms a fault-hook crash point (POST
// /admin/crash-point) and returns the node's status afterwards. The node must
// run with --enable-fault-hooks.
func (c *Client) CrashPoint(ctx context.Context, cmd CrashPointCommand) (Status, error) {
	b, err := json.Marshal(cmd)
	if err != nil {
		return Status{}, fmt.Errorf("encode crash point command: %w", err)
	}
	return c.statusCall(ctx, http.MethodPost, c.base+"/admin/crash-point", b)
}

func (c *Client) statusCall(ctx context.Context, method, u string, body []byte) (Status, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return Status{}, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Status{}, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return Status{}, fmt.Errorf("%s %s: read body: %w", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorResponse
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if resp.StatusCode == http.StatusNotFound && method == http.MethodPost {
			msg += " (is the node running with --enable-fault-hooks?)"
		}
		return Status{}, fmt.Errorf("%s %s: status %d: %s", method, u, resp.StatusCode, msg)
	}
	var st Status
	if err := json.Unmarshal(data, &st); err != nil {
		return Status{}, fmt.Errorf("%s %s: decode status: %w", method, u, err)
	}
	return st, nil
}
