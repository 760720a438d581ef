package kv

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func put(k, v, client string, seq uint64) Command {
	return Command{Op: OpPut, Key: k, Value: v, ClientID: client, Seq: seq}
}

func cas(k, expect, v, client string, seq uint64) Command {
	return Command{Op: OpCAS, Key: k, Expect: expect, Value: v, ClientID: client, Seq: seq}
}

func appendCmd(k, e, client string, seq uint64) Command {
	return Command{Op: OpAppend, Key: k, Value: e, ClientID: client, Seq: seq}
}

func TestApply(t *testing.T) {
	type step struct {
		cmd  Command
		want Result
	}
	tests := []struct {
		name    string
		steps   []step
		key     string
		want    Value
		found   bool
		nothing bool // key must be absent
	}{
		{
			name:  "put then overwrite",
			steps: []step{{put("a", "1", "", 0), Result{Status: Applied, Value: "1"}}, {put("a", "2", "", 0), Result{Status: Applied, Value: "2"}}},
			key:   "a", want: Value{String: "2"}, found: true,
		},
		{
			name: "cas matches",
			steps: []step{
				{put("a", "1", "", 0), Result{Status: Applied, Value: "1"}},
				{cas("a", "1", "2", "", 0), Result{Status: Applied, Value: "2"}},
			},
			key: "a", want: Value{String: "2"}, found: true,
		},
		{
			name: "cas mismatch reports current value and changes nothing",
			steps: []step{
				{put("a", "1", "", 0), Result{Status: Applied, Value: "1"}},
				{cas("a", "9", "2", "", 0), Result{Status: CASMismatch, Value: "1"}},
			},
			key: "a", want: Value{String: "1"}, found: true,
		},
		{
			name:  "cas on absent key mismatches",
			steps: []step{{cas("a", "", "2", "", 0), Result{Status: CASMismatch}}},
			key:   "a", nothing: true,
		},
		{
			name: "append creates and extends a list",
			steps: []step{
				{appendCmd("l", "x", "", 0), Result{Status: Applied, List: []string{"x"}}},
				{appendCmd("l", "y", "", 0), Result{Status: Applied, List: []string{"x", "y"}}},
			},
			key: "l", want: Value{List: []string{"x", "y"}}, found: true,
		},
		{
			name: "append to a string is wrong type",
			steps: []step{
				{put("a", "1", "", 0), Result{Status: Applied, Value: "1"}},
				{appendCmd("a", "x", "", 0), Result{Status: WrongType}},
			},
			key: "a", want: Value{String: "1"}, found: true,
		},
		{
			name: "cas on a list is wrong type",
			steps: []step{
				{appendCmd("l", "x", "", 0), Result{Status: Applied, List: []string{"x"}}},
				{cas("l", "x", "y", "", 0), Result{Status: WrongType}},
			},
			key: "l", want: Value{List: []string{"x"}}, found: true,
		},
		{
			name: "put replaces a list",
			steps: []step{
				{appendCmd("l", "x", "", 0), Result{Status: Applied, List: []string{"x"}}},
				{put("l", "s", "", 0), Result{Status: Applied, Value: "s"}},
			},
			key: "l", want: Value{String: "s"}, found: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(10)
			for i, st := range tt.steps {
				got := s.Apply(uint64(i+1), st.cmd)
				assert.Equal(t, st.want, got, "step %d", i)
			}
			assert.Equal(t, uint64(len(tt.steps)), s.Applied())
			v, found := s.Get(tt.key)
			if tt.nothing {
				assert.False(t, found)
				return
			}
			assert.Equal(t, tt.found, found)
			assert.Equal(t, tt.want, v)
		})
	}
}

