package clock

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Rate limits accepted by SetRate. Outside them a skewed node is not a
// useful experiment (and a zero rate would stop every ticker).
const (
	MinRate = 0.01
	MaxRate = 100.0
)

// Skewable is a Clock whose reading can be moved away from its base clock
// while the node runs: that is how the clock nemesis reaches a node in a
// container, because the host clock is shared and must never be touched.
//
// The reading is computed lazily from the base clock:
//
//	Now = base + offset + (rate-1)*(base - rateSince) + strobe(base)
//
// where offset accumulates bumps (and the drift of earlier rates), and
// strobe is +delta or 0, flipping every period while a strobe is active.
// Durations measured between two readings (Since) see every jump, so code
// that trusts this clock for intervals (leases) is exposed to the skew,
// which is the point. Skewable is safe for concurrent use.
type Skewable struct {
	base Clock

	mu        sync.Mutex
	offset    time.Duration
	rate      float64
	rateSince time.Time // base reading when rate was set
	strobe    strobe
	tickers   map[*skewTicker]struct{}
}

type strobe struct {
	start    time.Time // base reading; zero when no strobe is active
	delta    time.Duration
	period   time.Duration
	duration time.Duration
}

// NewSkewable returns a Skewable clock over base, initially reading exactly
// what base reads. A nil base means the real clock.
func NewSkewable(base Clock) *Skewable {
	if base == nil {
		base = Real()
	}
	return &Skewable{base: base, rate: 1, rateSince: base.Now(), tickers: map[*skewTicker]struct{}{}}
}

// Now returns the base reading moved by the current skew.
func (s *Skewable) Now() time.Time {
	b := s.base.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return b.Add(s.skewLocked(b))
}

// Since returns Now().Sub(t).
func (s *Skewable) Since(t time.Time) time.Duration { return s.Now().Sub(t) }

// Offset returns how far the reading is from the base clock right now,
// including rate drift and an active strobe.
func (s *Skewable) Offset() time.Duration {
	b := s.base.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skewLocked(b)
}

// Rate returns the current rate (1 means the base rate).
func (s *Skewable) Rate() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rate
}

// Bump jumps the reading by offset (negative jumps back in time). Bumps
// accumulate.
func (s *Skewable) Bump(offset time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += offset
}

// Strobe makes the reading flip between +delta and +0 (on top of the other
// skew) every period, for duration, starting now with +delta. A new strobe
// replaces an active one.
func (s *Skewable) Strobe(delta, period, duration time.Duration) error {
	if period <= 0 || duration <= 0 {
		return fmt.Errorf("strobe needs a positive period and duration, got period %v duration %v", period, duration)
	}
	b := s.base.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.strobe = strobe{start: b, delta: delta, period: period, duration: duration}
	return nil
}

// SetRate makes the reading advance at rate times the base rate from now
// on (the drift accumulated so far is kept). Tickers made by NewTicker,
// including running ones, then fire every d/rate of base time, so a node's
// timers run fast or slow with its clock. rate must be in [MinRate, MaxRate].
func (s *Skewable) SetRate(rate float64) error {
	if math.IsNaN(rate) || rate < MinRate || rate > MaxRate {
		return fmt.Errorf("clock rate %v out of range [%v, %v]", rate, MinRate, MaxRate)
	}
	b := s.base.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += s.driftLocked(b)
	s.rate = rate
	s.rateSince = b
	s.notifyTickersLocked()
	return nil
}

// Reset removes every skew: no offset, rate 1, no strobe.
func (s *Skewable) Reset() {
	b := s.base.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset = 0
	s.strobe = strobe{}
	if s.rate != 1 {
		s.rate = 1
		s.notifyTickersLocked()
	}
	s.rateSince = b
}

func (s *Skewable) driftLocked(b time.Time) time.Duration {
	if s.rate == 1 {
		return 0
	}
	return time.Duration((s.rate - 1) * float64(b.Sub(s.rateSince)))
}

func (s *Skewable) skewLocked(b time.Time) time.Duration {
	skew := s.offset + s.driftLocked(b)
	if st := s.strobe; !st.start.IsZero() {
		elapsed := b.Sub(st.start)
		if elapsed >= 0 && elapsed < st.duration && (elapsed/st.period)%2 == 0 {
			skew += st.delta
		}
	}
	return skew
}

func (s *Skewable) notifyTickersLocked() {
	for t := range s.tickers {
		select {
		case t.reset <- struct{}{}:
		default:
		}
	}
}

// NewTicker returns a ticker firing every d of this clock's time, that is
// every d/rate of base time; it follows later rate changes. Ticks carry the
// skewed reading.
func (s *Skewable) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker period")
	}
	t := &skewTicker{
		s: s, period: d,
		c:     make(chan time.Time, 1),
		reset: make(chan struct{}, 1),
		stop:  make(chan struct{}),
	}
	s.mu.Lock()
	s.tickers[t] = struct{}{}
	base := s.base.NewTicker(basePeriod(d, s.rate))
	s.mu.Unlock()
	go t.run(base)
	return t
}

func basePeriod(d time.Duration, rate float64) time.Duration {
	p := time.Duration(float64(d) / rate)
	if p <= 0 {
		p = 1
	}
	return p
}

type skewTicker struct {
	s        *Skewable
	period   time.Duration
	c        chan time.Time
	reset    chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
}

func (t *skewTicker) run(base Ticker) {
	defer func() { base.Stop() }()
	for {
		select {
		case <-base.C():
			select {
			case t.c <- t.s.Now():
			default:
			}
		case <-t.reset:
			base.Stop()
			base = t.s.base.NewTicker(basePeriod(t.period, t.s.Rate()))
		case <-t.stop:
			return
		}
	}
}

func (t *skewTicker) C() <-chan time.Time { return t.c }

func (t *skewTicker) Stop() {
	t.stopOnce.Do(func() {
		t.s.mu.Lock()
		delete(t.s.tickers, t)
		t.s.mu.Unlock()
		close(t.stop)
	})
}
