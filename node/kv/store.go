package kv

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
)

// Status says what applying a command did.
type Status int

const (
	// Applied: the command took effect.
	Applied Status = iota
	// CASMismatch: the key did not hold Expect (or was absent); nothing changed.
	CASMismatch
	// WrongType: the key holds the other kind of value (append to a string,
	// cas on a list); nothing changed.
	WrongType
	// StaleRequest: the client has already sent a later request, so this one
	// is an old retry whose result is no longer kept; nothing changed.
	StaleRequest
)

func (s Status) String() string {
	switch s {
	case Applied:
		return "applied"
	case CASMismatch:
		return "cas-mismatch"
	case WrongType:
		return "wrong-type"
	case StaleRequest:
		return "stale-request"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Result is the outcome of applying a command. Value is the key's string
// after a put or cas (the current value on CASMismatch); List is the key's
// list after an append. The caller must not modify List.
type Result struct {
	Status Status
	Value  string
	List   []string
}

// Value is what a key holds: a string, or a list when List is non-nil. Only
// append creates a list, so a list always has at least one element.
type Value struct {
	String string
	List   []string
}

// IsList reports whether the value is a list.
func (v Value) IsList() bool { return v.List != nil }

// session is the idempotent receiver's memory of one client: its latest
// request and that request's result, and the log index that last touched it
// (for eviction).
type session struct {
	clientID  string
	seq       uint64
	result    Result
	lastIndex uint64
	elem      *list.Element // in Store.lru
}

// Store is the replicated state machine. Apply, ApplyNoop and Restore must
// be called by one goroutine (the one that applies the log); Get, Applied,
// Snapshot and Digest may be called concurrently with them.
type Store struct {
	maxSessions int

	mu       sync.RWMutex
	applied  uint64
	data     map[string]Value
	sessions map[string]*session
	lru      *list.List // of *session, least recently touched (lowest lastIndex) first
}

// DefaultMaxSessions is a session bound for callers without a better figure:
// a session costs a few hundred bytes, and a client that is evicted can only
// be hurt if it retries a request after this many other clients wrote.
const DefaultMaxSessions = 10000

// New returns an empty store keeping at most maxSessions client sessions
// (DefaultMaxSessions when maxSessions <= 0). Every replica must use the same
// bound, because eviction is part of the replicated state.
func New(maxSessions int) *Store {
	if maxSessions <= 0 {
		maxSessions = DefaultMaxSessions
	}
	return &Store{
		maxSessions: maxSessions,
		data:        map[string]Value{},
		sessions:    map[string]*session{},
		lru:         list.New(),
	}
}

// Applied returns the index of the last applied log entry.
func (s *Store) Applied() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.applied
}

// Get returns the value under key. The store never modifies a list it has
// handed out (append builds a new one), and neither may the caller.
func (s *Store) Get(key string) (v Value, found bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, found = s.data[key]
	return v, found
}

// ApplyNoop records that the entry at index (a leader's no-op) was applied.
func (s *Store) ApplyNoop(index uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(index)
}

// Apply applies the command committed at index and returns its result.
// Indexes must increase (gaps are allowed for entries that are not
// commands); a repeated or lower index is a bug in the caller and panics,
// because applying an entry twice would corrupt the replica.
//
// Idempotent receiver: for a command with a ClientID, Seq equal to the
// client's last request returns that request's cached result without
// applying anything, and a lower Seq returns StaleRequest. Either way the
// index still counts as applied.
func (s *Store) Apply(index uint64, cmd Command) Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(index)

	var sess *session
	if cmd.ClientID != "" {
		sess = s.sessions[cmd.ClientID]
		if sess != nil {
			switch {
			case cmd.Seq == sess.seq:
				s.touchLocked(sess, index)
				return sess.result
			case cmd.Seq < sess.seq:
				// Not touched: an old retry should not keep a session alive.
				return Result{Status: StaleRequest}
			}
		}
	}

	res := s.execLocked(cmd)

	if cmd.ClientID != "" {
		if sess == nil {
			sess = &session{clientID: cmd.ClientID}
			sess.elem = s.lru.PushBack(sess)
			s.sessions[cmd.ClientID] = sess
		}
		sess.seq = cmd.Seq
		sess.result = res
		s.touchLocked(sess, index)
		s.evictLocked()
	}
	return res
}

func (s *Store) advanceLocked(index uint64) {
	if index <= s.applied {
		panic(fmt.Sprintf("kv: apply index %d but already applied %d", index, s.applied))
	}
	s.applied = index
}

func (s *Store) touchLocked(sess *session, index uint64) {
	sess.lastIndex = index
	s.lru.MoveToBack(sess.elem)
}

// evictLocked drops the least recently touched sessions beyond the bound.
// Touches happen in log order, so every replica evicts the same sessions.
func (s *Store) evictLocked() {
	for len(s.sessions) > s.maxSessions {
		oldest := s.lru.Front()
		sess := oldest.Value.(*session)
		s.lru.Remove(oldest)
		delete(s.sessions, sess.clientID)
	}
}

func (s *Store) execLocked(cmd Command) Result {
	cur, found := s.data[cmd.Key]
	switch cmd.Op {
	case OpPut:
		s.data[cmd.Key] = Value{String: cmd.Value}
		return Result{Status: Applied, Value: cmd.Value}
	case OpCAS:
		if cur.IsList() {
			return Result{Status: WrongType}
		}
		if !found || cur.String != cmd.Expect {
			return Result{Status: CASMismatch, Value: cur.String}
		}
		s.data[cmd.Key] = Value{String: cmd.Value}
		return Result{Status: Applied, Value: cmd.Value}
	case OpAppend:
		if found && !cur.IsList() {
			return Result{Status: WrongType}
		}
		// Always a fresh slice: results and Get callers may hold the old one.
		next := make([]string, len(cur.List), len(cur.List)+1)
		copy(next, cur.List)
		next = append(next, cmd.Value)
		s.data[cmd.Key] = Value{List: next}
		return Result{Status: Applied, List: next}
	}
	// Decode rejects unknown ops, so this is a command built in memory by
	// mistake. Every replica reaches the same panic at the same index.
	panic(fmt.Sprintf("kv: apply unknown op %q at index %d", cmd.Op, s.applied))
}

// Digest returns the hex SHA-256 of the store's canonical encoding (the
// snapshot bytes): data, sessions and applied index. Replicas that applied
// the same log prefix have the same digest.
func (s *Store) Digest() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sum := sha256.Sum256(s.encodeLocked())
	return hex.EncodeToString(sum[:])
}

// sortedKeys returns the map's keys in byte order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
