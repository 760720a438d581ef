package clock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestSkewable(t *testing.T) {
	type step struct {
		do      func(s *Skewable) // applied first
		advance time.Duration     // then the base clock moves
		offset  time.Duration     // then Offset must read this
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"no skew", []step{{advance: time.Second, offset: 0}}},
		{"bump forward and back accumulates", []step{
			{do: func(s *Skewable) { s.Bump(5 * time.Second) }, offset: 5 * time.Second},
			{do: func(s *Skewable) { s.Bump(-7 * time.Second) }, advance: time.Minute, offset: -2 * time.Second},
		}},
		{"rate 2 doubles elapsed time", []step{
			{do: func(s *Skewable) { require.NoError(t, s.SetRate(2)) }, advance: 10 * time.Second, offset: 10 * time.Second},
			{advance: 5 * time.Second, offset: 15 * time.Second},
		}},
		{"rate change keeps earlier drift", []step{
			{do: func(s *Skewable) { require.NoError(t, s.SetRate(0.5)) }, advance: 10 * time.Second, offset: -5 * time.Second},
			{do: func(s *Skewable) { require.NoError(t, s.SetRate(1)) }, advance: 10 * time.Second, offset: -5 * time.Second},
		}},
		{"strobe flips every period then stops", []step{
			{do: func(s *Skewable) { require.NoError(t, s.Strobe(time.Second, 10*time.Millisecond, 45*time.Millisecond)) }, offset: time.Second},
			{advance: 5 * time.Millisecond, offset: time.Second},
			{advance: 5 * time.Millisecond, offset: 0},            // 10ms: second period
			{advance: 10 * time.Millisecond, offset: time.Second}, // 20ms
			{advance: 10 * time.Millisecond, offset: 0},           // 30ms
			{advance: 10 * time.Millisecond, offset: time.Second}, // 40ms
			{advance: 10 * time.Millisecond, offset: 0},           // 50ms: strobe over
			{advance: 10 * time.Millisecond, offset: 0},
		}},
		{"strobe on top of a bump", []step{
			{do: func(s *Skewable) { s.Bump(time.Minute) }, offset: time.Minute},
			{do: func(s *Skewable) { require.NoError(t, s.Strobe(-time.Second, time.Second, time.Hour)) }, offset: time.Minute - time.Second},
			{advance: time.Second, offset: time.Minute},
		}},
		{"reset clears everything", []step{
			{do: func(s *Skewable) {
				s.Bump(time.Hour)
				require.NoError(t, s.SetRate(3))
				require.NoError(t, s.Strobe(time.Second, time.Second, time.Hour))
			}, advance: time.Second, offset: time.Hour + 2*time.Second}, // strobe in its "+0" period
			{do: func(s *Skewable) { s.Reset() }, advance: time.Minute, offset: 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := NewFake(epoch)
			s := NewSkewable(base)
			for i, st := range tt.steps {
				if st.do != nil {
					st.do(s)
				}
				base.Advance(st.advance)
				assert.Equal(t, st.offset, s.Offset(), "step %d", i)
				assert.Equal(t, base.Now().Add(st.offset), s.Now(), "step %d", i)
				assert.Equal(t, s.Now().Sub(epoch), s.Since(epoch), "step %d", i)
			}
		})
	}
}

func TestSkewableRejectsBadArguments(t *testing.T) {
	s := NewSkewable(NewFake(epoch))
	for _, rate := range []float64{0, -1, MaxRate * 2} {
		assert.Error(t, s.SetRate(rate), "rate %v", rate)
	}
	assert.Equal(t, 1.0, s.Rate())
	assert.Error(t, s.Strobe(time.Second, 0, time.Second))
	assert.Error(t, s.Strobe(time.Second, time.Second, 0))
}

func TestSkewableSinceSeesBump(t *testing.T) {
	// A lease measured with this clock must be fooled by a jump: that is
	// what the lease-wallclock bug relies on.
	s := NewSkewable(nil)
	start := s.Now()
	s.Bump(time.Hour)
	assert.GreaterOrEqual(t, s.Since(start), time.Hour)
	s.Reset()
	assert.Less(t, s.Since(start), time.Hour)
}

func TestFakeTicker(t *testing.T) {
	f := NewFake(epoch)
	tk := f.NewTicker(10 * time.Millisecond)
	assert.Equal(t, 1, f.Tickers())
	f.Advance(9 * time.Millisecond)
	assert.Empty(t, tk.C())
	f.Advance(time.Millisecond)
	assert.Equal(t, epoch.Add(10*time.Millisecond), <-tk.C())
	f.Advance(35 * time.Millisecond) // three ticks crossed, one buffered
	assert.Equal(t, epoch.Add(20*time.Millisecond), <-tk.C())
	assert.Empty(t, tk.C())
	tk.Stop()
	assert.Equal(t, 0, f.Tickers())
	f.Advance(time.Second)
	assert.Empty(t, tk.C())
}

func TestSkewableTickerFollowsRate(t *testing.T) {
	base := NewFake(epoch)
	s := NewSkewable(base)
	require.NoError(t, s.SetRate(4))
	tk := s.NewTicker(100 * time.Millisecond)
	defer tk.Stop()

	// At rate 4 a 100 ms ticker fires every 25 ms of base time.
	base.Advance(24 * time.Millisecond)
	assertNoTick(t, tk)
	base.Advance(time.Millisecond)
	<-tk.C()

	// Slowing down re-arms running tickers: at rate 0.5, every 200 ms.
	require.NoError(t, s.SetRate(0.5))
	require.Eventually(t, func() bool { return base.Tickers() == 1 && tickerPeriod(base) == 200*time.Millisecond },
		time.Second, time.Millisecond, "ticker re-armed")
	base.Advance(199 * time.Millisecond)
	assertNoTick(t, tk)
	base.Advance(time.Millisecond)
	<-tk.C()
}

// assertNoTick checks that no tick is forwarded; the forwarding goroutine
// gets a moment to run, because an unwanted tick would arrive asynchronously.
func assertNoTick(t *testing.T, tk Ticker) {
	t.Helper()
	select {
	case v := <-tk.C():
		t.Fatalf("unexpected tick at %v", v)
	case <-time.After(20 * time.Millisecond):
	}
}

func tickerPeriod(f *Fake) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tickers[0].period
}

func TestRealClock(t *testing.T) {
	c := Real()
	start := c.Now()
	tk := c.NewTicker(time.Millisecond)
	defer tk.Stop()
	<-tk.C()
	assert.Positive(t, c.Since(start))
}
