package binenc

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errTest = errors.New("bad test encoding")

// uvarint returns v's uvarint encoding followed by tail.
func uvarint(v uint64, tail ...byte) []byte {
	return append(binary.AppendUvarint(nil, v), tail...)
}

// overlong is an 11-byte uvarint: more than 64 bits, which binary.Uvarint
// reports as an overflow rather than as truncation.
var overlong = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}

func TestAppendFieldRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		field string
		want  []byte
	}{
		{"empty", "", []byte{0}},
		{"short", "ab", []byte{2, 'a', 'b'}},
		{"two-byte length", string(make([]byte, 200)), append([]byte{0xc8, 0x01}, make([]byte, 200)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, AppendField(nil, tt.field))
			assert.Equal(t, tt.want, AppendField(nil, []byte(tt.field)), "string and []byte encode alike")
			assert.Equal(t, append([]byte{9}, tt.want...), AppendField([]byte{9}, tt.field), "appends after b")

			d := NewDecoder(AppendField(AppendField(nil, tt.field), tt.field), errTest)
			assert.Equal(t, tt.field, d.StringField())
			got := d.Field()
			require.NoError(t, d.Finish())
			if tt.field == "" {
				assert.Nil(t, got, "an empty field reads as nil")
			} else {
				assert.Equal(t, []byte(tt.field), got)
			}
		})
	}
}

func TestDecoderReads(t *testing.T) {
	tests := []struct {
		name    string
		input   []byte
		read    func(d *Decoder) any
		want    any
		wantErr string // "" for success
		left    int    // bytes unread afterwards
	}{
		{"byte", []byte{7, 8}, func(d *Decoder) any { return d.Byte() }, byte(7), "", 1},
		{"byte from empty input", nil, func(d *Decoder) any { return d.Byte() }, byte(0), "bad test encoding: truncated", 0},

		{"uvarint zero", []byte{0}, func(d *Decoder) any { return d.Uvarint() }, uint64(0), "", 0},
		{"uvarint max", uvarint(1<<64-1, 5), func(d *Decoder) any { return d.Uvarint() }, uint64(1<<64 - 1), "", 1},
		{"uvarint from empty input", nil, func(d *Decoder) any { return d.Uvarint() }, uint64(0), "bad test encoding: truncated integer", 0},
		{"uvarint cut inside", []byte{0x80, 0x80}, func(d *Decoder) any { return d.Uvarint() }, uint64(0), "bad test encoding: truncated integer", 2},
		{"uvarint overlong", overlong, func(d *Decoder) any { return d.Uvarint() }, uint64(0), "bad test encoding: truncated integer", len(overlong)},
		{"uvarint tenth byte overflows", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
			func(d *Decoder) any { return d.Uvarint() }, uint64(0), "bad test encoding: truncated integer", 10},

		{"count equal to bytes left", uvarint(2, 'a', 'b'), func(d *Decoder) any { return d.Count() }, 2, "", 2},
		{"count zero", uvarint(0), func(d *Decoder) any { return d.Count() }, 0, "", 0},
		{"count beyond bytes left", uvarint(3, 'a', 'b'), func(d *Decoder) any { return d.Count() }, 0,
			"bad test encoding: count 3 exceeds remaining 2 bytes", 2},
		{"count huge", uvarint(1 << 62), func(d *Decoder) any { return d.Count() }, 0,
			"bad test encoding: count 4611686018427387904 exceeds remaining 0 bytes", 0},
		{"count overlong", overlong, func(d *Decoder) any { return d.Count() }, 0, "bad test encoding: truncated integer", len(overlong)},

		{"field", uvarint(2, 'a', 'b', 'c'), func(d *Decoder) any { return d.Field() }, []byte("ab"), "", 1},
		{"field empty", uvarint(0, 'c'), func(d *Decoder) any { return d.Field() }, []byte(nil), "", 1},
		{"field length beyond bytes left", uvarint(3, 'a', 'b'), func(d *Decoder) any { return d.Field() }, []byte(nil),
			"bad test encoding: truncated field of 3 bytes", 2},
		{"field huge length", uvarint(1<<64 - 1), func(d *Decoder) any { return d.Field() }, []byte(nil),
			"bad test encoding: truncated field of 18446744073709551615 bytes", 0},
		{"field overlong length", overlong, func(d *Decoder) any { return d.Field() }, []byte(nil), "bad test encoding: truncated integer", len(overlong)},
		{"field without length", nil, func(d *Decoder) any { return d.Field() }, []byte(nil), "bad test encoding: truncated integer", 0},

		{"string field", uvarint(2, 'a', 'b', 'c'), func(d *Decoder) any { return d.StringField() }, "ab", "", 1},
		{"string field empty", uvarint(0), func(d *Decoder) any { return d.StringField() }, "", "", 0},
		{"string field length beyond bytes left", uvarint(3, 'a', 'b'), func(d *Decoder) any { return d.StringField() }, "",
			"bad test encoding: truncated string", 2},
		{"string field huge length", uvarint(1<<64 - 1), func(d *Decoder) any { return d.StringField() }, "", "bad test encoding: truncated string", 0},
		{"string field overlong length", overlong, func(d *Decoder) any { return d.StringField() }, "", "bad test encoding: truncated integer", len(overlong)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.input, errTest)
			assert.Equal(t, tt.want, tt.read(d))
			assert.Equal(t, tt.left, d.Len())
			if tt.wantErr == "" {
				require.NoError(t, d.Err())
				return
			}
			require.ErrorIs(t, d.Err(), errTest)
			assert.EqualError(t, d.Err(), tt.wantErr)
		})
	}
}

func TestDecoderAfterFailureReadsZeroValues(t *testing.T) {
	d := NewDecoder(uvarint(5, 1, 2, 3, 4, 5, 6), errTest)
	d.Fail("first %s", "problem")
	assert.Equal(t, byte(0), d.Byte())
	assert.Equal(t, uint64(0), d.Uvarint())
	assert.Equal(t, 0, d.Count())
	assert.Nil(t, d.Field())
	assert.Equal(t, "", d.StringField())
	assert.Equal(t, 7, d.Len(), "nothing is consumed after a failure")
	d.Fail("second problem")
	assert.EqualError(t, d.Finish(), "bad test encoding: first problem", "the first failure is kept")
}

func TestFinish(t *testing.T) {
	tests := []struct {
		name    string
		input   []byte
		reads   int // bytes read with Byte before Finish
		wantErr string
	}{
		{"all read", []byte{1, 2}, 2, ""},
		{"empty input", nil, 0, ""},
		{"one trailing byte", []byte{1, 2}, 1, "bad test encoding: 1 trailing bytes"},
		{"unread input", []byte{1, 2, 3}, 0, "bad test encoding: 3 trailing bytes"},
		{"read past the end", []byte{1}, 2, "bad test encoding: truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.input, errTest)
			for range tt.reads {
				d.Byte()
			}
			err := d.Finish()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, errTest)
			assert.EqualError(t, err, tt.wantErr)
			assert.Equal(t, err, d.Err())
		})
	}
}

func TestFieldDoesNotAliasInput(t *testing.T) {
	input := AppendField(nil, "abc")
	d := NewDecoder(input, errTest)
	got := d.Field()
	clear(input)
	assert.Equal(t, []byte("abc"), got)
}
