package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLimitRejectionsAreDefiniteFailures: kvnode answers 400 (a missing
// field, a key over the length limit), 408 (a body not received within the
// read timeout) and 413 (a body over the size limit) before proposing
// anything, so each is Fail, never Info: the write did not take effect.
// The node's message reaches the caller.
func TestLimitRejectionsAreDefiniteFailures(t *testing.T) {
	cases := []struct {
		code int
		msg  string
	}{
		{http.StatusBadRequest, "key of 1025 bytes is over the limit of 1024 bytes: use a shorter key"},
		{http.StatusBadRequest, `missing "value": send {"value":"v"}`},
		{http.StatusRequestTimeout, "read request body: i/o timeout (send the whole body at once)"},
		{http.StatusRequestEntityTooLarge, "request body is over the limit of 1048576 bytes (1 MiB): send a smaller value"},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.code)+"/"+tc.msg, func(t *testing.T) {
			body, err := json.Marshal(KVResponse{Error: tc.msg})
			require.NoError(t, err)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.code)
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			c := New(srv.URL, Options{Timeout: time.Second})
			for name, call := range map[string]func() Result{
				"get":    func() Result { return c.Get(context.Background(), "k") },
				"put":    func() Result { return c.Put(context.Background(), "k", "v") },
				"cas":    func() Result { return c.CAS(context.Background(), "k", "a", "b") },
				"append": func() Result { return c.Append(context.Background(), "k", "e") },
			} {
				got := call()
				assert.Equal(t, Fail, got.Outcome, name)
				assert.Equal(t, tc.code, got.StatusCode, name)
				if assert.Error(t, got.Err, name) {
					assert.Contains(t, got.Err.Error(), tc.msg, name)
				}
			}
		})
	}
}
