package raft

import "fmt"

// raftLog is the in-memory view of the replicated log: a snapshot (the
// low-water mark: everything at or below snapshotIndex is compacted) followed
// by the entries above it.
//
// Index bookkeeping, always: snapshotIndex <= applied <= committed <= lastIndex,
// and stabled <= lastIndex. Entries above stabled have not yet been handed to
// the driver in a Ready that was Advanced, so they are not known durable.
//
// Ownership: entry slices handed out in messages and Ready values share
// backing arrays with the log. The log never writes into an array it has
// handed out: truncation always copies (see appendAfter), so callers may keep
// what they were given, but must not modify it.
type raftLog struct {
	snapshot      *Snapshot // nil until one is restored, received or taken
	snapshotIndex uint64
	snapshotTerm  uint64
	entries       []Entry // entries[i].Index == snapshotIndex+1+i

	committed uint64 // high-water mark
	applied   uint64 // last index handed to the driver to apply and Advanced
	stabled   uint64 // last index the driver has made durable
}

func (l *raftLog) firstIndex() uint64 { return l.snapshotIndex + 1 }

func (l *raftLog) lastIndex() uint64 { return l.snapshotIndex + uint64(len(l.entries)) }

func (l *raftLog) lastTerm() uint64 {
	t, _ := l.term(l.lastIndex())
	return t
}

// term returns the term of the entry at index i. ok is false when i is
// compacted (below the snapshot) or beyond the last index.
func (l *raftLog) term(i uint64) (term uint64, ok bool) {
	switch {
	case i == l.snapshotIndex:
		return l.snapshotTerm, true
	case i < l.snapshotIndex || i > l.lastIndex():
		return 0, false
	}
	return l.entries[i-l.snapshotIndex-1].Term, true
}

func (l *raftLog) matchTerm(i, term uint64) bool {
	t, ok := l.term(i)
	return ok && t == term
}

// isUpToDate reports whether a candidate whose last entry is (index, term)
// has a log at least as up to date as ours (Raft §5.4.1).
func (l *raftLog) isUpToDate(index, term uint64) bool {
	last := l.lastTerm()
	return term > last || (term == last && index >= l.lastIndex())
}

// slice returns entries in [lo, hi). The caller guarantees firstIndex <= lo
// and hi <= lastIndex+1.
func (l *raftLog) slice(lo, hi uint64) []Entry {
	if lo >= hi {
		return nil
	}
	if lo < l.firstIndex() || hi > l.lastIndex()+1 {
		panic(fmt.Sprintf("raft: slice [%d,%d) out of range [%d,%d]", lo, hi, l.firstIndex(), l.lastIndex()))
	}
	off := l.snapshotIndex + 1
	return l.entries[lo-off : hi-off : hi-off]
}

// append adds entries at the end of the log; the first must follow lastIndex.
func (l *raftLog) append(ents ...Entry) {
	if len(ents) == 0 {
		return
	}
	if ents[0].Index != l.lastIndex()+1 {
		panic(fmt.Sprintf("raft: append of index %d after last index %d", ents[0].Index, l.lastIndex()))
	}
	l.entries = append(l.entries, ents...)
}

// findConflict returns the index of the first entry in ents whose term
// differs from ours or that we do not have, or 0 when we hold all of them.
func (l *raftLog) findConflict(ents []Entry) uint64 {
	for _, e := range ents {
		if !l.matchTerm(e.Index, e.Term) {
			return e.Index
		}
	}
	return 0
}

// appendAfter merges entries from a leader whose first entry follows the
// matching entry at ents[0].Index-1. Only a conflicting suffix is truncated:
// entries we already hold with the same term are kept as they are (a delayed,
// shorter MsgApp must not cut off entries that a later one added). Truncating
// a committed entry is a safety violation and panics.
func (l *raftLog) appendAfter(ents []Entry) {
	conflict := l.findConflict(ents)
	if conflict == 0 {
		return
	}
	if conflict <= l.committed {
		panic(fmt.Sprintf("raft: conflicting entry at index %d is at or below the commit index %d: refusing to truncate a committed entry", conflict, l.committed))
	}
	start := conflict - ents[0].Index
	if conflict <= l.lastIndex() {
		// Truncate into a fresh array: the old one may be shared with
		// messages or a Ready already handed out.
		keep := conflict - l.snapshotIndex - 1
		l.entries = append(l.entries[:keep:keep], ents[start:]...)
		if l.stabled >= conflict {
			// The driver must rewrite the WAL from the conflict onwards:
			// the next Ready.Entries starts at conflict.
			l.stabled = conflict - 1
		}
		return
	}
	l.append(ents[start:]...)
}

// commitTo moves the high-water mark forward. It never moves back.
func (l *raftLog) commitTo(index uint64) {
	if index <= l.committed {
		return
	}
	if index > l.lastIndex() {
		panic(fmt.Sprintf("raft: commit index %d beyond last index %d", index, l.lastIndex()))
	}
	l.committed = index
}

// unstableEntries are the entries the driver has not yet made durable.
func (l *raftLog) unstableEntries() []Entry {
	if l.stabled >= l.lastIndex() {
		return nil
	}
	from := max(l.stabled+1, l.firstIndex())
	return l.slice(from, l.lastIndex()+1)
}

// nextCommitted returns up to limit committed entries not yet applied.
func (l *raftLog) nextCommitted(limit int) []Entry {
	lo := max(l.applied+1, l.firstIndex())
	hi := l.committed + 1
	if lo >= hi {
		return nil
	}
	if hi-lo > uint64(limit) {
		hi = lo + uint64(limit)
	}
	return l.slice(lo, hi)
}

// restore resets the log to a snapshot: every entry is dropped and the
// snapshot becomes the low-water mark and the high-water mark.
func (l *raftLog) restore(s Snapshot) {
	if s.Index < l.committed {
		panic(fmt.Sprintf("raft: restoring snapshot at %d below commit index %d", s.Index, l.committed))
	}
	snap := s
	l.snapshot = &snap
	l.snapshotIndex, l.snapshotTerm = s.Index, s.Term
	l.entries = nil
	l.committed = s.Index
	l.stabled = s.Index
}

// compact drops entries at or below s.Index and keeps s as the snapshot to
// send to lagging followers.
func (l *raftLog) compact(s Snapshot) error {
	if s.Index <= l.snapshotIndex {
		return fmt.Errorf("compact at index %d: already compacted to %d", s.Index, l.snapshotIndex)
	}
	if s.Index > l.applied {
		return fmt.Errorf("compact at index %d: beyond applied index %d", s.Index, l.applied)
	}
	term, ok := l.term(s.Index)
	if !ok {
		return fmt.Errorf("compact at index %d: entry not in the log", s.Index)
	}
	if s.Term != 0 && s.Term != term {
		return fmt.Errorf("compact at index %d: snapshot term %d but log term %d", s.Index, s.Term, term)
	}
	s.Term = term
	keep := l.entries[s.Index-l.snapshotIndex:]
	l.entries = append(make([]Entry, 0, len(keep)), keep...)
	snap := s
	l.snapshot = &snap
	l.snapshotIndex, l.snapshotTerm = s.Index, s.Term
	return nil
}
