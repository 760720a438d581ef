// Package kv is kvnode's state machine: string and list values under string
// keys, changed only by applying committed log entries in order, plus the
// idempotent receiver (client sessions) that makes a retried write take
// effect once. Everything here is replicated state: two replicas that applied
// the same log prefix hold the same data, sessions and digest.
package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Operations a Command can carry.
const (
	OpPut    = "put"
	OpCAS    = "cas"
	OpAppend = "append"
)

// MaxKeyBytes bounds the length of a key, in bytes; the client API answers
// 400 to a read or write of a longer key. A key is stored with its value on
// every replica, carried by every log entry that writes it and by every
// snapshot, and it is part of a request's URL: without a bound a client
// could store 100 KB keys, multiplied by the replicas and the log. 1 KiB is
// far beyond any name a client needs (the harness uses keys like "r12"),
// and even fully percent-escaped (3 KiB) it fits in the 8 KiB URLs that
// proxies and log pipelines commonly accept.
//
// The state machine itself does not check it: an entry in the log is
// applied whatever its size, so that replicas never disagree.
const MaxKeyBytes = 1 << 10

// Command is one client write, the payload of a normal log entry.
//
// ClientID and Seq identify the request for the idempotent receiver: a
// client numbers its writes 1, 2, 3, ... and reuses a number only to retry
// the same write. An empty ClientID turns deduplication off.
type Command struct {
	Op       string // OpPut, OpCAS or OpAppend
	Key      string
	Value    string // the new value (put, cas) or the element (append)
	Expect   string // cas only: the value the key must hold
	ClientID string
	Seq      uint64
}

// commandVersion is the first byte of an encoded command, so the format can
// change without misreading old logs.
const commandVersion byte = 1

var opCodes = map[string]byte{OpPut: 1, OpCAS: 2, OpAppend: 3}
var opNames = map[byte]string{1: OpPut, 2: OpCAS, 3: OpAppend}

// ErrBadCommand is wrapped by Decode errors.
var ErrBadCommand = errors.New("bad command encoding")

// Encode returns the command's binary encoding: a version byte, an op byte,
// four length-prefixed strings (key, value, expect, client id) and the
// sequence number, all as uvarints. Equal commands encode to equal bytes.
// It panics on an unknown Op, which is a programming error.
func (c Command) Encode() []byte {
	code, ok := opCodes[c.Op]
	if !ok {
		panic(fmt.Sprintf("kv: encode command with unknown op %q", c.Op))
	}
	n := 2 + 4*binary.MaxVarintLen64 + len(c.Key) + len(c.Value) + len(c.Expect) + len(c.ClientID) + binary.MaxVarintLen64
	b := make([]byte, 0, n)
	b = append(b, commandVersion, code)
	for _, s := range []string{c.Key, c.Value, c.Expect, c.ClientID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return binary.AppendUvarint(b, c.Seq)
}

// Decode parses an encoding made by Command.Encode.
func Decode(data []byte) (Command, error) {
	if len(data) < 2 {
		return Command{}, fmt.Errorf("%w: %d bytes is too short", ErrBadCommand, len(data))
	}
	if data[0] != commandVersion {
		return Command{}, fmt.Errorf("%w: unknown version %d", ErrBadCommand, data[0])
	}
	op, ok := opNames[data[1]]
	if !ok {
		return Command{}, fmt.Errorf("%w: unknown op code %d", ErrBadCommand, data[1])
	}
	c := Command{Op: op}
	rest := data[2:]
	for _, dst := range []*string{&c.Key, &c.Value, &c.Expect, &c.ClientID} {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return Command{}, fmt.Errorf("%w: truncated string", ErrBadCommand)
		}
		*dst = string(rest[k : k+int(n)])
		rest = rest[k+int(n):]
	}
	seq, k := binary.Uvarint(rest)
	if k <= 0 {
		return Command{}, fmt.Errorf("%w: truncated sequence number", ErrBadCommand)
	}
	if k != len(rest) {
		return Command{}, fmt.Errorf("%w: %d trailing bytes", ErrBadCommand, len(rest)-k)
	}
	c.Seq = seq
	return c, nil
}
