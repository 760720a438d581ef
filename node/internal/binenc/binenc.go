// Package binenc holds what node's hand-written binary encodings (kv
// snapshots, transport frames) share: integers as uvarints, strings and
// byte slices as uvarint length-prefixed fields, and a Decoder that reads
// them back.
//
// The Decoder keeps the first error and turns every later read into a
// no-op returning the zero value, so a parser reads straight through and
// checks Err (or Finish) once. Every error wraps the sentinel the Decoder
// was made with, so callers keep their own errors.Is contract. Lengths read
// from the input are checked against the bytes left before anything is
// allocated, so corrupt input cannot force a huge allocation.
package binenc

import (
	"encoding/binary"
	"fmt"
)

// AppendField appends field to b as a uvarint length followed by its bytes;
// Decoder.Field and Decoder.StringField read it back.
func AppendField[T string | []byte](b []byte, field T) []byte {
	b = binary.AppendUvarint(b, uint64(len(field)))
	return append(b, field...)
}

// Decoder reads an encoding front to back. The zero value is not usable;
// make one with NewDecoder.
type Decoder struct {
	rest     []byte // not yet read; aliases the caller's input
	err      error  // first failure, wrapping sentinel
	sentinel error
}

// NewDecoder returns a Decoder over data whose errors all wrap sentinel.
// The Decoder never modifies data; Field copies out of it.
func NewDecoder(data []byte, sentinel error) *Decoder {
	return &Decoder{rest: data, sentinel: sentinel}
}

// Err returns the first failure, or nil.
func (d *Decoder) Err() error { return d.err }

// Len returns the number of bytes not yet read.
func (d *Decoder) Len() int { return len(d.rest) }

// Fail records a failure described by format and args, wrapped as
// "<sentinel>: <description>", unless an earlier failure is already
// recorded. Callers use it for their own semantic checks (ordering, unknown
// tags) so those errors wrap the same sentinel.
func (d *Decoder) Fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{d.sentinel}, args...)...)
	}
}

// Finish fails with "<n> trailing bytes" if any input is left unread, then
// returns Err.
func (d *Decoder) Finish() error {
	if d.err == nil && len(d.rest) != 0 {
		d.Fail("%d trailing bytes", len(d.rest))
	}
	return d.err
}

// Byte reads one byte; it fails with "truncated" when none is left.
func (d *Decoder) Byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.rest) == 0 {
		d.Fail("truncated")
		return 0
	}
	v := d.rest[0]
	d.rest = d.rest[1:]
	return v
}

// Uvarint reads a uvarint. It fails with "truncated integer" both when the
// input ends inside the integer and when the integer overflows 64 bits.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.rest)
	if n <= 0 {
		d.Fail("truncated integer")
		return 0
	}
	d.rest = d.rest[n:]
	return v
}

// Count reads a collection length for a collection whose every element
// takes at least one byte, so a length above the bytes left fails ("count
// <n> exceeds remaining <m> bytes") and the result is safe to pass to make.
func (d *Decoder) Count() int {
	n := d.Uvarint()
	if n > uint64(len(d.rest)) {
		d.Fail("count %d exceeds remaining %d bytes", n, len(d.rest))
		return 0
	}
	return int(n)
}

// Field reads a field written by AppendField into a new slice that does not
// alias the input. An empty field reads as nil. A length beyond the bytes
// left fails with "truncated field of <n> bytes".
func (d *Decoder) Field() []byte {
	n := d.Uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(d.rest)) {
		d.Fail("truncated field of %d bytes", n)
		return nil
	}
	v := make([]byte, n)
	copy(v, d.rest)
	d.rest = d.rest[n:]
	return v
}

// StringField reads a field written by AppendField as a string. A length
// beyond the bytes left fails with "truncated string".
func (d *Decoder) StringField() string {
	n := d.Uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.rest)) {
		d.Fail("truncated string")
		return ""
	}
	s := string(d.rest[:n])
	d.rest = d.rest[n:]
	return s
}
