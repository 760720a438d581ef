package server

import (
	"net/http"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/kv"
)

// writeResult is the answer to a request: an HTTP status and a JSON body.
type writeResult struct {
	status int
	body   client.KVResponse
}

// resultFor maps the state machine's result to an HTTP answer.
func resultFor(r kv.Result) writeResult {
	switch r.Status {
	case kv.Applied:
		return writeResult{http.StatusOK, client.KVResponse{Found: true, Value: r.Value, List: r.List}}
	case kv.CASMismatch:
		return writeResult{http.StatusPreconditionFailed, client.KVResponse{Value: r.Value,
			Error: "cas mismatch: the key does not hold the expected value"}}
	case kv.WrongType:
		return writeResult{http.StatusConflict, client.KVResponse{Error: "wrong type: the key holds the other kind of value"}}
	case kv.StaleRequest:
		// The client already sent a later request; this retry's original may
		// or may not have taken effect, and its result is no longer kept.
		return writeResult{http.StatusGatewayTimeout, client.KVResponse{Error: "stale retry: outcome of the original request unknown"}}
	}
	return writeResult{http.StatusInternalServerError, client.KVResponse{Error: "unknown apply status " + r.Status.String()}}
}

// expectedResult is what a write would answer if it applied cleanly.
func expectedResult(cmd kv.Command) writeResult {
	if cmd.Op == kv.OpAppend {
		return writeResult{http.StatusOK, client.KVResponse{Found: true}}
	}
	return writeResult{http.StatusOK, client.KVResponse{Found: true, Value: cmd.Value}}
}

func readResult(v kv.Value, found bool) writeResult {
	if !found {
		return writeResult{http.StatusNotFound, client.KVResponse{Found: false}}
	}
	return writeResult{http.StatusOK, client.KVResponse{Found: true, Value: v.String, List: v.List}}
}

func errorResult(status int, err error) writeResult {
	return writeResult{status, client.KVResponse{Error: err.Error()}}
}
