package etcd

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// MemberStatus is one member's own report about itself, from the Maintenance API.
// Every field is the member's local view: a member cut off from the others
// still answers, with what it last knew.
type MemberStatus struct {
	// Name is the member's --name; ID its member ID.
	Name string
	ID   uint64
	// Term is the raft term the member is in: faultline's generation.
	Term uint64
	// Leader is the name of the member this member believes leads, "" when
	// it knows of none; LeaderID is its member ID, 0 when none.
	Leader   string
	LeaderID uint64
	// AppliedIndex is the last raft index the member applied; CommitIndex
	// the last it knows committed (etcd's "raft index": the high-water mark).
	AppliedIndex uint64
	CommitIndex  uint64
	// Revision is the member's MVCC store revision.
	Revision int64
	// Version is the etcd server version, e.g. "3.6.17".
	Version string
	// IsLearner is true for a member that does not vote.
	IsLearner bool
	// Errors are the member's own complaints: "etcdserver: no leader" and
	// active alarms (NOSPACE, CORRUPT).
	Errors []string
}

// IsLeader reports whether the member believes it leads.
func (s MemberStatus) IsLeader() bool { return s.LeaderID != 0 && s.LeaderID == s.ID }

// Status asks the member at endpoint (its client URL, host:port) for its
// status, and names its leader from the member list the same member holds
// (read locally, so a member without a quorum still answers). It gives up
// after DefaultCallTimeout, or at ctx's earlier deadline.
func Status(ctx context.Context, endpoint string) (MemberStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultCallTimeout)
	defer cancel()
	cli, err := newV3Client(endpoint, DefaultDialTimeout)
	if err != nil {
		return MemberStatus{}, err
	}
	defer cli.Close()
	resp, err := cli.Status(ctx, endpoint)
	if err != nil {
		return MemberStatus{}, fmt.Errorf("etcd status of %s: %w: is the member running and its client port reachable?", endpoint, err)
	}
	members, err := cli.MemberList(ctx, clientv3.WithSerializable())
	if err != nil {
		return MemberStatus{}, fmt.Errorf("etcd member list of %s: %w", endpoint, err)
	}
	names := make(map[uint64]string, len(members.Members))
	for _, m := range members.Members {
		names[m.ID] = m.Name
	}
	st := MemberStatus{
		ID:           resp.Header.MemberId,
		Term:         resp.RaftTerm,
		LeaderID:     resp.Leader,
		AppliedIndex: resp.RaftAppliedIndex,
		CommitIndex:  resp.RaftIndex,
		Revision:     resp.Header.Revision,
		Version:      resp.Version,
		IsLearner:    resp.IsLearner,
		Errors:       resp.Errors,
	}
	st.Name = names[st.ID]
	if st.LeaderID != 0 {
		st.Leader = names[st.LeaderID]
	}
	return st, nil
}

// KVHash is a member's hash of its key-value store at one revision. Two
// members whose hashes at the same HashRevision (and CompactRevision) differ
// hold different data: they diverged.
type KVHash struct {
	// Hash covers every key's every version up to HashRevision, from
	// CompactRevision on.
	Hash uint32
	// HashRevision is the revision hashed; CompactRevision the member's
	// compaction point; CurrentRevision the member's revision when it
	// answered.
	HashRevision    int64
	CompactRevision int64
	CurrentRevision int64
}

// HashKV asks the member at endpoint for the hash of its store at revision
// rev (0: its current revision). A rev beyond the member's current revision
// fails ("required revision is a future revision"): wait until the member
// caught up and ask again. It gives up after DefaultCallTimeout, or at ctx's
// earlier deadline.
func HashKV(ctx context.Context, endpoint string, rev int64) (KVHash, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultCallTimeout)
	defer cancel()
	cli, err := newV3Client(endpoint, DefaultDialTimeout)
	if err != nil {
		return KVHash{}, err
	}
	defer cli.Close()
	resp, err := cli.HashKV(ctx, endpoint, rev)
	if err != nil {
		return KVHash{}, fmt.Errorf("etcd hashkv of %s at revision %d: %w", endpoint, rev, err)
	}
	return KVHash{
		Hash:            resp.Hash,
		HashRevision:    resp.HashRevision,
		CompactRevision: resp.CompactRevision,
		CurrentRevision: resp.Header.Revision,
	}, nil
}
