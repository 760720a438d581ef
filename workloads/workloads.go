// Package workloads defines what clients do during a run: a generator of
// operations, how an operation is sent to the store through a Client, the
// final reads after healing, and the checkers that judge the history.
//
// Every workload keeps per-key histories small: a generator keeps a few keys
// active at once and replaces a key with a fresh one after opsPerKey ops, so
// porcupine checks many small independent histories instead of one big one.
// Every written value is unique (a global counter), which is what makes a
// read unambiguous.
package workloads

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strconv"
	"strings"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/sut"
)

// Generator produces invoke templates: F, Key, Value, Expect (the harness
// stamps Index, Time, Process and Node). It is deterministic given its rand
// and is not safe for concurrent use.
type Generator interface {
	Next() history.Op
}

// Client is what the workloads need from a store: one method per operation,
// each returning the call's outcome (sut.OK, sut.Fail or sut.Info, never a
// guess: a write whose fate is unknown is Info). A store's adapter implements
// it; one Client serves one logical process at a time.
type Client interface {
	// Read returns key's value (Found false when it has none).
	Read(ctx context.Context, key string) sut.Result
	// Write sets key to value.
	Write(ctx context.Context, key, value string) sut.Result
	// CAS sets key to value if it holds expect; a definite mismatch is a
	// Fail with Mismatch set. An absent key never matches.
	CAS(ctx context.Context, key, expect, value string) sut.Result
	// Add adds element to the set (or list) at key.
	Add(ctx context.Context, key, element string) sut.Result
	// ReadSet returns the elements at key in List, in the order they were
	// added where the store keeps one (Found false when there are none).
	ReadSet(ctx context.Context, key string) sut.Result
	// Close releases the client's connections.
	Close() error
}

// Workload is one kind of test traffic and its checkers.
type Workload interface {
	Name() string
	// NewGenerator returns a generator driven by rng that gives each key at
	// most opsPerKey ops.
	NewGenerator(rng *rand.Rand, opsPerKey int) Generator
	// Apply sends invoke to the store and returns its completion (Type,
	// Value or List, Error; the rest copied from invoke).
	Apply(ctx context.Context, c Client, invoke history.Op) history.Op
	// FinalReads returns one read invoke for every key the history touched.
	FinalReads(h history.History) []history.Op
	Checkers() []checker.Checker
	// Model is the porcupine model name for checker.VisualizeKey.
	Model() string
}

var registry = map[string]Workload{
	Register{}.Name(): Register{},
	Set{}.Name():      Set{},
}

// ByName returns the workload called name.
func ByName(name string) (Workload, error) {
	w, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown workload %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return w, nil
}

// Names lists the workloads, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// UnparsableValue stands for a value read from the store that is not a
// decimal integer. No generator ever writes it, so the checkers flag such a
// read as a read of a value never written; the completion's Error keeps the
// raw text.
const UnparsableValue int64 = math.MinInt64

// completion builds the completion of invoke from a client result: the type
// from the outcome and the error text.
func completion(invoke history.Op, res sut.Result) history.Op {
	done := invoke
	done.Type = typeOf(res.Outcome)
	done.Error = ""
	if res.Err != nil {
		done.Error = res.Err.Error()
	}
	return done
}

func typeOf(o sut.Outcome) history.Type {
	switch o {
	case sut.OK:
		return history.OK
	case sut.Fail:
		return history.Fail
	}
	return history.Info
}

// parseValue decodes a value the store returned. On failure it returns
// UnparsableValue and a note for the completion's Error.
func parseValue(s string) (int64, string) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return UnparsableValue, fmt.Sprintf("unparsable value %q", s)
	}
	return v, ""
}

func format(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}

// touchedKeys returns the keys of client invokes of the given functions in
// order of first appearance, excluding final reads.
func touchedKeys(h history.History, fs ...string) []string {
	seen := map[string]bool{}
	var keys []string
	for _, op := range h {
		if op.Type != history.Invoke || op.IsNemesis() || op.Final || op.Key == "" || seen[op.Key] {
			continue
		}
		for _, f := range fs {
			if op.F == f {
				seen[op.Key] = true
				keys = append(keys, op.Key)
				break
			}
		}
	}
	return keys
}

func readInvokes(keys []string) []history.Op {
	out := make([]history.Op, len(keys))
	for i, k := range keys {
		out[i] = history.Op{Type: history.Invoke, F: history.FRead, Key: k, Final: true}
	}
	return out
}

// keyRotation keeps a fixed number of keys active; each key receives at
// most opsPerKey ops and is then replaced by a fresh key.
type keyRotation struct {
	prefix    string
	opsPerKey int
	next      int
	active    []activeKey
}

type activeKey struct {
	name string
	ops  int
	// recent holds the last values written to the key (bounded), for cas.
	recent []int64
}

// maxRecentValues bounds the cas candidates remembered per key.
const maxRecentValues = 3

func newKeyRotation(prefix string, activeKeys, opsPerKey int) *keyRotation {
	if opsPerKey < 1 {
		opsPerKey = 1
	}
	r := &keyRotation{prefix: prefix, opsPerKey: opsPerKey, active: make([]activeKey, activeKeys)}
	for i := range r.active {
		r.active[i] = r.fresh()
	}
	return r
}

func (r *keyRotation) fresh() activeKey {
	k := activeKey{name: r.prefix + strconv.Itoa(r.next)}
	r.next++
	return k
}

// pick chooses an active key for one op and counts the op against it.
func (r *keyRotation) pick(rng *rand.Rand) *activeKey {
	i := rng.Intn(len(r.active))
	if r.active[i].ops >= r.opsPerKey {
		r.active[i] = r.fresh()
	}
	r.active[i].ops++
	return &r.active[i]
}

// casExpect picks the expected value of a cas: the latest value written to
// the key half of the time (likely current, so the cas succeeds), otherwise
// any recent one (likely stale, so the cas fails with a mismatch, which is
// evidence too).
func (k *activeKey) casExpect(rng *rand.Rand) int64 {
	if rng.Intn(2) == 0 {
		return k.recent[len(k.recent)-1]
	}
	return k.recent[rng.Intn(len(k.recent))]
}

func (k *activeKey) wrote(v int64) {
	k.recent = append(k.recent, v)
	if len(k.recent) > maxRecentValues {
		k.recent = k.recent[1:]
	}
}
