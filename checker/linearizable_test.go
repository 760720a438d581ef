package checker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

const (
	ok   = history.OK
	fail = history.Fail
	info = history.Info
)

func TestLinearizabilityRegister(t *testing.T) {
	tests := []struct {
		name    string
		h       *builder
		timeout time.Duration
		want    Verdict
		reason  string
	}{
		{"sequential write then read", new(builder).write(0, "k", 1, ok).read(1, "k", v(1)), 0, Valid, ""},
		{"read of an absent key", new(builder).read(0, "k", nil).write(0, "k", 1, ok), 0, Valid, ""},
		{"stale read after a newer read", new(builder).
			write(0, "k", 1, ok).write(0, "k", 2, ok).read(1, "k", v(2)).read(2, "k", v(1)), 0, Invalid, `"k"`},
		{"lost acknowledged write", new(builder).
			write(0, "k", 1, ok).write(1, "k", 2, ok).read(2, "k", v(1)), 0, Invalid, ""},
		{"read of a value never written", new(builder).write(0, "k", 1, ok).read(1, "k", v(99)), 0, Invalid, ""},
		{"read absent after an acknowledged write", new(builder).write(0, "k", 1, ok).read(1, "k", nil), 0, Invalid, ""},
		{"cas applied twice from the same expected value", new(builder).
			write(0, "k", 1, ok).cas(1, "k", 1, 2, ok, "").cas(2, "k", 1, 3, ok, ""), 0, Invalid, ""},
		{"cas applied again after a later write", new(builder).
			write(0, "k", 1, ok).cas(1, "k", 1, 2, ok, "").write(0, "k", 3, ok).read(2, "k", v(2)), 0, Invalid, ""},
		{"cas chain", new(builder).
			write(0, "k", 1, ok).cas(1, "k", 1, 2, ok, "").cas(2, "k", 2, 3, ok, "").read(0, "k", v(3)), 0, Valid, ""},
		{"indeterminate write that later became visible", new(builder).
			write(0, "k", 1, ok).write(1, "k", 2, info).read(2, "k", v(1)).read(2, "k", v(2)), 0, Valid, ""},
		{"indeterminate write never visible", new(builder).
			write(0, "k", 1, ok).write(1, "k", 2, info).read(2, "k", v(1)).read(2, "k", v(1)), 0, Valid, ""},
		{"indeterminate write visible then gone", new(builder).
			write(0, "k", 1, ok).write(1, "k", 2, info).read(2, "k", v(2)).read(2, "k", v(1)), 0, Invalid, ""},
		{"failed write is not applied", new(builder).write(0, "k", 1, fail).read(1, "k", v(1)), 0, Invalid, ""},
		{"failed write ignored", new(builder).write(0, "k", 1, ok).write(0, "k", 2, fail).read(1, "k", v(1)), 0, Valid, ""},
		{"indeterminate cas applied", new(builder).
			write(0, "k", 1, ok).cas(1, "k", 1, 2, info, "timeout").read(2, "k", v(2)), 0, Valid, ""},
		{"indeterminate cas cannot apply on a mismatch", new(builder).
			write(0, "k", 1, ok).cas(1, "k", 5, 2, info, "timeout").read(2, "k", v(2)), 0, Invalid, ""},
		{"cas mismatch while the value matched", new(builder).
			write(0, "k", 1, ok).cas(1, "k", 1, 2, fail, CASMismatchError+": 412").read(2, "k", v(1)), 0, Invalid, ""},
		{"cas mismatch on another value", new(builder).
			write(0, "k", 1, ok).cas(1, "k", 7, 2, fail, CASMismatchError+": 412").read(2, "k", v(1)), 0, Valid, ""},
		{"cas failed without evidence is dropped", new(builder).
			write(0, "k", 1, ok).cas(1, "k", 1, 2, fail, "no leader").read(2, "k", v(1)), 0, Valid, ""},
		{"concurrent write and read see the new value", new(builder).
			write(0, "k", 1, ok).
			invoke(0, history.FWrite, "k", v(2), nil).invoke(1, history.FRead, "k", nil, nil).
			complete(1, ok, history.FRead, "k", v(2)).complete(0, ok, history.FWrite, "k", v(2)), 0, Valid, ""},
		{"a cut-short history: unfinished write is indeterminate", new(builder).
			write(0, "k", 1, ok).invoke(1, history.FWrite, "k", v(2), nil).read(2, "k", v(2)), 0, Valid, ""},
		{"keys are independent", new(builder).write(0, "a", 1, ok).write(0, "b", 2, ok).read(1, "a", v(1)).read(1, "b", v(2)), 0, Valid, ""},
		{"nemesis ops are ignored", new(builder).fault("partition", true).write(0, "k", 1, ok).fault("partition", false).read(1, "k", v(1)), 0, Valid, ""},
		{"overlapping ops from one process are malformed", new(builder).
			invoke(0, history.FWrite, "k", v(1), nil).invoke(0, history.FRead, "k", nil, nil).complete(0, ok, history.FRead, "k", nil),
			0, Unknown, "malformed"},
		{"timeout gives unknown, never valid", new(builder).write(0, "k", 1, ok).read(1, "k", v(1)), time.Nanosecond, Unknown, "timeout"},
		{"nothing to check", new(builder).
			invoke(0, history.FRead, "k", nil, nil).complete(0, fail, history.FRead, "k", nil).write(0, "k", 1, fail), 0, Unknown, "no register operations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Linearizability{Model: ModelRegister}.Check(context.Background(), Input{History: tt.h.h, CheckTimeout: tt.timeout})
			assert.Equal(t, tt.want, r.Verdict, r.Reason)
			assert.Contains(t, r.Reason, tt.reason)
			if tt.want == Invalid {
				d := r.Details.(*LinearizabilityDetails)
				require.NotEmpty(t, d.FailingKeys)
				assert.Equal(t, 1, d.FailingKeyCount)
				assert.Equal(t, "k", d.FailingKeys[0].Key)
				assert.Greater(t, d.FailingKeys[0].Ops, d.FailingKeys[0].LongestLinearizable)
			}
		})
	}
}

