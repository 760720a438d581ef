package harness

import (
	"context"
	"sync"
	"time"
)

// rateLimiter spaces operation starts evenly so all workers together start at
// most rate ops per second. A zero rate never waits.
type rateLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func newRateLimiter(opsPerSecond float64) *rateLimiter {
	if opsPerSecond <= 0 {
		return &rateLimiter{}
	}
	return &rateLimiter{interval: time.Duration(float64(time.Second) / opsPerSecond)}
}

// wait blocks until the caller's reserved start slot, or ctx is done.
func (r *rateLimiter) wait(ctx context.Context) error {
	if r.interval == 0 {
		return ctx.Err()
	}
	r.mu.Lock()
	now := time.Now()
	if r.next.Before(now) {
		r.next = now
	}
	slot := r.next
	r.next = r.next.Add(r.interval)
	r.mu.Unlock()
	d := time.Until(slot)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
