package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/kv"
)

// send sends one request with a JSON body and returns the status and the
// answer's error message.
func send(t *testing.T, method, url, body string) (int, client.KVResponse) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var kvr client.KVResponse
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &kvr), "answer %q", data)
	return resp.StatusCode, kvr
}

// TestBodyOverLimitIs413: a body over maxRequestBytes is refused with 413
// naming the limit (it used to be cut at the limit and answered 400
// "unexpected end of JSON input"); one at the limit is accepted, and the
// Go client reports the 413 as a definite failure.
func TestBodyOverLimitIs413(t *testing.T) {
	addr := singleNode(t, nil)
	url := "http://" + addr + "/kv/big"
	envelope := len(`{"value":""}`)

	code, _ := send(t, http.MethodPut, url, `{"value":"`+strings.Repeat("v", maxRequestBytes-envelope)+`"}`)
	assert.Equal(t, http.StatusOK, code, "a body of exactly the limit is accepted")

	code, res := send(t, http.MethodPut, url, `{"value":"`+strings.Repeat("v", maxRequestBytes-envelope+1)+`"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.Contains(t, res.Error, strconv.Itoa(maxRequestBytes))

	res2 := client.New("http://"+addr, client.Options{Timeout: 5 * time.Second}).
		Append(context.Background(), "big-list", strings.Repeat("e", 2*maxRequestBytes))
	assert.Equal(t, client.Fail, res2.Outcome, "413 is a definite failure: %v", res2.Err)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res2.StatusCode)
}

// TestKeyOverLimitIs400: a key longer than kv.MaxKeyBytes is refused by
// reads and every write with 400 naming the limit; a key of exactly the
// limit works.
func TestKeyOverLimitIs400(t *testing.T) {
	addr := singleNode(t, nil)
	ctx := context.Background()
	c := client.New("http://"+addr, client.Options{Timeout: 5 * time.Second})

	atLimit := strings.Repeat("k", kv.MaxKeyBytes)
	require.Equal(t, client.OK, c.Put(ctx, atLimit, "v").Outcome)
	got := c.Get(ctx, atLimit)
	require.Equal(t, client.OK, got.Outcome, "%v", got.Err)
	assert.Equal(t, "v", got.Value)

	over := strings.Repeat("k", kv.MaxKeyBytes+1)
	for name, call := range map[string]func() client.Result{
		"get":    func() client.Result { return c.Get(ctx, over) },
		"put":    func() client.Result { return c.Put(ctx, over, "v") },
		"cas":    func() client.Result { return c.CAS(ctx, over, "v", "w") },
		"append": func() client.Result { return c.Append(ctx, over, "e") },
	} {
		t.Run(name, func(t *testing.T) {
			res := call()
			assert.Equal(t, http.StatusBadRequest, res.StatusCode)
			assert.Equal(t, client.Fail, res.Outcome)
			require.Error(t, res.Err)
			assert.Contains(t, res.Err.Error(), strconv.Itoa(kv.MaxKeyBytes))
		})
	}
	assert.Equal(t, http.StatusBadRequest, c.Put(ctx, strings.Repeat("k", 100_000), "v").StatusCode,
		"the trial's 100 KB key is not stored")
}

// TestMissingFieldsAre400: a write body without its required fields is
// refused with an example body (PUT {} used to store an empty value); a
// field present with an empty string is data and is applied.
func TestMissingFieldsAre400(t *testing.T) {
	addr := singleNode(t, nil)
	base := "http://" + addr + "/kv/"
	cases := []struct {
		name, method, path, body string
		want                     int
		msg                      string // in the error; "" for 200
	}{
		{"put {}", http.MethodPut, "p", `{}`, http.StatusBadRequest, `missing "value": send {"value":"v"}`},
		{"put null", http.MethodPut, "p", `{"value":null}`, http.StatusBadRequest, `missing "value"`},
		{"put empty body", http.MethodPut, "p", ``, http.StatusBadRequest, `send {"value":"v"}`},
		{"put empty string", http.MethodPut, "p", `{"value":""}`, http.StatusOK, ""},
		{"cas {}", http.MethodPost, "p/cas", `{}`, http.StatusBadRequest, `missing "expect" and "value": send {"expect":"a","value":"b"}`},
		{"cas no expect", http.MethodPost, "p/cas", `{"value":"b"}`, http.StatusBadRequest, `missing "expect"`},
		{"cas no value", http.MethodPost, "p/cas", `{"expect":""}`, http.StatusBadRequest, `missing "value"`},
		{"cas from empty string", http.MethodPost, "p/cas", `{"expect":"","value":"b"}`, http.StatusOK, ""},
		{"append {}", http.MethodPost, "l/append", `{}`, http.StatusBadRequest, `missing "element": send {"element":"e"}`},
		{"append empty element", http.MethodPost, "l/append", `{"element":""}`, http.StatusOK, ""},
	}
	for _, tc := range cases { // in order: the cas expects the empty string put before it
		t.Run(tc.name, func(t *testing.T) {
			code, res := send(t, tc.method, base+tc.path, tc.body)
			assert.Equal(t, tc.want, code, res.Error)
			if tc.msg != "" {
				assert.Contains(t, res.Error, tc.msg)
			}
		})
	}
	got := client.New("http://"+addr, client.Options{Timeout: 5 * time.Second}).Get(context.Background(), "l")
	require.Equal(t, client.OK, got.Outcome)
	assert.Equal(t, []string{""}, got.List, "only the explicit empty element was appended")
}

// TestDecodeCommand: the pure decoding of write bodies.
func TestDecodeCommand(t *testing.T) {
	str := func(s string) *string { return &s }
	cases := []struct {
		op, body      string
		value, expect *string // wanted on success
		wantErr       string
	}{
		{kv.OpPut, `{"value":"v"}`, str("v"), str(""), ""},
		{kv.OpPut, `{"value":""}`, str(""), str(""), ""},
		{kv.OpPut, `{}`, nil, nil, `missing "value": send {"value":"v"}`},
		{kv.OpPut, `{"value":1}`, nil, nil, `decode put body`},
		{kv.OpPut, `{"value":"v"} x`, nil, nil, `send {"value":"v"}`},
		{kv.OpCAS, `{"expect":"a","value":"b"}`, str("b"), str("a"), ""},
		{kv.OpCAS, `{"expect":"","value":""}`, str(""), str(""), ""},
		{kv.OpCAS, `{"expect":"a"}`, nil, nil, `missing "value": send {"expect":"a","value":"b"}`},
		{kv.OpCAS, `{"value":"b"}`, nil, nil, `missing "expect"`},
		{kv.OpAppend, `{"element":"e"}`, str("e"), str(""), ""},
		{kv.OpAppend, `{"element":""}`, str(""), str(""), ""},
		{kv.OpAppend, `{"value":"e"}`, nil, nil, `missing "element": send {"element":"e"}`},
	}
	for _, tc := range cases {
		t.Run(tc.op+" "+tc.body, func(t *testing.T) {
			var cmd kv.Command
			err := decodeCommand(tc.op, []byte(tc.body), &cmd)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, *tc.value, cmd.Value)
			assert.Equal(t, *tc.expect, cmd.Expect)
		})
	}
}
