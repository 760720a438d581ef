package workloads

import (
	"context"
	"math/rand"
	"strconv"
	"strings"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
)

// Set appends unique elements to a few list keys and reads them back; after
// healing, every key is read from every node. Checked for durability (the set
// checker) and for linearizability of each key's appends and reads (list
// model).
type Set struct{}

const (
	// setActiveKeys lists are appended to at once. Porcupine must try the
	// orders of appends that overlap between two reads of a list, so the
	// concurrency per key, not the number of keys, bounds the check time.
	setActiveKeys = 8
	// setMaxOpsPerKey caps each list's history whatever --ops-per-key
	// says: with ten clients on four lists, some lists of about 100 ops
	// under pauses were not decided within a one-minute check timeout.
	setMaxOpsPerKey = 40
	// Out of 4 ops: 3 appends, 1 read.
	setAppendShare = 3
)

// Name returns "set".
func (Set) Name() string { return "set" }

// Model returns checker.ModelList.
func (Set) Model() string { return checker.ModelList }

// NewGenerator returns the set op generator.
func (Set) NewGenerator(rng *rand.Rand, opsPerKey int) Generator {
	return &setGenerator{rng: rng, keys: newKeyRotation("s", setActiveKeys, min(opsPerKey, setMaxOpsPerKey))}
}

type setGenerator struct {
	rng         *rand.Rand
	keys        *keyRotation
	nextElement int64
}

// Next returns an append of a fresh element (75%) or a read (25%).
func (g *setGenerator) Next() history.Op {
	k := g.keys.pick(g.rng)
	op := history.Op{Type: history.Invoke, Key: k.name, F: history.FRead}
	if g.rng.Intn(4) < setAppendShare {
		g.nextElement++
		op.F = history.FAppend
		op.Value = history.IntPtr(g.nextElement)
	}
	return op
}

// Apply sends one append or list read. A read of an absent key is the empty
// list; unparsable elements become UnparsableValue (noted in Error).
func (Set) Apply(ctx context.Context, c Client, invoke history.Op) history.Op {
	switch invoke.F {
	case history.FAppend:
		return completion(invoke, c.Add(ctx, invoke.Key, format(invoke.Value)))
	case history.FRead:
		res := c.ReadSet(ctx, invoke.Key)
		done := completion(invoke, res)
		done.Value, done.List = nil, nil
		if done.Type != history.OK || !res.Found {
			return done
		}
		var notes []string
		done.List = make([]int64, len(res.List))
		for i, s := range res.List {
			v, note := parseValue(s)
			done.List[i] = v
			if note != "" {
				notes = append(notes, note)
			}
		}
		if res.List == nil && res.Value != "" {
			notes = append(notes, "key holds a value, not a list: "+strconv.Quote(res.Value))
			done.List = []int64{UnparsableValue}
		}
		done.Error = strings.Join(notes, "; ")
		return done
	}
	done := invoke
	done.Type, done.Error = history.Fail, "set workload cannot apply "+strconv.Quote(invoke.F)
	return done
}

// FinalReads reads every key that received an append.
func (Set) FinalReads(h history.History) []history.Op {
	return readInvokes(touchedKeys(h, history.FAppend))
}

// Checkers returns set, linearizability (list model), stats, availability
// and convergence.
func (Set) Checkers() []checker.Checker {
	return []checker.Checker{
		checker.Set{},
		checker.Linearizability{Model: checker.ModelList},
		checker.Stats{},
		checker.Availability{},
		checker.Convergence{},
	}
}