func TestIdempotentReceiver(t *testing.T) {
	tests := []struct {
		name     string
		cmds     []Command
		want     []Status
		wantList []string
	}{
		{
			name:     "retried append applied once",
			cmds:     []Command{appendCmd("l", "x", "c", 1), appendCmd("l", "x", "c", 1), appendCmd("l", "x", "c", 1)},
			want:     []Status{Applied, Applied, Applied},
			wantList: []string{"x"},
		},
		{
			name:     "stale retry after a newer request",
			cmds:     []Command{appendCmd("l", "x", "c", 1), appendCmd("l", "y", "c", 2), appendCmd("l", "x", "c", 1)},
			want:     []Status{Applied, Applied, StaleRequest},
			wantList: []string{"x", "y"},
		},
		{
			name:     "other clients are independent",
			cmds:     []Command{appendCmd("l", "x", "a", 1), appendCmd("l", "y", "b", 1), appendCmd("l", "x", "a", 1)},
			want:     []Status{Applied, Applied, Applied},
			wantList: []string{"x", "y"},
		},
		{
			name:     "empty client id is not deduplicated",
			cmds:     []Command{appendCmd("l", "x", "", 1), appendCmd("l", "x", "", 1)},
			want:     []Status{Applied, Applied},
			wantList: []string{"x", "x"},
		},
		{
			name:     "sequence gaps are fine",
			cmds:     []Command{appendCmd("l", "x", "c", 1), appendCmd("l", "y", "c", 5)},
			want:     []Status{Applied, Applied},
			wantList: []string{"x", "y"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(10)
			for i, cmd := range tt.cmds {
				got := s.Apply(uint64(i+1), cmd)
				assert.Equal(t, tt.want[i], got.Status, "command %d", i)
			}
			v, _ := s.Get("l")
			assert.Equal(t, tt.wantList, v.List)
			assert.Equal(t, uint64(len(tt.cmds)), s.Applied(), "every index counts as applied")
		})
	}
}

func TestRetryReturnsCachedResult(t *testing.T) {
	s := New(10)
	s.Apply(1, put("k", "a", "", 0))
	first := s.Apply(2, cas("k", "a", "b", "c", 1))
	require.Equal(t, Result{Status: Applied, Value: "b"}, first)
	// The retry would mismatch now (k is "b"), but it must report what the
	// first attempt did, not run again.
	retry := s.Apply(3, cas("k", "a", "b", "c", 1))
	assert.Equal(t, first, retry)
	// A cached failure is also returned as is.
	miss := s.Apply(4, cas("k", "zzz", "q", "c", 2))
	require.Equal(t, CASMismatch, miss.Status)
	s.Apply(5, put("k", "zzz", "", 0))
	assert.Equal(t, miss, s.Apply(6, cas("k", "zzz", "q", "c", 2)))
	v, _ := s.Get("k")
	assert.Equal(t, "zzz", v.String)
}

func TestApplyIndexMustIncrease(t *testing.T) {
	s := New(10)
	s.Apply(3, put("k", "v", "", 0))
	assert.Panics(t, func() { s.Apply(3, put("k", "v", "", 0)) })
	assert.Panics(t, func() { s.ApplyNoop(2) })
	s.ApplyNoop(4)
	assert.Equal(t, uint64(4), s.Applied())
}

