package kv

import (
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
)

// snapshotMagic starts every snapshot; the last byte is the format version.
var snapshotMagic = []byte{'k', 'v', 's', 1}

// ErrBadSnapshot is wrapped by Restore errors.
var ErrBadSnapshot = errors.New("bad kv snapshot")

// Snapshot returns the store's canonical encoding: the applied index, every
// key in byte order with its value, and every session in eviction order
// (oldest first), with all integers as uvarints and strings length-prefixed.
// The encoding is a function of the replicated state only, so it is also
// what Digest hashes.
func (s *Store) Snapshot() ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.encodeLocked(), nil
}

const (
	kindString byte = 0
	kindList   byte = 1
)

func (s *Store) encodeLocked() []byte {
	b := append([]byte(nil), snapshotMagic...)
	b = binary.AppendUvarint(b, s.applied)
	b = binary.AppendUvarint(b, uint64(len(s.data)))
	for _, k := range sortedKeys(s.data) {
		b = appendString(b, k)
		b = appendValue(b, s.data[k].String, s.data[k].List)
	}
	b = binary.AppendUvarint(b, uint64(s.lru.Len()))
	for e := s.lru.Front(); e != nil; e = e.Next() {
		sess := e.Value.(*session)
		b = appendString(b, sess.clientID)
		b = binary.AppendUvarint(b, sess.seq)
		b = binary.AppendUvarint(b, sess.lastIndex)
		b = binary.AppendUvarint(b, uint64(sess.result.Status))
		b = appendValue(b, sess.result.Value, sess.result.List)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendValue(b []byte, str string, lst []string) []byte {
	if lst == nil {
		b = append(b, kindString)
		return appendString(b, str)
	}
	b = append(b, kindList)
	b = binary.AppendUvarint(b, uint64(len(lst)))
	for _, e := range lst {
		b = appendString(b, e)
	}
	return b
}

// Restore replaces the whole state with a snapshot made by Snapshot. On
// error the store is unchanged.
func (s *Store) Restore(data []byte) error {
	d := decoder{b: data}
	if len(data) < len(snapshotMagic) || string(data[:len(snapshotMagic)]) != string(snapshotMagic) {
		return fmt.Errorf("%w: missing header (not a kv snapshot, or a newer format)", ErrBadSnapshot)
	}
	d.b = d.b[len(snapshotMagic):]

	applied := d.uvarint()
	nkeys := d.count()
	store := make(map[string]Value, nkeys)
	prev := ""
	for i := 0; i < nkeys && d.err == nil; i++ {
		k := d.str()
		if i > 0 && k <= prev {
			d.fail("keys out of order at %q", k)
		}
		prev = k
		str, lst := d.value()
		store[k] = Value{String: str, List: lst}
	}
	nsess := d.count()
	sessions := make(map[string]*session, nsess)
	lru := list.New()
	var prevIndex uint64
	for i := 0; i < nsess && d.err == nil; i++ {
		sess := &session{clientID: d.str(), seq: d.uvarint(), lastIndex: d.uvarint()}
		status := d.uvarint()
		str, lst := d.value()
		if status > uint64(StaleRequest) {
			d.fail("session %q has unknown status %d", sess.clientID, status)
		}
		sess.result = Result{Status: Status(status), Value: str, List: lst}
		if _, dup := sessions[sess.clientID]; dup || sess.clientID == "" {
			d.fail("duplicate or empty session id %q", sess.clientID)
		}
		if sess.lastIndex <= prevIndex || sess.lastIndex > applied {
			d.fail("session %q index %d out of order", sess.clientID, sess.lastIndex)
		}
		prevIndex = sess.lastIndex
		sess.elem = lru.PushBack(sess)
		sessions[sess.clientID] = sess
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return d.err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.applied = applied
	s.data = store
	s.sessions = sessions
	s.lru = lru
	s.evictLocked()
	return nil
}

// decoder reads the snapshot encoding, remembering the first error so the
// parsing code reads straight through.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrBadSnapshot}, args...)...)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated integer")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a collection length, bounded by the bytes left (every element
// takes at least one byte) so corrupt input cannot force a huge allocation.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("count %d exceeds remaining %d bytes", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("truncated string")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) value() (string, []string) {
	if d.err != nil {
		return "", nil
	}
	if len(d.b) == 0 {
		d.fail("truncated value")
		return "", nil
	}
	kind := d.b[0]
	d.b = d.b[1:]
	switch kind {
	case kindString:
		return d.str(), nil
	case kindList:
		n := d.count()
		lst := make([]string, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			lst = append(lst, d.str())
		}
		return "", lst
	}
	d.fail("unknown value kind %d", kind)
	return "", nil
}
