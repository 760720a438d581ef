package workloads

import (
	"context"
	"math/rand"
	"strconv"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
)

// Register is the default workload: read, write and compare-and-set on
// independent integer registers, checked for linearizability per key.
type Register struct{}

// Register op mix and key fan-out.
const (
	// registerActiveKeys keys are in use at once, so concurrent clients
	// contend on the same keys (interesting histories) while each key's
	// history stays small.
	registerActiveKeys = 8
	// Out of 4 ops: 2 reads, 1 write, 1 cas.
	registerReadShare  = 2
	registerWriteShare = 1
)

// Name returns "register".
func (Register) Name() string { return "register" }

// Model returns checker.ModelRegister.
func (Register) Model() string { return checker.ModelRegister }

// NewGenerator returns the register op generator.
func (Register) NewGenerator(rng *rand.Rand, opsPerKey int) Generator {
	return &registerGenerator{rng: rng, keys: newKeyRotation("r", registerActiveKeys, opsPerKey)}
}

type registerGenerator struct {
	rng       *rand.Rand
	keys      *keyRotation
	nextValue int64
}

// Next returns a read (50%), write (25%) or cas (25%). A cas expects one of
// the last values generated for the key (see casExpect), so many of them
// succeed; on a key with no value yet it becomes a write (kvnode cannot cas
// an absent key).
func (g *registerGenerator) Next() history.Op {
	k := g.keys.pick(g.rng)
	op := history.Op{Type: history.Invoke, Key: k.name}
	r := g.rng.Intn(4)
	switch {
	case r < registerReadShare:
		op.F = history.FRead
		return op
	case r < registerReadShare+registerWriteShare || len(k.recent) == 0:
		op.F = history.FWrite
	default:
		op.F = history.FCAS
		op.Expect = history.IntPtr(k.casExpect(g.rng))
	}
	g.nextValue++
	op.Value = history.IntPtr(g.nextValue)
	k.wrote(g.nextValue)
	return op
}

// Apply sends one register op. A read's value is decoded from decimal; a cas
// refused with 412 gets an Error starting with checker.CASMismatchError so
// the linearizability checker can use the mismatch as evidence.
func (Register) Apply(ctx context.Context, c Client, invoke history.Op) history.Op {
	switch invoke.F {
	case history.FRead:
		res := c.Read(ctx, invoke.Key)
		done := completion(invoke, res)
		done.Value = nil
		if done.Type == history.OK && res.Found {
			v, note := parseValue(res.Value)
			done.Value = history.IntPtr(v)
			done.Error = note
		}
		return done
	case history.FWrite:
		return completion(invoke, c.Write(ctx, invoke.Key, format(invoke.Value)))
	case history.FCAS:
		res := c.CAS(ctx, invoke.Key, format(invoke.Expect), format(invoke.Value))
		done := completion(invoke, res)
		if done.Type == history.Fail && res.Mismatch {
			done.Error = checker.CASMismatchError + ": " + done.Error
		}
		return done
	}
	done := invoke
	done.Type, done.Error = history.Fail, "register workload cannot apply "+strconv.Quote(invoke.F)
	return done
}

// FinalReads reads every key that was written or cas'ed.
func (Register) FinalReads(h history.History) []history.Op {
	return readInvokes(touchedKeys(h, history.FWrite, history.FCAS))
}

// Checkers returns linearizability (register model), stats, availability
// and convergence.
func (Register) Checkers() []checker.Checker {
	return []checker.Checker{
		checker.Linearizability{Model: checker.ModelRegister},
		checker.Stats{},
		checker.Availability{},
		checker.Convergence{},
	}
}
