package wal

import (
	"fmt"

	"github.com/faultline/faultline/node/raft"
)

// segmentImage is the content of one segment file, read whole.
type segmentImage struct {
	path string
	data []byte
	// last is true for the newest segment: only its end may be torn.
	last bool
}

// replayState is the log rebuilt from the segments, before the snapshot is
// taken into account.
type replayState struct {
	hardState raft.HardState
	// log is contiguous: log[i].Index == log[0].Index+i.
	log []raft.Entry
	// base is the index the log restarts after when a snapshot marker
	// discarded it; meaningful only while log is empty.
	base uint64
	// segmentMaxIndex[i] is the highest entry index written in segment i
	// (0 when it holds no entry).
	segmentMaxIndex []uint64
	// tornOffset is the byte offset in the last segment where a torn tail
	// starts, or -1 when the last segment ends cleanly.
	tornOffset int
	tornReason string
}

// corruptError is the error Open returns for damage it must not repair.
func corruptError(path string, offset int, reason string) error {
	return fmt.Errorf("%w: %s at byte offset %d: %s; restore this node's data dir from a healthy replica, "+
		"or remove this node's data dir and restart it: it rejoins without voting until a leader has caught it up (safe while a majority of the nodes keeps its data; wipe one node at a time)", ErrCorrupt, path, offset, reason)
}

// replay decodes the segments in order and rebuilds the hard state and the
// log. It applies the log's one rule for replaced suffixes: an entry at index
// i discards every entry at i or above that came before it. It never panics
// on any input (FuzzReplay holds it to that).
//
// A record that cannot be read at the end of the last segment, with no valid
// record anywhere after it, is a torn tail: a write the crash interrupted,
// which was never fsynced and so never acknowledged. replay reports where it
// starts and leaves the cutting to the caller. Any other damage is returned
// as an error wrapping ErrCorrupt.
func replay(segments []segmentImage) (*replayState, error) {
	s := newReplayState()
	for _, seg := range segments {
		if err := s.replaySegment(seg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func newReplayState() *replayState { return &replayState{tornOffset: -1} }

// replaySegment decodes one segment; segments must be fed oldest first.
func (s *replayState) replaySegment(seg segmentImage) error {
	var maxIndex uint64
	off := 0
	for off < len(seg.data) {
		body, next, problem := readFrame(seg.data, off)
		if problem != frameOK {
			if !seg.last {
				return corruptError(seg.path, off, problem.String()+
					" in a segment that is not the newest (only the end of the newest segment can be torn by a crash)")
			}
			if validRecordAfter(seg.data, off+1) {
				return corruptError(seg.path, off, problem.String()+
					" followed by valid records (damage inside the log, not a torn write)")
			}
			s.tornOffset = off
			s.tornReason = problem.String()
			if allZero(seg.data[off:]) {
				s.tornReason = "zero-filled tail"
			}
			break
		}
		rec, err := decodeBody(body)
		if err != nil {
			return corruptError(seg.path, off, err.Error())
		}
		switch rec.typ {
		case recordEntry:
			if err := s.applyEntry(rec.entry); err != nil {
				return corruptError(seg.path, off, err.Error())
			}
			maxIndex = max(maxIndex, rec.entry.Index)
		case recordHardState:
			s.hardState = rec.hardState
		case recordSnapshot:
			s.applySnapshotMark(rec.snapIndex, rec.snapTerm)
		case recordRestore:
			s.applyRestoreMark(rec.snapIndex)
		}
		off = next
	}
	s.segmentMaxIndex = append(s.segmentMaxIndex, maxIndex)
	return nil
}

// applyEntry adds e to the log, discarding any suffix it replaces.
func (s *replayState) applyEntry(e raft.Entry) error {
	if len(s.log) == 0 {
		if s.base > 0 && e.Index > s.base+1 {
			return fmt.Errorf("entry %d follows the snapshot at %d: entries are missing", e.Index, s.base)
		}
		s.log = append(s.log, e)
		return nil
	}
	first, last := s.log[0].Index, s.log[len(s.log)-1].Index
	switch {
	case e.Index == last+1:
		s.log = append(s.log, e)
	case e.Index > last+1:
		return fmt.Errorf("entry %d follows entry %d: entries are missing", e.Index, last)
	case e.Index < first:
		s.log = append(s.log[:0], e)
	default:
		s.log = append(s.log[:e.Index-first], e)
	}
	return nil
}

// applySnapshotMark replays the saving of the node's own snapshot at (index,
// term). The core kept its log, so replay keeps it too, including when the
// entry at index is no longer there: segments whose entries are all at or
// below a low-water mark are deleted, and the marker can sit after entries
// above index in a surviving segment (the node applied index while later
// entries were already in its log). Discarding the log there would lose
// those entries and then refuse to start on the ones after the marker.
//
// Logs written before recordRestore existed also used this marker for
// snapshots received from the leader, for which the core discarded its log.
// Those are recognised by what only they can leave behind: a log that holds
// a different entry at index, or one that ends below index.
func (s *replayState) applySnapshotMark(index, term uint64) {
	if len(s.log) == 0 {
		// Whatever preceded the marker was deleted: nothing to keep or drop,
		// and no way to tell where the next entry must start.
		s.base = 0
		return
	}
	if t, ok := s.termAt(index); ok && t != term || !ok && s.lastIndex() < index {
		s.applyRestoreMark(index)
	}
}

// applyRestoreMark replays the installing of a snapshot received from the
// leader at index: the whole log is discarded and restarts after index.
func (s *replayState) applyRestoreMark(index uint64) {
	s.log = s.log[:0]
	s.base = index
}

// termAt returns the term of the entry at index, if the log holds it.
func (s *replayState) termAt(index uint64) (uint64, bool) {
	if len(s.log) == 0 || index < s.log[0].Index || index > s.log[len(s.log)-1].Index {
		return 0, false
	}
	return s.log[index-s.log[0].Index].Term, true
}

// continues reports whether entries appended after a snapshot at (index,
// term) would replay as following it: the log holds the snapshot's entry,
// or starts right after it, or is empty and restarts after it (or after
// nothing in particular, when a marker's log was deleted).
func (s *replayState) continues(index, term uint64) bool {
	if len(s.log) == 0 {
		return s.base == 0 || s.base == index
	}
	if t, ok := s.termAt(index); ok {
		return t == term
	}
	return s.firstIndex() == index+1
}

// firstIndex and lastIndex describe the replayed log (0, 0 when empty).
func (s *replayState) firstIndex() uint64 {
	if len(s.log) == 0 {
		return 0
	}
	return s.log[0].Index
}

func (s *replayState) lastIndex() uint64 {
	if len(s.log) == 0 {
		return 0
	}
	return s.log[len(s.log)-1].Index
}

// entriesAfter returns the recovered entries that follow a snapshot at
// (index, term). It applies the snapshot marker once more for the case of a
// crash after the snapshot file became durable but before its marker did,
// then checks that the entries continue the snapshot with no gap.
func (s *replayState) entriesAfter(index, term uint64) ([]raft.Entry, error) {
	if t, ok := s.termAt(index); ok && t != term {
		s.log = s.log[:0]
	}
	if len(s.log) == 0 || s.lastIndex() <= index {
		return nil, nil
	}
	if first := s.firstIndex(); first > index+1 {
		return nil, fmt.Errorf("the log starts at entry %d but the snapshot ends at entry %d: entries are missing", first, index)
	}
	return s.log[index+1-s.firstIndex():], nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
