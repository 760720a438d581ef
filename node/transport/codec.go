package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/faultline/faultline/node/internal/binenc"
	"github.com/faultline/faultline/node/raft"
)

// Frame layout on the wire: a 4-byte big-endian payload length, then the
// payload made by AppendMessage. The codec is explicit (not gob) so the
// format is stable, compact and cheap, and so a decoder fed garbage fails
// with an error instead of allocating without bound.

// codecVersion is the first payload byte.
const codecVersion byte = 1

// Codec errors.
var (
	// ErrBadFrame is wrapped by every decoding error.
	ErrBadFrame = errors.New("bad peer frame")
	// ErrFrameTooLarge is wrapped when a frame exceeds the frame limit.
	ErrFrameTooLarge = errors.New("frame too large")
)

const (
	flagReject   byte = 1 << 0
	flagSnapshot byte = 1 << 1
)

// AppendMessage appends m's payload encoding to b: version, type, flags
// (reject, snapshot present), From, To, then Term, LogTerm, Index, Commit,
// RejectHint, Context as uvarints, the entries (count, then term, index,
// type, data each) and the snapshot (index, term, data) when present.
// Strings and byte slices are uvarint length-prefixed.
func AppendMessage(b []byte, m raft.Message) []byte {
	var flags byte
	if m.Reject {
		flags |= flagReject
	}
	if m.Snapshot != nil {
		flags |= flagSnapshot
	}
	b = append(b, codecVersion, byte(m.Type), flags)
	b = binenc.AppendField(b, m.From)
	b = binenc.AppendField(b, m.To)
	for _, v := range [...]uint64{m.Term, m.LogTerm, m.Index, m.Commit, m.RejectHint, m.Context} {
		b = binary.AppendUvarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Entries)))
	for _, e := range m.Entries {
		b = binary.AppendUvarint(b, e.Term)
		b = binary.AppendUvarint(b, e.Index)
		b = append(b, byte(e.Type))
		b = binenc.AppendField(b, e.Data)
	}
	if m.Snapshot != nil {
		b = binary.AppendUvarint(b, m.Snapshot.Index)
		b = binary.AppendUvarint(b, m.Snapshot.Term)
		b = binenc.AppendField(b, m.Snapshot.Data)
	}
	return b
}

// DecodeMessage parses a payload made by AppendMessage. Decoded byte slices
// do not alias payload. Empty Entries and empty Data decode as nil.
func DecodeMessage(payload []byte) (raft.Message, error) {
	d := binenc.NewDecoder(payload, ErrBadFrame)
	version := d.Byte()
	if d.Err() == nil && version != codecVersion {
		return raft.Message{}, fmt.Errorf("%w: unknown version %d", ErrBadFrame, version)
	}
	m := raft.Message{Type: raft.MessageType(d.Byte())}
	flags := d.Byte()
	if flags&^(flagReject|flagSnapshot) != 0 {
		d.Fail("unknown flags %#x", flags)
	}
	m.Reject = flags&flagReject != 0
	m.From = string(d.Field())
	m.To = string(d.Field())
	for _, dst := range [...]*uint64{&m.Term, &m.LogTerm, &m.Index, &m.Commit, &m.RejectHint, &m.Context} {
		*dst = d.Uvarint()
	}
	// Each entry takes at least 4 bytes, which bounds the allocation.
	if n := d.Uvarint(); n > 0 && d.Err() == nil {
		if n > uint64(d.Len()/4) {
			d.Fail("entry count %d exceeds the frame", n)
		} else {
			m.Entries = make([]raft.Entry, 0, n)
			for i := uint64(0); i < n && d.Err() == nil; i++ {
				e := raft.Entry{Term: d.Uvarint(), Index: d.Uvarint()}
				e.Type = raft.EntryType(d.Byte())
				e.Data = d.Field()
				m.Entries = append(m.Entries, e)
			}
		}
	}
	if flags&flagSnapshot != 0 {
		s := &raft.Snapshot{Index: d.Uvarint(), Term: d.Uvarint()}
		s.Data = d.Field()
		m.Snapshot = s
	}
	if err := d.Finish(); err != nil {
		return raft.Message{}, err
	}
	return m, nil
}

// WriteFrame writes m as one length-prefixed frame, using scratch as the
// encoding buffer; it returns the buffer for reuse. A payload longer than
// maxBytes is not written (ErrFrameTooLarge).
func WriteFrame(w io.Writer, m raft.Message, scratch []byte, maxBytes uint32) ([]byte, error) {
	buf := append(scratch[:0], 0, 0, 0, 0)
	buf = AppendMessage(buf, m)
	n := len(buf) - 4
	if uint64(n) > uint64(maxBytes) {
		return buf, fmt.Errorf("%w: %v to %s is %d bytes, limit %d", ErrFrameTooLarge, m.Type, m.To, n, maxBytes)
	}
	binary.BigEndian.PutUint32(buf, uint32(n))
	_, err := w.Write(buf)
	return buf, err
}

// ReadFrame reads one frame and decodes it. buf is reused for the payload
// when large enough; the returned buffer should be passed to the next call.
// A length above maxBytes is refused before anything is allocated or read
// for it (ErrBadFrame and ErrFrameTooLarge).
func ReadFrame(r io.Reader, buf []byte, maxBytes uint32) (raft.Message, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return raft.Message{}, buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxBytes {
		return raft.Message{}, buf, fmt.Errorf("%w: %w: %d bytes, limit %d (give every node the same --max-peer-frame-bytes)", ErrBadFrame, ErrFrameTooLarge, n, maxBytes)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return raft.Message{}, buf, fmt.Errorf("read %d-byte frame: %w", n, err)
	}
	m, err := DecodeMessage(buf)
	return m, buf, err
}
