// Package clock is kvnode's one source of time. Every component that needs
// the time of day, a duration since some instant, or a periodic tick takes a
// Clock, so tests can drive time by hand (Fake) and the clock nemesis can skew
// a running node's wall-clock reading (Skewable) without touching the host
// clock, which containers share.
package clock

import "time"

// Clock tells the time and makes tickers.
type Clock interface {
	// Now returns the current reading of the clock.
	Now() time.Time
	// Since returns Now().Sub(t).
	Since(t time.Time) time.Duration
	// NewTicker returns a ticker that delivers the clock's reading about
	// every d. d must be positive.
	NewTicker(d time.Duration) Ticker
}

// Ticker delivers ticks on a channel until stopped. Like time.Ticker, it
// drops ticks for a slow receiver rather than queueing them.
type Ticker interface {
	// C returns the channel on which ticks are delivered.
	C() <-chan time.Time
	// Stop turns the ticker off. It does not close the channel.
	Stop()
}

// Real returns the operating system's clock (the time package).
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time                  { return time.Now() }
func (realClock) Since(t time.Time) time.Duration { return time.Since(t) }
func (realClock) NewTicker(d time.Duration) Ticker {
	return realTicker{time.NewTicker(d)}
}

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }
