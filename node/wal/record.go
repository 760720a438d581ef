package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/faultline/faultline/node/raft"
)

// Record framing. Every record in a segment is
//
//	uint32 bodyBytes | uint32 CRC-32C(body) | body
//
// little-endian, where body is one type byte followed by the payload:
//
//	recordEntry:     term u64 | index u64 | entry type u8 | data
//	recordHardState: term u64 | commit u64 | uvarint len(vote) | vote
//	recordSnapshot:  index u64 | term u64
//	recordRestore:   index u64 | term u64
//
// A record never spans segments. The CRC covers the body only; a damaged
// length is caught because the bytes it points at do not checksum.
const (
	recordHeaderBytes = 8
	// maxRecordBytes bounds one record's body. A length above it is damage,
	// not data: kvnode's commands are small, so 64 MiB leaves a wide margin
	// while stopping a flipped high bit from asking for gigabytes.
	maxRecordBytes = 64 << 20
)

type recordType uint8

const (
	recordEntry     recordType = 1
	recordHardState recordType = 2
	// recordSnapshot marks the point in the log at which the node saved a
	// snapshot of its own state machine (SaveSnapshot). The core compacted
	// its log there and kept every entry after it, so replay keeps the log.
	// Logs written before recordRestore existed use it for received
	// snapshots too; replayState.applySnapshotMark reads those as well.
	recordSnapshot recordType = 3
	// recordRestore marks the point at which a snapshot received from the
	// leader was installed (InstallSnapshot). The core discarded its whole
	// log there (it lacked the snapshot's entry or held a divergent one), so
	// replay discards it too and the log restarts after the snapshot.
	recordRestore recordType = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadBody is returned for a body whose checksum matched but whose content
// cannot be decoded. It is corruption of the writer, not of the disk.
var errBadBody = errors.New("malformed record body")

// appendEntryRecord appends the framed record for e to buf.
func appendEntryRecord(buf []byte, e raft.Entry) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, recordHeaderBytes)...)
	buf = append(buf, byte(recordEntry))
	buf = binary.LittleEndian.AppendUint64(buf, e.Term)
	buf = binary.LittleEndian.AppendUint64(buf, e.Index)
	buf = append(buf, byte(e.Type))
	buf = append(buf, e.Data...)
	return sealRecord(buf, start)
}

// appendHardStateRecord appends the framed record for hs to buf.
func appendHardStateRecord(buf []byte, hs raft.HardState) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, recordHeaderBytes)...)
	buf = append(buf, byte(recordHardState))
	buf = binary.LittleEndian.AppendUint64(buf, hs.Term)
	buf = binary.LittleEndian.AppendUint64(buf, hs.Commit)
	buf = binary.AppendUvarint(buf, uint64(len(hs.Vote)))
	buf = append(buf, hs.Vote...)
	return sealRecord(buf, start)
}

// appendSnapshotRecord appends the marker of type typ (recordSnapshot or
// recordRestore) for a snapshot at (index, term) to buf.
func appendSnapshotRecord(buf []byte, typ recordType, index, term uint64) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, recordHeaderBytes)...)
	buf = append(buf, byte(typ))
	buf = binary.LittleEndian.AppendUint64(buf, index)
	buf = binary.LittleEndian.AppendUint64(buf, term)
	return sealRecord(buf, start)
}

