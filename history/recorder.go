package history

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Recorder appends ops to a history file as they happen and keeps them in
// memory. It is safe for concurrent use; it assigns Index and Time so that the
// file order is the time order.
type Recorder struct {
	mu      sync.Mutex
	start   time.Time
	file    *os.File
	enc     *json.Encoder
	ops     History
	err     error
	maxOps  int
	dropped int
}

// DefaultMaxOps bounds the in-memory history of one run. Past it, ops are
// still counted but not recorded, and the run reports itself unknown.
const DefaultMaxOps = 5_000_000

// NewRecorder creates path and writes the header. The run's clock starts now.
func NewRecorder(path string) (*Recorder, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create history: %w", err)
	}
	r := &Recorder{start: time.Now(), file: f, enc: json.NewEncoder(f), maxOps: DefaultMaxOps}
	if err := r.enc.Encode(Header{Format: Format, Version: Version}); err != nil {
		f.Close()
		return nil, fmt.Errorf("write history header: %w", err)
	}
	return r, nil
}

// NewMemoryRecorder records in memory only (tests, benchmarks).
func NewMemoryRecorder() *Recorder {
	return &Recorder{start: time.Now(), maxOps: DefaultMaxOps}
}

// Now is the run clock: nanoseconds since the recorder was created.
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

// Start is the wall-clock time the run clock started.
func (r *Recorder) Start() time.Time { return r.start }

// Record stamps op with the next index and the current run time, writes it and
// returns the stamped op.
func (r *Recorder) Record(op Op) Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.Time = r.Now()
	if len(r.ops) >= r.maxOps {
		r.dropped++
		return op
	}
	op.Index = len(r.ops)
	r.ops = append(r.ops, op)
	if r.enc != nil && r.err == nil {
		// One write per op: a crash loses at most the op being written.
		r.err = r.enc.Encode(op)
	}
	return op
}

// History returns a copy of what has been recorded so far.
func (r *Recorder) History() History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(History(nil), r.ops...)
}

// Dropped is the number of ops not recorded because the history was full.
func (r *Recorder) Dropped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// Close flushes and closes the file and returns the first write error.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file == nil {
		return r.err
	}
	if err := r.file.Sync(); err != nil && r.err == nil {
		r.err = err
	}
	if err := r.file.Close(); err != nil && r.err == nil {
		r.err = err
	}
	r.file = nil
	r.enc = nil
	return r.err
}
