package kv

import (
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/faultline/faultline/node/internal/binenc"
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
		b = binenc.AppendField(b, k)
		b = appendValue(b, s.data[k].String, s.data[k].List)
	}
	b = binary.AppendUvarint(b, uint64(s.lru.Len()))
	for e := s.lru.Front(); e != nil; e = e.Next() {
		sess := e.Value.(*session)
		b = binenc.AppendField(b, sess.clientID)
		b = binary.AppendUvarint(b, sess.seq)
		b = binary.AppendUvarint(b, sess.lastIndex)
		b = binary.AppendUvarint(b, uint64(sess.result.Status))
		b = appendValue(b, sess.result.Value, sess.result.List)
	}
	return b
}

func appendValue(b []byte, str string, lst []string) []byte {
	if lst == nil {
		b = append(b, kindString)
		return binenc.AppendField(b, str)
	}
	b = append(b, kindList)
	b = binary.AppendUvarint(b, uint64(len(lst)))
	for _, e := range lst {
		b = binenc.AppendField(b, e)
	}
	return b
}

// Restore replaces the whole state with a snapshot made by Snapshot. On
// error the store is unchanged.
func (s *Store) Restore(data []byte) error {
	if len(data) < len(snapshotMagic) || string(data[:len(snapshotMagic)]) != string(snapshotMagic) {
		return fmt.Errorf("%w: missing header (not a kv snapshot, or a newer format)", ErrBadSnapshot)
	}
	d := binenc.NewDecoder(data[len(snapshotMagic):], ErrBadSnapshot)

	applied := d.Uvarint()
	nkeys := d.Count()
	store := make(map[string]Value, nkeys)
	prev := ""
	for i := 0; i < nkeys && d.Err() == nil; i++ {
		k := d.StringField()
		if i > 0 && k <= prev {
			d.Fail("keys out of order at %q", k)
		}
		prev = k
		str, lst := readValue(d)
		store[k] = Value{String: str, List: lst}
	}
	nsess := d.Count()
	sessions := make(map[string]*session, nsess)
	lru := list.New()
	var prevIndex uint64
	for i := 0; i < nsess && d.Err() == nil; i++ {
		sess := &session{clientID: d.StringField(), seq: d.Uvarint(), lastIndex: d.Uvarint()}
		status := d.Uvarint()
		str, lst := readValue(d)
		if status > uint64(StaleRequest) {
			d.Fail("session %q has unknown status %d", sess.clientID, status)
		}
		sess.result = Result{Status: Status(status), Value: str, List: lst}
		if _, dup := sessions[sess.clientID]; dup || sess.clientID == "" {
			d.Fail("duplicate or empty session id %q", sess.clientID)
		}
		if sess.lastIndex <= prevIndex || sess.lastIndex > applied {
			d.Fail("session %q index %d out of order", sess.clientID, sess.lastIndex)
		}
		prevIndex = sess.lastIndex
		sess.elem = lru.PushBack(sess)
		sessions[sess.clientID] = sess
	}
	if err := d.Finish(); err != nil {
		return err
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

// readValue reads what appendValue wrote.
func readValue(d *binenc.Decoder) (string, []string) {
	if d.Len() == 0 {
		d.Fail("truncated value")
		return "", nil
	}
	switch kind := d.Byte(); kind {
	case kindString:
		return d.StringField(), nil
	case kindList:
		n := d.Count()
		lst := make([]string, 0, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			lst = append(lst, d.StringField())
		}
		return "", lst
	default:
		d.Fail("unknown value kind %d", kind)
		return "", nil
	}
}
