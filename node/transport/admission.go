package transport

import (
	"sync"
	"time"
)

// Bounds on connections that have not finished their handshake. Each holds a
// goroutine and a socket until it completes or handshakeTimeout passes. A
// real peer has at most one handshake in progress with this node (two while
// a reconnect overlaps a dying attempt), and peers on one host (a local
// cluster on loopback) share a host's allowance, so these leave ample room
// for peers while capping what a flood of silent connections can hold.
const (
	maxPendingHandshakes        = 128
	maxPendingHandshakesPerHost = 16
)

// handshakeSlots counts handshakes in progress, in total and per remote host.
type handshakeSlots struct {
	mu      sync.Mutex
	total   int
	perHost map[string]int
}

// acquire takes a slot for host, or reports false when the host or the node
// has too many handshakes in progress.
func (s *handshakeSlots) acquire(host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total >= maxPendingHandshakes || s.perHost[host] >= maxPendingHandshakesPerHost {
		return false
	}
	if s.perHost == nil {
		s.perHost = map[string]int{}
	}
	s.total++
	s.perHost[host]++
	return true
}

func (s *handshakeSlots) release(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.perHost[host]--; s.perHost[host] <= 0 {
		delete(s.perHost, host)
	}
}

// Refused handshakes are logged at most once per rejectLogInterval for each
// remote host and claimed id; the refusals in between are counted and the
// count is reported on the next line. An impostor retrying in a loop costs
// one log line a minute, not one per attempt. maxRejectKeys bounds the
// memory: beyond it (ids are chosen by whoever connects) refusals share one
// key, host "*".
const (
	rejectLogInterval = time.Minute
	maxRejectKeys     = 256
)

type rejectKey struct{ host, claimed string }

type rejectEntry struct {
	logged     time.Time // when this key was last logged
	suppressed uint64    // refusals since then that were not logged
}

// rejectLog decides which refusals to log.
type rejectLog struct {
	mu   sync.Mutex
	keys map[rejectKey]*rejectEntry
}

// note records a refusal of key at now. It reports whether to log it, and
// how many refusals of the key were not logged since the last line.
func (l *rejectLog) note(key rejectKey, now time.Time) (log bool, suppressed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = map[rejectKey]*rejectEntry{}
	}
	e := l.keys[key]
	if e == nil && len(l.keys) >= maxRejectKeys {
		for k, old := range l.keys {
			if now.Sub(old.logged) >= rejectLogInterval {
				delete(l.keys, k)
			}
		}
		if len(l.keys) >= maxRejectKeys {
			key = rejectKey{host: "*", claimed: "*"}
			e = l.keys[key]
		}
	}
	if e == nil {
		l.keys[key] = &rejectEntry{logged: now}
		return true, 0
	}
	if now.Sub(e.logged) < rejectLogInterval {
		e.suppressed++
		return false, 0
	}
	suppressed = e.suppressed
	e.logged, e.suppressed = now, 0
	return true, suppressed
}
