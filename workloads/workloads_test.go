package workloads

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
)

func generate(w Workload, seed int64, opsPerKey, n int) []history.Op {
	g := w.NewGenerator(rand.New(rand.NewSource(seed)), opsPerKey)
	ops := make([]history.Op, n)
	for i := range ops {
		ops[i] = g.Next()
	}
	return ops
}

func TestGeneratorsAreDeterministic(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			w, err := ByName(name)
			require.NoError(t, err)
			a := generate(w, 7, 50, 1000)
			b := generate(w, 7, 50, 1000)
			assert.Equal(t, a, b)
			assert.NotEqual(t, a, generate(w, 8, 50, 1000))
		})
	}
}

func TestRegisterGenerator(t *testing.T) {
	const opsPerKey = 40
	ops := generate(Register{}, 1, opsPerKey, 10_000)
	perKey := map[string]int{}
	written := map[string]map[int64]bool{}
	values := map[int64]bool{}
	counts := map[string]int{}
	lastUse := map[string]int{}
	firstUse := map[string]int{}
	for i, op := range ops {
		assert.Equal(t, history.Invoke, op.Type)
		counts[op.F]++
		perKey[op.Key]++
		if _, ok := firstUse[op.Key]; !ok {
			firstUse[op.Key] = i
		}
		lastUse[op.Key] = i
		switch op.F {
		case history.FRead:
			assert.Nil(t, op.Value)
		case history.FCAS:
			require.NotNil(t, op.Expect)
			assert.True(t, written[op.Key][*op.Expect], "cas %d expects a value never written to %s", i, op.Key)
			fallthrough
		case history.FWrite:
			require.NotNil(t, op.Value)
			assert.False(t, values[*op.Value], "value %d written twice", *op.Value)
			values[*op.Value] = true
			if written[op.Key] == nil {
				written[op.Key] = map[int64]bool{}
			}
			written[op.Key][*op.Value] = true
		default:
			t.Fatalf("unexpected f %q", op.F)
		}
	}
	for k, n := range perKey {
		assert.LessOrEqual(t, n, opsPerKey, "key %s", k)
	}
	// At most registerActiveKeys keys are in use at any point.
	for i := range ops {
		active := 0
		for k := range perKey {
			if firstUse[k] <= i && i <= lastUse[k] {
				active++
			}
		}
		require.LessOrEqual(t, active, registerActiveKeys, "op %d", i)
	}
	assert.InDelta(t, 0.5, float64(counts[history.FRead])/float64(len(ops)), 0.03)
	assert.InDelta(t, 0.25, float64(counts[history.FCAS])/float64(len(ops)), 0.05)
	assert.Greater(t, len(perKey), 10_000/opsPerKey-1, "keys rotate")
}

func TestSetGenerator(t *testing.T) {
	const opsPerKey = 30
	ops := generate(Set{}, 3, opsPerKey, 5000)
	elements := map[int64]bool{}
	perKey := map[string]int{}
	appends := 0
	for _, op := range ops {
		perKey[op.Key]++
		switch op.F {
		case history.FAppend:
			appends++
			require.NotNil(t, op.Value)
			assert.False(t, elements[*op.Value])
			elements[*op.Value] = true
		case history.FRead:
			assert.Nil(t, op.Value)
		default:
			t.Fatalf("unexpected f %q", op.F)
		}
	}
	for k, n := range perKey {
		assert.LessOrEqual(t, n, opsPerKey, "key %s", k)
	}
	assert.InDelta(t, 0.75, float64(appends)/float64(len(ops)), 0.03)
}

func TestByName(t *testing.T) {
	assert.Equal(t, []string{"register", "set"}, Names())
	w, err := ByName("register")
	require.NoError(t, err)
	assert.Equal(t, checker.ModelRegister, w.Model())
	w, err = ByName("set")
	require.NoError(t, err)
	assert.Equal(t, checker.ModelList, w.Model())
	_, err = ByName("bank")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "register, set")
}

func TestCheckerSets(t *testing.T) {
	names := func(cs []checker.Checker) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name())
		}
		return out
	}
	assert.Equal(t, []string{"linearizability", "stats", "availability", "convergence"}, names(Register{}.Checkers()))
	assert.Equal(t, []string{"set", "linearizability", "stats", "availability", "convergence"}, names(Set{}.Checkers()))
	assert.Equal(t, checker.ModelList, Set{}.Checkers()[1].(checker.Linearizability).Model)
}

func TestFinalReads(t *testing.T) {
	h := history.History{
		{Type: history.Invoke, Process: 0, F: history.FWrite, Key: "r1", Value: history.IntPtr(1)},
		{Type: history.OK, Process: 0, F: history.FWrite, Key: "r1", Value: history.IntPtr(1)},
		{Type: history.Invoke, Process: 0, F: history.FRead, Key: "r9"},
		{Type: history.Invoke, Process: 1, F: history.FCAS, Key: "r0", Value: history.IntPtr(2), Expect: history.IntPtr(1)},
		{Type: history.Invoke, Process: 2, F: history.FWrite, Key: "r1", Value: history.IntPtr(3)},
		{Type: history.Invoke, Process: history.NemesisProcess, F: history.FStart},
		{Type: history.Invoke, Process: 3, F: history.FAppend, Key: "s0", Value: history.IntPtr(4)},
	}
	reads := Register{}.FinalReads(h)
	require.Len(t, reads, 2)
	assert.Equal(t, "r1", reads[0].Key)
	assert.Equal(t, "r0", reads[1].Key)
	for _, r := range reads {
		assert.Equal(t, history.FRead, r.F)
		assert.True(t, r.Final)
		assert.Equal(t, history.Invoke, r.Type)
	}
	sreads := Set{}.FinalReads(h)
	require.Len(t, sreads, 1)
	assert.Equal(t, "s0", sreads[0].Key)
}
