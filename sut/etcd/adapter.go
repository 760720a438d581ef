package etcd

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/docker"
	"github.com/faultline/faultline/sut"
)

// The etcd adapter in the harness's terms: what a member is in a container
// (NodeSpec), its status as sut.Status, and a workloads.Client over Client.

// DataDir is a member's data dir in its container's writable layer.
const DataDir = "/data"

// walSuffix names etcd's WAL files (member/wal/*.wal); disk-loss's
// torn-tail cuts the newest.
const walSuffix = ".wal"

// NodeSpec returns what an etcd member is in a container: Command's line
// (flags after it), the client and peer ports, the data dir, and its status.
// etcd has neither a clock hook nor crash points: the clock faults and the
// crash-point faults are refused for it before a run starts.
func NodeSpec(flags []string) docker.NodeSpec {
	return docker.NodeSpec{
		Store: Name,
		Command: func(node string, members []docker.Member) []string {
			peers := make(map[string]string, len(members))
			for _, m := range members {
				peers[m.Name] = m.IP.String()
			}
			return append(Command(node, peers, DataDir), flags...)
		},
		ClientPort:    ClientPort,
		PeerPort:      PeerPort,
		DataDir:       DataDir,
		LogFileSuffix: walSuffix,
		Status:        func(ctx context.Context, endpoint string) (sut.Status, error) { return NodeStatus(ctx, endpoint, true) },
		Peek: func(ctx context.Context, endpoint string) (sut.Status, error) {
			return NodeStatus(ctx, endpoint, false)
		},
	}
}

// NodeStatus is the member's status in the harness's terms: the term of the
// last applied entry is the generation (see LeaderTermUnknown), the leader is named by the member's own member list, the
// applied index is its raft applied index. With digest, Digest is the
// member's HashKV at its current revision, written with that revision and
// its compaction point, so two members with equal applied indexes and equal
// digests hold the same data.
func NodeStatus(ctx context.Context, endpoint string, digest bool) (sut.Status, error) {
	st, err := Status(ctx, endpoint)
	if err != nil {
		return sut.Status{}, err
	}
	out := sut.Status{
		Node: st.Name, Role: "follower", Generation: st.Term, Leader: st.Leader,
		AppliedIndex: st.AppliedIndex, CommitIndex: st.CommitIndex,
		// etcd's RaftTerm is the term of the last applied entry (etcdserver
		// sets it as it applies), not the raft term: a member elected in
		// term 3 reads as leader of term 2 until it applies its first
		// term-3 entry. Seen in a run: the leaders checker flagged two
		// leaders of term 2 that etcd's own log shows in terms 2 and 3.
		LeaderTermUnknown: true,
	}
	switch {
	case st.IsLeader():
		out.Role = sut.RoleLeader
	case st.IsLearner:
		out.Role = "learner"
	}
	if !digest {
		return out, nil
	}
	h, err := HashKV(ctx, endpoint, 0)
	if err != nil {
		return sut.Status{}, err
	}
	out.Digest = fmt.Sprintf("rev %d compact %d hash %08x", h.HashRevision, h.CompactRevision, h.Hash)
	return out, nil
}

// WorkloadClient is Client with the workloads' result type: it satisfies
// workloads.Client.
type WorkloadClient struct {
	c   *Client
	err error
}

// NewWorkloadClient returns a workload client of the member at endpoint. A
// client that cannot be made answers every call with a definite failure
// saying why (nothing was sent).
func NewWorkloadClient(endpoint string, opts ClientOptions) *WorkloadClient {
	c, err := NewClient(endpoint, opts)
	return &WorkloadClient{c: c, err: err}
}

// Read reads key's value.
func (w *WorkloadClient) Read(ctx context.Context, key string) sut.Result {
	if w.err != nil {
		return sut.Result{Outcome: sut.Fail, Err: w.err}
	}
	v, found, out := w.c.Read(ctx, key)
	r := result(out)
	r.Value, r.Found = v, found
	return r
}

// Write sets key to value.
func (w *WorkloadClient) Write(ctx context.Context, key, value string) sut.Result {
	if w.err != nil {
		return sut.Result{Outcome: sut.Fail, Err: w.err}
	}
	return result(w.c.Write(ctx, key, value))
}

// CAS sets key to value if it holds expect.
func (w *WorkloadClient) CAS(ctx context.Context, key, expect, value string) sut.Result {
	if w.err != nil {
		return sut.Result{Outcome: sut.Fail, Err: w.err}
	}
	return result(w.c.CAS(ctx, key, expect, value))
}

// Add adds element to the set at key.
func (w *WorkloadClient) Add(ctx context.Context, key, element string) sut.Result {
	if w.err != nil {
		return sut.Result{Outcome: sut.Fail, Err: w.err}
	}
	return result(w.c.Add(ctx, key, element))
}

// ReadSet reads the set at key in the order its elements were added.
func (w *WorkloadClient) ReadSet(ctx context.Context, key string) sut.Result {
	if w.err != nil {
		return sut.Result{Outcome: sut.Fail, Err: w.err}
	}
	list, out := w.c.ReadSet(ctx, key)
	r := result(out)
	r.List, r.Found = list, len(list) > 0
	return r
}

// Close ends the client's connection.
func (w *WorkloadClient) Close() error {
	if w.c == nil {
		return nil
	}
	return w.c.Close()
}

func result(o Outcome) sut.Result {
	return sut.Result{Outcome: o.Verdict, Err: o.Err, Mismatch: o.Mismatch}
}

// BuildImage builds (or reuses) the etcd node image.
func BuildImage(ctx context.Context, opts docker.EtcdImageOptions) (string, error) {
	return docker.BuildEtcdImage(ctx, opts)
}
