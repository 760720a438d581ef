package kv

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCommandRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
	}{
		{"put", Command{Op: OpPut, Key: "k", Value: "v", ClientID: "c1", Seq: 1}},
		{"cas", Command{Op: OpCAS, Key: "k", Value: "new", Expect: "old", ClientID: "c2", Seq: 1 << 40}},
		{"append no session", Command{Op: OpAppend, Key: "list", Value: "e"}},
		{"empty strings", Command{Op: OpPut}},
		{"binary bytes", Command{Op: OpPut, Key: "\x00\xff", Value: string(make([]byte, 300))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.cmd.Encode()
			assert.Equal(t, b, tt.cmd.Encode(), "encoding must be deterministic")
			got, err := Decode(b)
			require.NoError(t, err)
			assert.Equal(t, tt.cmd, got)
		})
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	good := Command{Op: OpCAS, Key: "key", Value: "v", Expect: "e", ClientID: "c", Seq: 7}.Encode()
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte{commandVersion}},
		{"bad version", append([]byte{9}, good[1:]...)},
		{"bad op", append([]byte{commandVersion, 99}, good[2:]...)},
		{"truncated", good[:len(good)-3]},
		{"trailing", append(append([]byte(nil), good...), 0)},
		{"huge string length", []byte{commandVersion, 1, 0xff, 0xff, 0xff, 0xff, 0x0f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data)
			require.ErrorIs(t, err, ErrBadCommand)
		})
	}
}

func TestEncodeUnknownOpPanics(t *testing.T) {
	assert.Panics(t, func() { Command{Op: "delete"}.Encode() })
}

func FuzzDecode(f *testing.F) {
	f.Add(Command{Op: OpPut, Key: "k", Value: "v", ClientID: "c", Seq: 1}.Encode())
	f.Add([]byte{commandVersion, 3, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Decode(cmd.Encode())
		require.NoError(t, err)
		require.Equal(t, cmd, again)
	})
}
