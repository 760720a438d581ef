package raft

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ents builds entries with the given terms at indexes from..from+len-1.
func ents(from uint64, terms ...uint64) []Entry {
	out := make([]Entry, len(terms))
	for i, t := range terms {
		out[i] = Entry{Index: from + uint64(i), Term: t, Data: fmt.Appendf(nil, "%d@%d", from+uint64(i), t)}
	}
	return out
}

func termsOf(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Term
	}
	return out
}

// follower returns n2 of a 3-node cluster restarted with the given log,
// term and commit index.
func follower(t *testing.T, term, commit uint64, log []Entry) *Raft {
	r, err := New(defaultConfig(nodeIDs(3))("n2"), Restore{HardState: HardState{Term: term, Commit: commit}, Entries: log})
	require.NoError(t, err)
	return r
}

func TestAppendLogMatching(t *testing.T) {
	tests := []struct {
		name       string
		log        []uint64 // follower's terms from index 1
		commit     uint64
		prevIndex  uint64
		prevTerm   uint64
		entries    []Entry
		wantReject bool
		wantIndex  uint64   // MsgAppResp.Index
		wantLog    []uint64 // follower's terms afterwards
		wantUnstab uint64   // first index of Ready.Entries (0: none)
	}{
		{name: "append at end", log: []uint64{1, 1}, prevIndex: 2, prevTerm: 1, entries: ents(3, 2, 2),
			wantIndex: 4, wantLog: []uint64{1, 1, 2, 2}, wantUnstab: 3},
		{name: "missing previous entry", log: []uint64{1}, prevIndex: 3, prevTerm: 2, entries: ents(4, 2),
			wantReject: true, wantIndex: 3, wantLog: []uint64{1}},
		{name: "previous term mismatch", log: []uint64{1, 1, 2}, prevIndex: 3, prevTerm: 3, entries: ents(4, 3),
			wantReject: true, wantIndex: 3, wantLog: []uint64{1, 1, 2}},
		{name: "conflicting suffix truncated", log: []uint64{1, 1, 2, 2, 2}, commit: 2, prevIndex: 2, prevTerm: 1, entries: ents(3, 3, 3),
			wantIndex: 4, wantLog: []uint64{1, 1, 3, 3}, wantUnstab: 3},
		{name: "matching prefix kept, later entries kept", log: []uint64{1, 1, 2, 2}, prevIndex: 1, prevTerm: 1, entries: ents(2, 1, 2),
			wantIndex: 3, wantLog: []uint64{1, 1, 2, 2}},
		{name: "already committed prefix", log: []uint64{1, 1, 1}, commit: 3, prevIndex: 1, prevTerm: 1, entries: ents(2, 1),
			wantIndex: 3, wantLog: []uint64{1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := follower(t, 3, tc.commit, ents(1, tc.log...))
			require.NoError(t, r.Step(Message{Type: MsgApp, From: "n1", To: "n2", Term: 3, Index: tc.prevIndex, LogTerm: tc.prevTerm, Entries: tc.entries}))
			rd := r.Ready()
			require.Len(t, rd.Messages, 1)
			resp := rd.Messages[0]
			assert.Equal(t, MsgAppResp, resp.Type)
			assert.Equal(t, tc.wantReject, resp.Reject)
			assert.Equal(t, tc.wantIndex, resp.Index)
			assert.Equal(t, tc.wantLog, termsOf(r.log.entries))
			if tc.wantUnstab == 0 {
				assert.Empty(t, rd.Entries)
			} else {
				require.NotEmpty(t, rd.Entries)
				assert.Equal(t, tc.wantUnstab, rd.Entries[0].Index, "the WAL rewrites from the conflict")
			}
			r.Advance(rd)
			assert.Equal(t, r.log.lastIndex(), r.log.stabled)
		})
	}
}

func TestAppendRefusesToTruncateCommittedEntry(t *testing.T) {
	r := follower(t, 3, 3, ents(1, 1, 1, 2))
	assert.PanicsWithValue(t,
		"raft: conflicting entry at index 3 is at or below the commit index 3: refusing to truncate a committed entry",
		func() { r.log.appendAfter(ents(3, 3)) })
}

