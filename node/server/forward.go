package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// forwardTransport is the HTTP transport a follower uses to reach the
// leader. Many clients forward through one follower at once, so keep enough
// idle connections to avoid a dial per request.
func forwardTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
}

// hopHeaders are connection-scoped and not copied to the leader.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// forward sends the client's request to the leader's client address (route
// chose the leader) and copies the leader's answer back. The outcome is
// classified honestly:
//   - the request could not be sent at all: 503;
//   - the request was sent but no answer came back: 504 (the leader may
//     have applied it).
func (s *Server) forward(w http.ResponseWriter, r *http.Request, body []byte, leader string) int {
	addr, ok := s.cfg.PeerHTTP[leader]
	if !ok {
		return replyError(w, http.StatusServiceUnavailable, fmt.Errorf("no client address for leader %s", leader))
	}

	var sent atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				sent.Store(true)
			}
		},
	}
	var reqBody io.Reader = http.NoBody
	if body != nil {
		reqBody = bytes.NewReader(body)
	}
	ctx := httptrace.WithClientTrace(r.Context(), trace)
	req, err := http.NewRequestWithContext(ctx, r.Method, "http://"+addr+r.URL.RequestURI(), reqBody)
	if err != nil {
		return replyError(w, http.StatusServiceUnavailable, fmt.Errorf("build forwarded request: %w", err))
	}
	for name, values := range r.Header {
		if !hopHeaders[name] {
			req.Header[name] = values
		}
	}
	// An idempotency key makes net/http replay a POST on a new connection
	// when the first one dies before the answer. The replay may reach a node
	// that is no longer the leader and answers 503, a definite failure, for
	// a write the first attempt got into the leader's log: the client would
	// be told "not applied" about a write that was. The leader's idempotent
	// receiver still sees the client's X-Client-Id and X-Seq.
	req.Header.Del("Idempotency-Key")
	req.Header.Del("X-Idempotency-Key")
	req.Header.Set(HeaderForwarded, s.cfg.ID)

	resp, err := s.forwarder.Do(req)
	if err != nil {
		if !sent.Load() {
			return replyError(w, http.StatusServiceUnavailable, fmt.Errorf("forward to leader %s at %s: %w", leader, addr, err))
		}
		return replyError(w, http.StatusGatewayTimeout, fmt.Errorf("forwarded to leader %s at %s, no answer: %w; outcome unknown", leader, addr, err))
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return replyError(w, http.StatusGatewayTimeout, fmt.Errorf("read answer of leader %s: %w; outcome unknown", leader, err))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := w.Write(answer); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		s.log.Debug("write forwarded answer", "err", err)
	}
	return resp.StatusCode
}