func TestLinearizabilityList(t *testing.T) {
	tests := []struct {
		name string
		h    *builder
		want Verdict
	}{
		{"appends then read", new(builder).appendOp(0, "s", 1, ok).appendOp(1, "s", 2, ok).readList(2, "s", false, 1, 2), Valid},
		{"empty read first", new(builder).readList(2, "s", false).appendOp(0, "s", 1, ok).readList(2, "s", false, 1), Valid},
		{"acknowledged append missing", new(builder).appendOp(0, "s", 1, ok).appendOp(1, "s", 2, ok).readList(2, "s", false, 1), Invalid},
		{"wrong order", new(builder).appendOp(0, "s", 1, ok).appendOp(1, "s", 2, ok).readList(2, "s", false, 2, 1), Invalid},
		{"indeterminate append appears", new(builder).appendOp(0, "s", 1, ok).appendOp(1, "s", 2, info).readList(2, "s", true, 1, 2), Valid},
		{"failed append appears", new(builder).appendOp(0, "s", 1, ok).appendOp(1, "s", 2, fail).readList(2, "s", true, 1, 2), Invalid},
		{"read shrinks", new(builder).appendOp(0, "s", 1, ok).readList(2, "s", false, 1).readList(3, "s", false), Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Linearizability{Model: ModelList}.Check(context.Background(), Input{History: tt.h.h})
			assert.Equal(t, tt.want, r.Verdict, r.Reason)
		})
	}
}

func TestLinearizabilityUnknownModel(t *testing.T) {
	r := Linearizability{Model: "queue"}.Check(context.Background(), Input{History: new(builder).write(0, "k", 1, ok).h})
	assert.Equal(t, Unknown, r.Verdict)
	assert.Contains(t, r.Reason, "unknown model")
}

func TestLinearizabilityBoundsFailingKeys(t *testing.T) {
	b := new(builder)
	for i := 0; i < 30; i++ {
		key := string(rune('A' + i))
		b.write(0, key, int64(i), ok).read(1, key, v(1000+int64(i)))
	}
	r := Linearizability{Model: ModelRegister, MaxFailingKeys: 5}.Check(context.Background(), Input{History: b.h})
	require.Equal(t, Invalid, r.Verdict)
	d := r.Details.(*LinearizabilityDetails)
	assert.Len(t, d.FailingKeys, 5)
	assert.Equal(t, 30, d.FailingKeyCount)
	assert.Equal(t, 30, d.KeysChecked)
	assert.Equal(t, 60, d.OpsChecked)
}

func TestVisualizeKey(t *testing.T) {
	b := new(builder).write(0, "k", 1, ok).fault("partition", true).write(1, "k", 2, ok).read(2, "k", v(1)).fault("partition", false)
	path := filepath.Join(t.TempDir(), "k.html")
	require.NoError(t, VisualizeKey(b.h, ModelRegister, "k", path))
	html, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(html)
	assert.Contains(t, s, "partition n1")
	assert.Contains(t, s, "write(2)")
	assert.Contains(t, s, "read() → 1")

	err = VisualizeKey(b.h, ModelRegister, "missing", path)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "no register operations"))
	require.Error(t, VisualizeKey(b.h, "queue", "k", path))
}

// TestLinearizabilitySearchTimeout builds one key whose search space is
// exponential (many fully concurrent writes and reads, plus a read of a value
// never written that can only be rejected after trying every order) and
// checks that running out of time is unknown, never valid.
func TestLinearizabilitySearchTimeout(t *testing.T) {
	b := explodingRegisterKey(new(builder), "k")
	start := time.Now()
	r := Linearizability{Model: ModelRegister}.Check(context.Background(), Input{History: b.h, CheckTimeout: 300 * time.Millisecond})
	assert.Equal(t, Unknown, r.Verdict, r.Reason)
	assert.Contains(t, r.Reason, "did not finish")
	assert.Less(t, time.Since(start), 5*time.Second)
	d := r.Details.(*LinearizabilityDetails)
	assert.Equal(t, []string{"k"}, d.TimedOutKeys)
}
