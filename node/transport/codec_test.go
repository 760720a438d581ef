package transport

import (
	"bytes"
	"encoding/binary"
	"io"
	"runtime"
	"testing"

	"github.com/faultline/faultline/node/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var codecCases = []struct {
	name string
	msg  raft.Message
}{
	{"empty", raft.Message{}},
	{"vote", raft.Message{Type: raft.MsgVote, From: "n1", To: "n2", Term: 7, LogTerm: 6, Index: 42}},
	{"prevote response rejected", raft.Message{Type: raft.MsgPreVoteResp, From: "n2", To: "n1", Term: 8, Reject: true}},
	{"append with entries", raft.Message{
		Type: raft.MsgApp, From: "n1", To: "n3", Term: 3, LogTerm: 2, Index: 9, Commit: 8,
		Entries: []raft.Entry{
			{Term: 3, Index: 10, Type: raft.EntryNoop},
			{Term: 3, Index: 11, Type: raft.EntryNormal, Data: []byte("put k v")},
			{Term: 3, Index: 12, Type: raft.EntryNormal, Data: bytes.Repeat([]byte{0, 0xff}, 5000)},
		},
	}},
	{"append response reject with hint", raft.Message{Type: raft.MsgAppResp, From: "n3", To: "n1", Term: 3, Index: 9, Reject: true, RejectHint: 4}},
	{"heartbeat with read context", raft.Message{Type: raft.MsgHeartbeat, From: "n1", To: "n2", Term: 3, Commit: 12, Context: 1<<64 - 1}},
	{"snapshot", raft.Message{Type: raft.MsgSnap, From: "n1", To: "n2", Term: 4,
		Snapshot: &raft.Snapshot{Index: 100, Term: 3, Data: []byte("state machine bytes")}}},
	{"empty snapshot data", raft.Message{Type: raft.MsgSnap, From: "n1", To: "n2", Snapshot: &raft.Snapshot{Index: 1, Term: 1}}},
	{"max integers", raft.Message{Type: raft.MsgAppResp, Term: 1<<64 - 1, LogTerm: 1<<64 - 1, Index: 1<<64 - 1,
		Commit: 1<<64 - 1, RejectHint: 1<<64 - 1}},
}

func TestCodecRoundTrip(t *testing.T) {
	for _, tt := range codecCases {
		t.Run(tt.name, func(t *testing.T) {
			payload := AppendMessage(nil, tt.msg)
			got, err := DecodeMessage(payload)
			require.NoError(t, err)
			assert.Equal(t, tt.msg, got)

			var buf bytes.Buffer
			_, err = WriteFrame(&buf, tt.msg, nil, DefaultMaxFrameBytes)
			require.NoError(t, err)
			assert.Equal(t, uint32(len(payload)), binary.BigEndian.Uint32(buf.Bytes()))
			framed, _, err := ReadFrame(&buf, nil, DefaultMaxFrameBytes)
			require.NoError(t, err)
			assert.Equal(t, tt.msg, framed)
			assert.Zero(t, buf.Len(), "frame fully consumed")
		})
	}
}

func TestDecodeRejectsBadPayloads(t *testing.T) {
	good := AppendMessage(nil, codecCases[3].msg)
	tests := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"bad version", append([]byte{99}, good[1:]...)},
		{"unknown flag", append([]byte{codecVersion, byte(raft.MsgApp), 0x80}, good[3:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(append([]byte(nil), good...), 0)},
		{"entry count beyond frame", binary.AppendUvarint(append([]byte{codecVersion, 5, 0, 0, 0}, 0, 0, 0, 0, 0, 0), 1<<40)},
		{"snapshot flag without snapshot", []byte{codecVersion, 9, flagSnapshot, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeMessage(tt.payload)
			require.ErrorIs(t, err, ErrBadFrame)
		})
	}
}

// headerThenFail yields a frame header, then fails the test if anything
// reads on: an oversized frame must be refused from its length alone.
type headerThenFail struct {
	t   *testing.T
	hdr []byte
}

func (r *headerThenFail) Read(p []byte) (int, error) {
	if len(r.hdr) == 0 {
		r.t.Error("ReadFrame read past the length of an oversized frame")
		return 0, io.EOF
	}
	n := copy(p, r.hdr)
	r.hdr = r.hdr[n:]
	return n, nil
}

func TestReadFrameRefusesOversizedLengthWithoutAllocating(t *testing.T) {
	const limit = 64 << 10
	tests := []struct {
		name   string
		length uint32
	}{
		{"one byte over the limit", limit + 1},
		{"200 MiB, under the old fixed 256 MiB limit", 200 << 20},
		{"the largest length field", MaxFrameLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &headerThenFail{t: t, hdr: binary.BigEndian.AppendUint32(nil, tt.length)}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, buf, err := ReadFrame(r, nil, limit)
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, ErrBadFrame)
			require.ErrorIs(t, err, ErrFrameTooLarge)
			assert.Nil(t, buf, "no payload buffer for a refused frame")
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(limit),
				"refusing a %d-byte frame allocated for it", tt.length)
		})
	}
}

func TestWriteFrameRefusesOverLimit(t *testing.T) {
	m := raft.Message{Type: raft.MsgSnap, From: "n1", To: "n2", Snapshot: &raft.Snapshot{Index: 1, Term: 1, Data: make([]byte, 2048)}}
	var out bytes.Buffer
	_, err := WriteFrame(&out, m, nil, 1024)
	require.ErrorIs(t, err, ErrFrameTooLarge)
	assert.Zero(t, out.Len(), "nothing written, so the connection stays usable")
	_, err = WriteFrame(&out, m, nil, 4096)
	require.NoError(t, err)
	_, _, err = ReadFrame(&out, nil, 1024)
	require.ErrorIs(t, err, ErrFrameTooLarge, "the receiver's own limit applies")
}

func TestDecodedBytesDoNotAliasPayload(t *testing.T) {
	payload := AppendMessage(nil, codecCases[3].msg)
	m, err := DecodeMessage(payload)
	require.NoError(t, err)
	for i := range payload {
		payload[i] = 0
	}
	assert.Equal(t, []byte("put k v"), m.Entries[1].Data)
}

func FuzzDecodeMessage(f *testing.F) {
	for _, tt := range codecCases {
		f.Add(AppendMessage(nil, tt.msg))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, err := DecodeMessage(payload)
		if err != nil {
			return
		}
		again, err := DecodeMessage(AppendMessage(nil, m))
		require.NoError(t, err)
		require.Equal(t, m, again)
	})
}