func TestCommitNeverGoesBackwards(t *testing.T) {
	r := follower(t, 3, 2, ents(1, 1, 1, 1))
	r.log.commitTo(1) // a lower commit index is ignored, never applied
	assert.Equal(t, uint64(2), r.log.committed)
	assert.Panics(t, func() { r.log.commitTo(9) }, "commit beyond the log")
	assert.Panics(t, func() { r.setTerm(2) }, "term decreasing")
}

func TestHeartbeatCommitIsBoundedByTheLog(t *testing.T) {
	r := follower(t, 3, 0, ents(1, 1, 1))
	require.NoError(t, r.Step(Message{Type: MsgHeartbeat, From: "n1", To: "n2", Term: 3, Commit: 2, Context: 7}))
	rd := r.Ready()
	assert.Equal(t, uint64(2), r.log.committed)
	require.Len(t, rd.Messages, 1)
	assert.Equal(t, MsgHeartbeatResp, rd.Messages[0].Type)
	assert.Equal(t, uint64(7), rd.Messages[0].Context, "the read round is echoed")
	assert.Equal(t, &HardState{Term: 3, Commit: 2}, rd.HardState)
	assert.Len(t, rd.CommittedEntries, 2)
}

// TestFastBacktracking: a follower with a long divergent tail of an old term
// is repaired in a few round trips, not one per entry.
func TestFastBacktracking(t *testing.T) {
	ids := nodeIDs(3)
	leaderLog := ents(1, append([]uint64{1}, repeat(2, 100)...)...)   // 1, then 100 entries of term 2
	followerLog := ents(1, append([]uint64{1}, repeat(3, 200)...)...) // 1, then 200 of term 3 (never committed)
	stores := map[string]*memStorage{
		"n1": {hardState: HardState{Term: 4, Commit: 1}, entries: leaderLog},
		"n2": {hardState: HardState{Term: 4, Commit: 1}, entries: ents(1, 1)},
		"n3": {hardState: HardState{Term: 4, Commit: 1}, entries: followerLog},
	}
	// n1's term-2 entries are newer than n3's term-3 ones only if n1's last
	// term wins the election: give n1 a term-4 tail entry.
	stores["n1"].entries = append(stores["n1"].entries, Entry{Index: 102, Term: 4})
	nw := newNetworkFrom(t, ids, defaultConfig(ids), stores)
	nw.warm()
	nw.campaign("n1")
	nw.stabilize()
	require.Equal(t, Leader, nw.nodes["n1"].role)
	rejections := 0
	for _, m := range nw.sent {
		if m.Type == MsgAppResp && m.Reject && m.From == "n3" {
			rejections++
		}
	}
	assert.LessOrEqual(t, rejections, 2, "one hint skips the whole divergent term")
	assert.Equal(t, termsOf(nw.nodes["n1"].log.entries), termsOf(nw.nodes["n3"].log.entries))
	assert.Equal(t, nw.nodes["n1"].log.committed, nw.nodes["n3"].log.committed)
	assert.Equal(t, uint64(103), nw.nodes["n3"].log.committed)
	nw.requireSafe()
}

func repeat(term uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = term
	}
	return out
}

func TestCompactDropsEntries(t *testing.T) {
	r := follower(t, 3, 4, ents(1, 1, 1, 2, 2, 3))
	rd := r.Ready()
	r.Advance(rd) // applies 1..4
	require.Equal(t, uint64(4), r.log.applied)
	assert.Error(t, r.Compact(Snapshot{Index: 5}), "beyond applied")
	require.NoError(t, r.Compact(Snapshot{Index: 3, Data: []byte("sm@3")}))
	assert.Error(t, r.Compact(Snapshot{Index: 3}), "already compacted")
	st := r.Status()
	assert.Equal(t, uint64(3), st.SnapshotIndex)
	assert.Equal(t, uint64(4), st.FirstIndex)
	assert.Equal(t, uint64(5), st.LastIndex)
	assert.Equal(t, uint64(2), r.log.snapshot.Term, "the snapshot term is taken from the log")
}
