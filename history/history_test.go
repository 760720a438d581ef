package history

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func op(i int, t int64, typ Type, p Process, f string) Op {
	return Op{Index: i, Time: t, Type: typ, Process: p, F: f, Key: "k"}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		h       History
		wantErr string
	}{
		{"empty", nil, ""},
		{"invoke and ok", History{op(0, 1, Invoke, 0, FWrite), op(1, 2, OK, 0, FWrite)}, ""},
		{"unfinished invoke is allowed", History{op(0, 1, Invoke, 0, FWrite)}, ""},
		{"two processes interleave", History{
			op(0, 1, Invoke, 0, FWrite), op(1, 2, Invoke, 1, FRead),
			op(2, 3, OK, 1, FRead), op(3, 4, Fail, 0, FWrite),
		}, ""},
		{"overlapping ops of one process", History{
			op(0, 1, Invoke, 0, FWrite), op(1, 2, Invoke, 0, FRead),
		}, "still open"},
		{"completion without invoke", History{op(0, 1, OK, 0, FWrite)}, "no open invoke"},
		{"time goes backwards", History{op(0, 5, Invoke, 0, FWrite), op(1, 4, OK, 0, FWrite)}, "before the previous"},
		{"wrong index", History{op(1, 1, Invoke, 0, FWrite)}, "index is 1"},
		{"f mismatch", History{op(0, 1, Invoke, 0, FWrite), op(1, 2, OK, 0, FRead)}, "does not match"},
		{"invoke after info", History{
			op(0, 1, Invoke, 0, FWrite), op(1, 2, Info, 0, FWrite), op(2, 3, Invoke, 0, FRead),
		}, "retired"},
		{"unknown type", History{op(0, 1, "maybe", 0, FWrite)}, "unknown type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.h.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestPairs(t *testing.T) {
	h := History{
		op(0, 1, Invoke, 0, FWrite), op(1, 2, Invoke, 1, FRead),
		op(2, 3, OK, 1, FRead), op(3, 4, Info, 0, FWrite),
		op(4, 5, Invoke, 2, FCAS),
	}
	pairs := h.Pairs()
	require.Len(t, pairs, 3)
	assert.Equal(t, OK, pairs[1].Outcome())
	assert.Equal(t, int64(3), pairs[1].ReturnTime())
	assert.Equal(t, Info, pairs[0].Outcome())
	assert.Equal(t, int64(math.MaxInt64), pairs[0].ReturnTime(), "an info op returns at infinity")
	assert.Nil(t, pairs[2].Completion, "an unfinished op has no completion")
	assert.Equal(t, Info, pairs[2].Outcome(), "an unfinished op is indeterminate")
}

func TestFaultWindows(t *testing.T) {
	n := NemesisProcess
	part := &Fault{Kind: "partition"}
	kill := &Fault{Kind: "kill"}
	h := History{
		{Index: 0, Time: 10, Type: Invoke, Process: n, F: FStart, Fault: part},
		{Index: 1, Time: 11, Type: OK, Process: n, F: FStart, Fault: part},
		{Index: 2, Time: 20, Type: Invoke, Process: n, F: FStop, Fault: part},
		{Index: 3, Time: 22, Type: OK, Process: n, F: FStop, Fault: part},
		{Index: 4, Time: 30, Type: Invoke, Process: n, F: FStart, Fault: kill},
		{Index: 5, Time: 31, Type: OK, Process: n, F: FStart, Fault: kill},
	}
	w := h.FaultWindows()
	require.Len(t, w, 2)
	assert.Equal(t, "partition", w[0].Kind)
	assert.Equal(t, int64(10), w[0].Start)
	assert.Equal(t, int64(22), w[0].End)
	assert.Equal(t, "kill", w[1].Kind)
	assert.Equal(t, int64(math.MaxInt64), w[1].End, "a fault never healed lasts forever")
}

func TestProcessJSON(t *testing.T) {
	var buf bytes.Buffer
	h := History{
		{Index: 0, Time: 1, Type: Invoke, Process: 3, F: FWrite, Key: "a", Value: IntPtr(7)},
		{Index: 1, Time: 2, Type: Invoke, Process: NemesisProcess, F: FStart, Fault: &Fault{Kind: "kill", Targets: []string{"n1"}}},
	}
	require.NoError(t, Write(&buf, h))
	assert.Contains(t, buf.String(), `"process":"nemesis"`)
	assert.Contains(t, buf.String(), `"process":3`)
	got, err := Read(&buf)
	require.NoError(t, err)
	assert.Equal(t, h, got)
}

func TestReadErrors(t *testing.T) {
	header := `{"format":"faultline-history","version":1}` + "\n"
	good := `{"index":0,"time":1,"type":"invoke","process":0,"f":"read","key":"k"}` + "\n"
	tests := []struct {
		name    string
		in      string
		wantErr string
		wantOps int
	}{
		{"empty", "", "empty file", 0},
		{"no header", good, "not a faultline-history header", 0},
		{"future version", `{"format":"faultline-history","version":9}` + "\n", "version 9", 0},
		{"malformed middle line", header + good + "{not json}\n" + good, "line 3", 0},
		{"unknown type", header + `{"index":0,"time":1,"type":"maybe","process":0,"f":"read"}` + "\n", "line 2: unknown type", 0},
		{"bad process", header + `{"index":0,"time":1,"type":"ok","process":"x","f":"read"}` + "\n", "line 2", 0},
		{"torn last line is ignored", header + good + `{"index":1,"ti`, "", 1},
		{"header only", header, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Read(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrMalformed)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Len(t, h, tt.wantOps)
		})
	}
}

func TestRecorderWritesIncrementally(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	r, err := NewRecorder(path)
	require.NoError(t, err)
	a := r.Record(Op{Type: Invoke, Process: 0, F: FRead, Key: "k"})
	b := r.Record(Op{Type: OK, Process: 0, F: FRead, Key: "k"})
	assert.Equal(t, 0, a.Index)
	assert.Equal(t, 1, b.Index)
	assert.LessOrEqual(t, a.Time, b.Time)

	// Readable before Close: a crashed run still leaves its history.
	h, err := ReadFile(path)
	require.NoError(t, err)
	require.Len(t, h, 2)
	require.NoError(t, h.Validate())
	require.NoError(t, r.Close())
	assert.Equal(t, r.History(), h)
}