func TestSessionEviction(t *testing.T) {
	// Apply the same log to two stores: eviction must pick the same
	// sessions, leaving identical digests, and must evict the least
	// recently touched client.
	log := []Command{
		put("k", "1", "a", 1),
		put("k", "2", "b", 1),
		put("k", "3", "c", 1),
		put("k", "4", "a", 2), // touches a: b is now the oldest
		put("k", "5", "d", 1), // evicts b
		put("k", "2", "b", 1), // b forgot: applied again
		put("k", "6", "a", 2), // a remembered: cached
	}
	run := func() *Store {
		s := New(3)
		for i, cmd := range log {
			s.Apply(uint64(i+1), cmd)
		}
		return s
	}
	s1, s2 := run(), run()
	assert.Equal(t, s1.Digest(), s2.Digest())
	v, _ := s1.Get("k")
	assert.Equal(t, "2", v.String, "retry of evicted b re-applies; retry of a is cached")
	assert.Len(t, s1.sessions, 3)
	assert.NotContains(t, s1.sessions, "c", "c became the oldest after b came back")
	for _, id := range []string{"a", "b", "d"} {
		assert.Contains(t, s1.sessions, id)
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	s := New(4)
	for i := 0; i < 20; i++ {
		client := fmt.Sprintf("c%d", i%6)
		switch i % 3 {
		case 0:
			s.Apply(uint64(2*i+1), put(fmt.Sprintf("k%d", i%5), fmt.Sprint(i), client, uint64(i)))
		case 1:
			s.Apply(uint64(2*i+1), appendCmd("list", fmt.Sprint(i), client, uint64(i)))
		case 2:
			s.Apply(uint64(2*i+1), cas("k0", "0", "x", client, uint64(i)))
		}
		s.ApplyNoop(uint64(2*i + 2))
	}
	snap, err := s.Snapshot()
	require.NoError(t, err)

	r := New(4)
	r.Apply(1, put("junk", "gone", "z", 1))
	require.NoError(t, r.Restore(snap))
	assert.Equal(t, s.Digest(), r.Digest())
	assert.Equal(t, s.Applied(), r.Applied())
	_, found := r.Get("junk")
	assert.False(t, found, "restore replaces the state")
	lst, _ := r.Get("list")
	orig, _ := s.Get("list")
	assert.Equal(t, orig, lst)

	// Both continue identically, including dedup and eviction.
	next := []Command{appendCmd("list", "18", "c0", 18), put("n", "1", "new", 1), put("n", "2", "new2", 1)}
	for i, cmd := range next {
		idx := s.Applied() + 1
		assert.Equal(t, s.Apply(idx, cmd), r.Apply(idx, cmd), "command %d", i)
	}
	assert.Equal(t, s.Digest(), r.Digest())
}

func TestDigestDistinguishesState(t *testing.T) {
	base := func() *Store {
		s := New(10)
		s.Apply(1, put("k", "v", "c", 1))
		return s
	}
	a := base()
	d := a.Digest()
	assert.Len(t, d, 64)
	assert.Equal(t, d, base().Digest())

	b := base()
	b.ApplyNoop(2)
	assert.NotEqual(t, d, b.Digest(), "applied index is part of the digest")

	c := New(10)
	c.Apply(1, put("k", "v", "other", 1))
	assert.NotEqual(t, d, c.Digest(), "sessions are part of the digest")

	e := New(10)
	e.Apply(1, appendCmd("k", "v", "c", 1))
	assert.NotEqual(t, d, e.Digest(), "a list differs from a string")
}

func TestRestoreRejectsCorruptSnapshots(t *testing.T) {
	s := New(10)
	s.Apply(1, put("a", "1", "c", 1))
	s.Apply(2, appendCmd("b", "x", "d", 1))
	good, err := s.Snapshot()
	require.NoError(t, err)
	for cut := 0; cut < len(good); cut++ {
		r := New(10)
		r.Apply(1, put("keep", "me", "", 0))
		err := r.Restore(good[:cut])
		require.ErrorIs(t, err, ErrBadSnapshot, "cut at %d", cut)
		v, _ := r.Get("keep")
		require.Equal(t, "me", v.String, "a failed restore leaves the store unchanged")
	}
	require.ErrorIs(t, New(10).Restore(append(append([]byte(nil), good...), 0)), ErrBadSnapshot)
}

func FuzzRestore(f *testing.F) {
	s := New(10)
	s.Apply(1, put("a", "1", "c", 1))
	s.Apply(2, appendCmd("b", "x", "d", 1))
	snap, _ := s.Snapshot()
	f.Add(snap)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := New(10)
		if err := r.Restore(data); err != nil {
			return
		}
		again, err := r.Snapshot()
		require.NoError(t, err)
		r2 := New(10)
		require.NoError(t, r2.Restore(again))
		require.Equal(t, r.Digest(), r2.Digest())
	})
}
