package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/kv"
)

// HeaderForwarded marks a request a follower forwarded to the leader. A
// forwarded request that reaches a node that is not the leader is answered
// 503 instead of being forwarded again, so requests never loop.
const HeaderForwarded = "X-Forwarded"

// maxRequestBytes bounds a client request body; a larger one is answered
// 413. Every write's value travels in one log entry to every replica, and
// the harness sends values of a few bytes.
const maxRequestBytes = 1 << 20

// routes registers the client API. /admin/clock and /admin/crash-point
// exist only with fault hooks.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /kv/{key}", s.handleGet)
	mux.HandleFunc("PUT /kv/{key}", s.handleWrite(kv.OpPut))
	mux.HandleFunc("POST /kv/{key}/cas", s.handleWrite(kv.OpCAS))
	mux.HandleFunc("POST /kv/{key}/append", s.handleWrite(kv.OpAppend))
	mux.HandleFunc("GET /status", s.handleStatus)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	if s.cfg.EnableFaultHooks {
		mux.HandleFunc("POST /admin/clock", s.handleClock)
		mux.HandleFunc("POST /admin/crash-point", s.handleCrashPoint)
	}
	return mux
}

// opName is the op label of a request in /metrics.
func opName(op string) string {
	switch op {
	case kv.OpPut:
		return "write"
	case "":
		return "read"
	}
	return op
}

// handleWrite proposes a put, cas or append on the leader; a follower
// forwards it to the leader.
func (s *Server) handleWrite(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		code := s.write(w, r, op)
		s.metrics.observe(opName(op), code, time.Since(start))
	}
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, op string) int {
	key := r.PathValue("key")
	if err := checkKey(key); err != nil {
		return replyError(w, http.StatusBadRequest, err)
	}
	body, err := readBody(w, r)
	if err != nil {
		return replyError(w, bodyErrorStatus(err), err)
	}
	cmd := kv.Command{Op: op, Key: key, ClientID: r.Header.Get(client.HeaderClientID)}
	if err := decodeCommand(op, body, &cmd); err != nil {
		return replyError(w, http.StatusBadRequest, err)
	}
	if v := r.Header.Get(client.HeaderSeq); v != "" {
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return replyError(w, http.StatusBadRequest, fmt.Errorf("bad %s header %q: send a decimal sequence number", client.HeaderSeq, v))
		}
		cmd.Seq = seq
	}

	view := s.view.Load()
	switch rt := s.route(view, view.isLeader, r.Header.Get(HeaderForwarded)); {
	case rt.refuse != nil:
		return replyError(w, http.StatusServiceUnavailable, rt.refuse)
	case rt.leader != "":
		return s.forward(w, r, body, rt.leader)
	}
	p := newProposal(cmd)
	defer close(p.replied)
	select {
	case s.proposals <- p:
	default:
		return replyError(w, http.StatusServiceUnavailable, errors.New("proposal queue full; retry later"))
	}
	code := s.await(w, r, p.done, "write")
	if s.crashAfterCommit.Load() {
		// The after-commit crash point exits once this answer is out:
		// push it to the socket now rather than when the handler returns.
		_ = http.NewResponseController(w).Flush()
	}
	return code
}

// checkKey rejects a key longer than kv.MaxKeyBytes (reads and writes).
func checkKey(key string) error {
	if len(key) > kv.MaxKeyBytes {
		return fmt.Errorf("key of %d bytes is over the limit of %d bytes: use a shorter key", len(key), kv.MaxKeyBytes)
	}
	return nil
}

// readBody reads a request body of at most maxRequestBytes. Past the limit
// the error wraps *http.MaxBytesError (and net/http closes the connection
// after the answer instead of reading the rest).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err == nil {
		return body, nil
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, fmt.Errorf("request body is over the limit of %d bytes (1 MiB): send a smaller value: %w", tooLarge.Limit, err)
	}
	return nil, fmt.Errorf("read request body: %w (send the whole body at once)", err)
}

