package etcd

import (
	"context"
	"errors"
	"fmt"
	"github.com/faultline/faultline/sut"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Verdict says whether an operation took effect: the harness's outcome.
type Verdict = sut.Outcome

// The verdicts, as the harness names them.
const (
	OK   = sut.OK
	Fail = sut.Fail
	Info = sut.Info
)

// Outcome is what one client call tells about its operation.
type Outcome struct {
	Verdict Verdict
	// Err explains a Fail or an Info; nil for OK.
	Err error
	// Mismatch marks a compare-and-set whose precondition did not hold: a
	// definite Fail.
	Mismatch bool
}

func (o Outcome) String() string {
	if o.Err == nil {
		return o.Verdict.String()
	}
	return o.Verdict.String() + ": " + o.Err.Error()
}

// ok is the outcome of a call that succeeded.
var ok = Outcome{Verdict: OK}

// opKind separates operations that cannot change the store from those that can.
type opKind int

const (
	// readOp: a Range. It changes nothing, so whatever went wrong it did not
	// take effect: every error is a Fail (as in Jepsen's etcd client).
	readOp opKind = iota
	// writeOp: a Put or a Txn. An error is a Fail only when it proves the
	// request was not applied and never will be; otherwise Info.
	writeOp
)

// errNotSent is wrapped in the error of a call none of whose attempts
// reached a connection to the server.
var errNotSent = errors.New("request not sent: no connection to the member was ready before the deadline")

// errProposalDropped is the text of go.etcd.io/raft's ErrProposalDropped,
// which etcd sends as codes.Unknown (it has no gRPC error of its own).
const errProposalDropped = "raft proposal dropped"

// definitelyNotApplied are the server's answers that prove a write was not
// applied and never will be, in etcd v3.6 (Version):
//
//   - no leader: with the require-leader metadata every call carries, the
//     server's gRPC interceptor answers it before the request reaches the
//     KV handler, so nothing was proposed. (The same text also comes from
//     lease and membership calls that forward to a leader; the client makes
//     none.)
//   - too many requests: the applied index lags the commit index too far;
//     refused before proposing.
//   - request too large: refused before proposing.
//   - database space exceeded: refused by the quota check before proposing,
//     or by the NOSPACE alarm's applier, which leaves the store unchanged.
//   - empty key, too many ops, duplicate key, invalid sort option: request
//     validation in the gRPC layer.
//   - not supported for learner: refused by the interceptor.
var definitelyNotApplied = []error{
	rpctypes.ErrGRPCNoLeader,
	rpctypes.ErrGRPCRequestTooManyRequests,
	rpctypes.ErrGRPCRequestTooLarge,
	rpctypes.ErrGRPCNoSpace,
	rpctypes.ErrGRPCEmptyKey,
	rpctypes.ErrGRPCTooManyOps,
	rpctypes.ErrGRPCDuplicateKey,
	rpctypes.ErrGRPCInvalidSortOption,
	rpctypes.ErrGRPCNotSupportedForLearner,
}

// classify turns the error of a failed call into its outcome. reached is
// false when no attempt of the call got as far as a connection to the
// server (see attempts), so the request was never sent.
//
// The mapping for writes, in order:
//
//	reached == false                          Fail  never sent
//	etcd error in definitelyNotApplied        Fail  refused before proposing
//	"raft proposal dropped" (codes.Unknown)   Fail  raft appended it nowhere
//	anything else                             Info
//
// "Anything else" includes, on purpose: the caller's deadline or
// cancellation after sending (the request may be in the leader's log);
// "request timed out" and its "leader failure" and "connection lost"
// variants (proposed, not yet known to be committed: it may still commit);
// "server stopped" (may come after proposing); "leader changed"; a server
// that ended the call by its own deadline; codes.Unavailable from the
// transport after sending (EOF, connection reset, transport closing); and
// every error this table does not know. When in doubt, Info.
func classify(err error, kind opKind, reached bool) Outcome {
	if err == nil {
		return ok
	}
	if kind == readOp {
		return Outcome{Verdict: Fail, Err: err}
	}
	if !reached {
		return Outcome{Verdict: Fail, Err: fmt.Errorf("%w: %w", errNotSent, err)}
	}
	etcdErr := rpctypes.Error(err)
	for _, sentinel := range definitelyNotApplied {
		if errors.Is(etcdErr, rpctypes.Error(sentinel)) {
			return Outcome{Verdict: Fail, Err: err}
		}
	}
	if s, isStatus := status.FromError(err); isStatus && s.Code() == codes.Unknown && s.Message() == errProposalDropped {
		return Outcome{Verdict: Fail, Err: err}
	}
	return Outcome{Verdict: Info, Err: err}
}

// neverSent reports whether one attempt's raw gRPC error says the attempt
// ended in gRPC's picker, waiting for a ready connection, so no byte of it
// reached the server. With WaitForReady (etcd's client always sets it) the
// picker only gives up when the call's context ends, with one of these two
// messages (google.golang.org/grpc, picker_wrapper.go).
func neverSent(err error) bool {
	if err == nil {
		return false
	}
	s, isStatus := status.FromError(err)
	if !isStatus || (s.Code() != codes.DeadlineExceeded && s.Code() != codes.Canceled) {
		return false
	}
	msg := s.Message()
	return strings.HasPrefix(msg, "latest balancer error:") ||
		strings.HasSuffix(msg, "while waiting for connections to become ready")
}

// isContextCode reports whether err carries the codes etcd's retry
// interceptor takes for an expired call context.
func isContextCode(err error) bool {
	c := status.Code(err)
	return c == codes.DeadlineExceeded || c == codes.Canceled
}

// errServerEnded prefixes the message of a call the server ended with a
// deadline or cancellation of its own while the caller's context was live.
const errServerEnded = "server ended the call"

// serverEndedError hides such a call's code from etcd's retry interceptor,
// which would otherwise retry it, Puts and Txns included, as if the caller's
// own per-attempt deadline had passed: a write that may have been applied
// would be sent again.
func serverEndedError(ctx context.Context, err error) error {
	if err == nil || !isContextCode(err) || ctx.Err() != nil {
		return err
	}
	return status.Error(codes.Unknown, errServerEnded+": "+status.Convert(err).Message())
}