// sealRecord fills in the header of the record that starts at buf[start].
func sealRecord(buf []byte, start int) []byte {
	body := buf[start+recordHeaderBytes:]
	binary.LittleEndian.PutUint32(buf[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(body, castagnoli))
	return buf
}

// entryRecordBytes is the framed size of e's record.
func entryRecordBytes(e raft.Entry) int {
	return recordHeaderBytes + 1 + 8 + 8 + 1 + len(e.Data)
}

// frameProblem says why no record could be read at an offset.
type frameProblem uint8

const (
	frameOK frameProblem = iota
	// frameShort: the header or the body runs past the end of the data.
	frameShort
	// frameBadLength: the length is zero or above maxRecordBytes.
	frameBadLength
	// frameBadCRC: the body does not match its checksum.
	frameBadCRC
)

func (p frameProblem) String() string {
	switch p {
	case frameShort:
		return "record cut short by the end of the file"
	case frameBadLength:
		return "bad record length"
	case frameBadCRC:
		return "bad record checksum"
	}
	return "ok"
}

// readFrame reads the record framed at data[off:]. It returns the body and
// the offset of the next record, or the problem that stopped it.
func readFrame(data []byte, off int) (body []byte, next int, problem frameProblem) {
	if len(data)-off < recordHeaderBytes {
		return nil, off, frameShort
	}
	n := binary.LittleEndian.Uint32(data[off:])
	sum := binary.LittleEndian.Uint32(data[off+4:])
	if n == 0 || n > maxRecordBytes {
		return nil, off, frameBadLength
	}
	end := off + recordHeaderBytes + int(n)
	if end > len(data) {
		return nil, off, frameShort
	}
	body = data[off+recordHeaderBytes : end]
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, off, frameBadCRC
	}
	return body, end, frameOK
}

// record is one decoded record.
type record struct {
	typ       recordType
	entry     raft.Entry
	hardState raft.HardState
	snapIndex uint64
	snapTerm  uint64
}

// decodeBody decodes a checksummed record body. Entry data is copied, so the
// result does not keep the segment's buffer alive.
func decodeBody(body []byte) (record, error) {
	if len(body) == 0 {
		return record{}, fmt.Errorf("%w: empty body", errBadBody)
	}
	r := record{typ: recordType(body[0])}
	p := body[1:]
	switch r.typ {
	case recordEntry:
		if len(p) < 17 {
			return record{}, fmt.Errorf("%w: entry payload of %d bytes", errBadBody, len(p))
		}
		r.entry.Term = binary.LittleEndian.Uint64(p)
		r.entry.Index = binary.LittleEndian.Uint64(p[8:])
		r.entry.Type = raft.EntryType(p[16])
		if data := p[17:]; len(data) > 0 {
			r.entry.Data = append([]byte(nil), data...)
		}
		if r.entry.Index == 0 {
			return record{}, fmt.Errorf("%w: entry with index 0", errBadBody)
		}
	case recordHardState:
		if len(p) < 16 {
			return record{}, fmt.Errorf("%w: hard state payload of %d bytes", errBadBody, len(p))
		}
		r.hardState.Term = binary.LittleEndian.Uint64(p)
		r.hardState.Commit = binary.LittleEndian.Uint64(p[8:])
		voteBytes, n := binary.Uvarint(p[16:])
		if n <= 0 || voteBytes != uint64(len(p)-16-n) {
			return record{}, fmt.Errorf("%w: hard state vote length", errBadBody)
		}
		r.hardState.Vote = string(p[16+n:])
	case recordSnapshot, recordRestore:
		if len(p) != 16 {
			return record{}, fmt.Errorf("%w: snapshot marker payload of %d bytes", errBadBody, len(p))
		}
		r.snapIndex = binary.LittleEndian.Uint64(p)
		r.snapTerm = binary.LittleEndian.Uint64(p[8:])
	default:
		return record{}, fmt.Errorf("%w: unknown record type %d", errBadBody, r.typ)
	}
	return r, nil
}

// validRecordAfter reports whether any offset in data[from:] starts a record
// that frames, checksums and decodes. Replay uses it to tell a torn tail
// (nothing valid after the damage) from damage in the middle of the log.
func validRecordAfter(data []byte, from int) bool {
	for off := from; off+recordHeaderBytes < len(data); off++ {
		n := binary.LittleEndian.Uint32(data[off:])
		if n == 0 || n > maxRecordBytes || off+recordHeaderBytes+int(n) > len(data) {
			continue
		}
		if t := recordType(data[off+recordHeaderBytes]); t < recordEntry || t > recordRestore {
			continue
		}
		body, _, problem := readFrame(data, off)
		if problem != frameOK {
			continue
		}
		if _, err := decodeBody(body); err == nil {
			return true
		}
	}
	return false
}