// bodyErrorStatus is the answer to a readBody error: 413 over the size
// limit, 408 when the client did not send the body within the read timeout,
// else 400. None of them proposed anything: the client can treat each as a
// definite failure.
func bodyErrorStatus(err error) int {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

// The request bodies as decoded by the server. The fields are pointers so
// that a missing field (or null), which is an error, can be told from an
// empty string, which is legitimate data: PUT {"value":""} stores the
// empty string, append {"element":""} appends an empty element, and cas
// {"expect":"","value":"x"} matches a key holding the empty string. The
// Go client's wire types (client.PutRequest, ...) always send every field.
type (
	putBody struct {
		Value *string `json:"value"`
	}
	casBody struct {
		Expect *string `json:"expect"`
		Value  *string `json:"value"`
	}
	appendBody struct {
		Element *string `json:"element"`
	}
)

// Example bodies quoted by decodeCommand's errors.
const (
	putExample    = `{"value":"v"}`
	casExample    = `{"expect":"a","value":"b"}`
	appendExample = `{"element":"e"}`
)

// decodeCommand fills cmd from the JSON body of op. Every field of the op's
// body is required; a missing one is an error that quotes an example body.
func decodeCommand(op string, body []byte, cmd *kv.Command) error {
	switch op {
	case kv.OpPut:
		var req putBody
		if err := json.Unmarshal(body, &req); err != nil {
			return fmt.Errorf("decode put body: %w: send %s", err, putExample)
		}
		if req.Value == nil {
			return fmt.Errorf(`missing "value": send %s`, putExample)
		}
		cmd.Value = *req.Value
	case kv.OpCAS:
		var req casBody
		if err := json.Unmarshal(body, &req); err != nil {
			return fmt.Errorf("decode cas body: %w: send %s", err, casExample)
		}
		switch {
		case req.Expect == nil && req.Value == nil:
			return fmt.Errorf(`missing "expect" and "value": send %s`, casExample)
		case req.Expect == nil:
			return fmt.Errorf(`missing "expect": send %s`, casExample)
		case req.Value == nil:
			return fmt.Errorf(`missing "value": send %s`, casExample)
		}
		cmd.Expect, cmd.Value = *req.Expect, *req.Value
	case kv.OpAppend:
		var req appendBody
		if err := json.Unmarshal(body, &req); err != nil {
			return fmt.Errorf("decode append body: %w: send %s", err, appendExample)
		}
		if req.Element == nil {
			return fmt.Errorf(`missing "element": send %s`, appendExample)
		}
		cmd.Value = *req.Element
	default:
		return fmt.Errorf("unknown op %q", op)
	}
	return nil
}

// handleGet serves a read according to the read mode.
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	code := s.get(w, r)
	s.metrics.observe("read", code, time.Since(start))
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) int {
	key := r.PathValue("key")
	if err := checkKey(key); err != nil {
		return replyError(w, http.StatusBadRequest, err)
	}
	view := s.view.Load()
	path := s.readPath()
	switch rt := s.route(view, s.servesReadHere(view, path), r.Header.Get(HeaderForwarded)); {
	case rt.refuse != nil:
		return replyError(w, http.StatusServiceUnavailable, rt.refuse)
	case rt.leader != "":
		return s.forward(w, r, nil, rt.leader)
	}
	req := newReadRequest(key, path)
	select {
	case s.reads <- req:
	default:
		return replyError(w, http.StatusServiceUnavailable, errors.New("read queue full; retry later"))
	}
	return s.await(w, r, req.done, "read")
}

// await waits for the loop's answer until the request timeout. A write that
// was proposed but not seen applied by then has an unknown outcome: 504.
func (s *Server) await(w http.ResponseWriter, r *http.Request, done <-chan writeResult, what string) int {
	timer := time.NewTimer(s.cfg.RequestTimeout)
	defer timer.Stop()
	select {
	case res := <-done:
		return replyJSON(w, res.status, res.body)
	case <-timer.C:
		res := s.timeoutResult(what)
		return replyJSON(w, res.status, res.body)
	case <-r.Context().Done():
		// The client went away; nothing can be delivered.
		return 499
	}
}

// handleStatus answers GET /status. With ?digest=false it answers from the
// status the update loop last published, without the state digest: cheap,
// and it never waits on the loop (for callers that poll often).
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("digest") == "false" {
		if v := s.view.Load(); v != nil {
			replyJSON(w, http.StatusOK, v.status)
			return
		}
	}
	s.replyStatus(w, r)
}

// replyStatus answers with the node's current status, read through the
// update loop within the request timeout.
func (s *Server) replyStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	st, err := s.currentStatus(ctx)
	if err != nil {
		replyJSON(w, http.StatusServiceUnavailable, client.ErrorResponse{Error: "status: " + err.Error()})
		return
	}
	replyJSON(w, http.StatusOK, st)
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if err := s.metrics.write(w, s.scrapeGauges()); err != nil {
		s.log.Debug("write metrics", "err", err)
	}
}

// handleClock applies a clock fault (only registered with --enable-fault-hooks).
func (s *Server) handleClock(w http.ResponseWriter, r *http.Request) {
	var cmd client.ClockCommand
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&cmd); err != nil {
		replyJSON(w, http.StatusBadRequest, client.ErrorResponse{Error: "decode clock command: " + err.Error()})
		return
	}
	if err := s.applyClock(cmd); err != nil {
		replyJSON(w, http.StatusBadRequest, client.ErrorResponse{Error: err.Error()})
		return
	}
	s.log.Warn("clock fault applied", "action", cmd.Action, "offset_ms", cmd.OffsetMillis, "delta_ms", cmd.DeltaMillis,
		"period_ms", cmd.PeriodMillis, "duration_ms", cmd.DurationMillis, "rate", cmd.Rate,
		"clock_offset", s.clock.Offset(), "clock_rate", s.clock.Rate())
	s.replyStatus(w, r)
}

// ApplyClock applies a clock fault to the node's skewable clock, as
// POST /admin/clock does.
func (s *Server) ApplyClock(cmd client.ClockCommand) error { return s.applyClock(cmd) }

func (s *Server) applyClock(cmd client.ClockCommand) error {
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	switch cmd.Action {
	case client.ClockBump:
		s.clock.Bump(ms(cmd.OffsetMillis))
	case client.ClockStrobe:
		if err := s.clock.Strobe(ms(cmd.DeltaMillis), ms(cmd.PeriodMillis), ms(cmd.DurationMillis)); err != nil {
			return fmt.Errorf("strobe: %w", err)
		}
	case client.ClockRate:
		if err := s.clock.SetRate(cmd.Rate); err != nil {
			return fmt.Errorf("rate: %w", err)
		}
	case client.ClockReset:
		s.clock.Reset()
	default:
		return fmt.Errorf("unknown clock action %q: use bump, strobe, rate or reset", cmd.Action)
	}
	return nil
}

// replyJSON writes body as the whole response, with its length: a response
// flushed before the handler returns is complete on the wire (the
// after-commit crash point exits right after such a flush).
func replyJSON(w http.ResponseWriter, status int, body any) int {
	data, err := json.Marshal(body)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	data = append(data, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
	return status
}

func replyError(w http.ResponseWriter, status int, err error) int {
	return replyJSON(w, status, client.KVResponse{Error: err.Error()})
}
