package wal

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/raft"
)

// encodeLog frames a sequence of records. Each item is a raft.Entry, a
// raft.HardState, or a [2]uint64{index, term} snapshot marker.
func encodeLog(items ...any) []byte {
	var buf []byte
	for _, item := range items {
		switch v := item.(type) {
		case raft.Entry:
			buf = appendEntryRecord(buf, v)
		case []raft.Entry:
			for _, e := range v {
				buf = appendEntryRecord(buf, e)
			}
		case raft.HardState:
			buf = appendHardStateRecord(buf, v)
		case [2]uint64:
			buf = appendSnapshotRecord(buf, recordSnapshot, v[0], v[1])
		default:
			panic("encodeLog: unknown item")
		}
	}
	return buf
}

func TestReplayRules(t *testing.T) {
	cases := []struct {
		name string
		log  []byte
		want []raft.Entry
		hs   raft.HardState
	}{
		{"plain", encodeLog(makeEntries(1, 3, 1)), makeEntries(1, 3, 1), raft.HardState{}},
		{"suffix replaced", encodeLog(makeEntries(1, 5, 1), makeEntries(3, 4, 2)),
			append(makeEntries(1, 2, 1), makeEntries(3, 4, 2)...), raft.HardState{}},
		{"latest hard state wins",
			encodeLog(raft.HardState{Term: 1, Vote: "a"}, makeEntries(1, 1, 1), raft.HardState{Term: 2, Vote: "b", Commit: 1}),
			makeEntries(1, 1, 1), raft.HardState{Term: 2, Vote: "b", Commit: 1}},
		{"matching snapshot marker keeps the log", encodeLog(makeEntries(1, 5, 1), [2]uint64{3, 1}),
			makeEntries(1, 5, 1), raft.HardState{}},
		{"divergent snapshot marker discards the log", encodeLog(makeEntries(1, 5, 1), [2]uint64{3, 2}, makeEntries(4, 4, 2)),
			makeEntries(4, 4, 2), raft.HardState{}},
		{"log starting after compaction", encodeLog(makeEntries(40, 42, 3)), makeEntries(40, 42, 3), raft.HardState{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := replay([]segmentImage{{path: "seg", data: tc.log, last: true}})
			require.NoError(t, err)
			assert.Equal(t, tc.want, st.log)
			assert.Equal(t, tc.hs, st.hardState)
			assert.Equal(t, -1, st.tornOffset)
		})
	}
}

func TestReplayRefusesGaps(t *testing.T) {
	for name, log := range map[string][]byte{
		"gap between entries":    encodeLog(makeEntries(1, 2, 1), makeEntries(4, 4, 1)),
		"gap after the snapshot": encodeLog(makeEntries(1, 2, 1), [2]uint64{5, 2}, makeEntries(7, 7, 2)),
	} {
		_, err := replay([]segmentImage{{path: "seg", data: log, last: true}})
		assert.ErrorIs(t, err, ErrCorrupt, name)
	}
}

// FuzzReplay feeds arbitrary bytes to the record decoder and replay as an
// older and a newest segment. Replay must never panic, must return either an
// error wrapping ErrCorrupt or a contiguous log, and repairing a torn tail
// must be stable: replaying the cut-down segment finds no tail to cut and the
// same log.
func FuzzReplay(f *testing.F) {
	hs := raft.HardState{Term: 3, Vote: "n2", Commit: 2}
	good := encodeLog(hs, makeEntries(1, 4, 3), [2]uint64{2, 3}, makeEntries(3, 5, 4))
	f.Add([]byte{}, good)
	f.Add(good, encodeLog(makeEntries(6, 8, 4)))
	f.Add(encodeLog(makeEntries(1, 2, 1)), good[:len(good)-3])
	f.Add([]byte{}, append(append([]byte(nil), good...), make([]byte, 64)...))
	f.Add(encodeLog(hs), encodeLog(makeEntries(1, 3, 1), makeEntries(2, 2, 2)))
	damaged := append([]byte(nil), good...)
	damaged[20] ^= 0xff
	f.Add([]byte{}, damaged)

	f.Fuzz(func(t *testing.T, older, newest []byte) {
		segments := []segmentImage{{path: "older", data: older}, {path: "newest", data: newest, last: true}}
		st, err := replay(segments)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		for i := 1; i < len(st.log); i++ {
			require.Equal(t, st.log[i-1].Index+1, st.log[i].Index, "replayed log is contiguous")
		}
		require.Len(t, st.segmentMaxIndex, 2)
		if st.tornOffset < 0 {
			return
		}
		require.LessOrEqual(t, st.tornOffset, len(newest))
		cut := []segmentImage{segments[0], {path: "newest", data: newest[:st.tornOffset], last: true}}
		again, err := replay(cut)
		require.NoError(t, err)
		assert.Equal(t, -1, again.tornOffset)
		assert.Equal(t, st.log, again.log)
		assert.Equal(t, st.hardState, again.hardState)
	})
}
