package harness

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// progress prints one live line: elapsed/total, ops/s, ok/fail/info and the
// active fault. On a terminal it rewrites the line in place; otherwise (CI
// logs) it prints a line every few seconds.
type progress struct {
	out       io.Writer
	tty       bool
	total     time.Duration
	counts    *counters
	fault     func() string
	started   time.Time
	lastTotal int64
	lastAt    time.Time
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) run(ctx context.Context) {
	every := time.Second
	if !p.tty {
		every = 5 * time.Second
	}
	p.started, p.lastAt = time.Now(), time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if p.tty {
				p.print()
				fmt.Fprintln(p.out)
			}
			return
		case <-t.C:
			p.print()
		}
	}
}

func (p *progress) print() {
	ok, fail, info := p.counts.ok.Load(), p.counts.fail.Load(), p.counts.info.Load()
	total := ok + fail + info
	now := time.Now()
	rate := float64(total-p.lastTotal) / now.Sub(p.lastAt).Seconds()
	p.lastTotal, p.lastAt = total, now
	fault := "none"
	if p.fault != nil {
		if f := p.fault(); f != "" {
			fault = f
		}
	}
	elapsed := now.Sub(p.started).Truncate(time.Second)
	line := fmt.Sprintf("[%v/%v] %6.0f ops/s  ok=%d fail=%d info=%d  fault: %s",
		elapsed, p.total, rate, ok, fail, info, fault)
	if p.tty {
		fmt.Fprintf(p.out, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.out, line)
	}
}
