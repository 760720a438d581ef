package etcd

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// pickerDeadline is what gRPC's picker returns when the call's context ends
// before a connection is ready (clientv3 turns it into ctx.Err()).
var pickerDeadline = status.Error(codes.DeadlineExceeded,
	`latest balancer error: connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`)

func TestClassify(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		kind    opKind
		reached bool
		want    Verdict
	}{
		{"success", nil, writeOp, true, OK},
		{"read: any error, the range changed nothing", context.DeadlineExceeded, readOp, true, Fail},
		{"read: leader changed", rpctypes.ErrLeaderChanged, readOp, true, Fail},
		{"write never sent: deadline in the picker", context.DeadlineExceeded, writeOp, false, Fail},
		{"write sent: caller's deadline", context.DeadlineExceeded, writeOp, true, Info},
		{"write sent: caller cancelled", context.Canceled, writeOp, true, Info},
		{"no leader (client form)", rpctypes.ErrNoLeader, writeOp, true, Fail},
		{"no leader (gRPC form)", rpctypes.ErrGRPCNoLeader, writeOp, true, Fail},
		{"too many requests", rpctypes.ErrTooManyRequests, writeOp, true, Fail},
		{"request too large", rpctypes.ErrRequestTooLarge, writeOp, true, Fail},
		{"no space", rpctypes.ErrNoSpace, writeOp, true, Fail},
		{"empty key", rpctypes.ErrEmptyKey, writeOp, true, Fail},
		{"duplicate key", rpctypes.ErrDuplicateKey, writeOp, true, Fail},
		{"learner", rpctypes.ErrGRPCNotSupportedForLearner, writeOp, true, Fail},
		{"raft proposal dropped", status.Error(codes.Unknown, "raft proposal dropped"), writeOp, true, Fail},
		{"request timed out: proposed, may commit", rpctypes.ErrTimeout, writeOp, true, Info},
		{"timed out after leader failure", rpctypes.ErrTimeoutDueToLeaderFail, writeOp, true, Info},
		{"timed out after connection lost", rpctypes.ErrTimeoutDueToConnectionLost, writeOp, true, Info},
		{"server stopped", rpctypes.ErrStopped, writeOp, true, Info},
		{"leader changed", rpctypes.ErrLeaderChanged, writeOp, true, Info},
		{"corrupt cluster", rpctypes.ErrCorrupt, writeOp, true, Info},
		{"transport lost after sending", status.Error(codes.Unavailable, "error reading from server: EOF"), writeOp, true, Info},
		{"server ended the call", status.Error(codes.Unknown, errServerEnded+": etcdserver: context deadline exceeded"), writeOp, true, Info},
		{"unknown error", errors.New("something nobody expected"), writeOp, true, Info},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err, tt.kind, tt.reached)
			assert.Equal(t, tt.want.String(), got.Verdict.String())
			assert.False(t, got.Mismatch, "only a cas precondition sets Mismatch")
			if tt.err == nil {
				assert.NoError(t, got.Err)
				return
			}
			require.Error(t, got.Err)
			assert.ErrorIs(t, got.Err, tt.err, "the outcome keeps the cause")
		})
	}
}

func TestClassifyNeverSentSaysSo(t *testing.T) {
	got := classify(context.DeadlineExceeded, writeOp, false)
	require.ErrorIs(t, got.Err, errNotSent)
	assert.Contains(t, got.String(), "fail: request not sent")
}

func TestNeverSent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no error", nil, false},
		{"picker gave up with a balancer error", pickerDeadline, true},
		{"picker gave up while connecting", status.Error(codes.DeadlineExceeded, "context deadline exceeded while waiting for connections to become ready"), true},
		{"picker cancelled", status.Error(codes.Canceled, "context canceled while waiting for connections to become ready"), true},
		{"deadline after sending", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), false},
		{"transport broke", status.Error(codes.Unavailable, "error reading from server: EOF"), false},
		{"server answer", rpctypes.ErrGRPCTimeout, false},
		{"not a gRPC error", errors.New("latest balancer error: x"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, neverSent(tt.err))
		})
	}
}

func TestServerEndedErrorHidesOnlyTheServersDeadline(t *testing.T) {
	live := context.Background()
	ended, cancel := context.WithCancel(context.Background())
	cancel()

	serverDeadline := status.Error(codes.DeadlineExceeded, "etcdserver: context deadline exceeded")
	got := serverEndedError(live, serverDeadline)
	assert.Equal(t, codes.Unknown, status.Code(got), "the retry loop must not take it for the caller's deadline")
	assert.Contains(t, status.Convert(got).Message(), errServerEnded)
	assert.Equal(t, Info, classify(got, writeOp, true).Verdict)

	assert.Equal(t, serverDeadline, serverEndedError(ended, serverDeadline), "the caller's own deadline stays as it is")
	unavailable := status.Error(codes.Unavailable, "transport is closing")
	assert.Equal(t, unavailable, serverEndedError(live, unavailable))
	assert.NoError(t, serverEndedError(live, nil))
}
