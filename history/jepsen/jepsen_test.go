package jepsen

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

// The histories in these tests are written by hand in the format Jepsen
// writes; the recorded ones are under history/testdata/jepsen.

func read(t *testing.T, workload, text string) Import {
	t.Helper()
	imp, err := Read(strings.NewReader(text), workload)
	require.NoError(t, err)
	require.NoError(t, imp.History.Validate())
	return imp
}

func TestReadRegister(t *testing.T) {
	imp := read(t, WorkloadRegister, `[{:process 0, :type :invoke, :f :write, :value 1}
 {:process 0, :type :ok, :f :write, :value 1}
 {:process 1, :type :invoke, :f :cas, :value [1 2]}
 {:process 2, :type :invoke, :f :read, :value nil}
 {:process 1, :type :fail, :f :cas, :value [1 2], :error :timeout}
 {:process 2, :type :ok, :f :read, :value 1}
 {:process 3, :type :invoke, :f :read, :value nil}
 {:process 3, :type :ok, :f :read, :value nil}
 {:process 4, :type :invoke, :f :write, :value 5}
 {:process 4, :type :info, :f :write, :value 5, :error "connection reset"}]`)
	h := imp.History
	require.Len(t, h, 10)
	assert.False(t, imp.Independent)
	for i, op := range h {
		assert.Equal(t, i, op.Index)
		assert.Equal(t, int64(i)*PositionStep, op.Time, "no :time: the position, in ms")
		assert.Equal(t, WorkloadRegister, op.Key, "one register: the workload's key")
	}
	assert.Equal(t, history.Op{Index: 1, Time: PositionStep, Type: history.OK, Process: 0, F: history.FWrite, Key: "register", Value: history.IntPtr(1)}, h[1])
	cas := h[4]
	assert.Equal(t, history.Fail, cas.Type)
	assert.Equal(t, int64(1), *cas.Expect, "a completion takes the invoke's arguments")
	assert.Equal(t, int64(2), *cas.Value)
	assert.Equal(t, ":timeout", cas.Error, "a non-string :error is kept as EDN")
	assert.Equal(t, int64(1), *h[5].Value, "an ok read's value")
	assert.Nil(t, h[7].Value, "a read of nil is the absent register")
	assert.Equal(t, history.Info, h[9].Type)
	assert.Equal(t, "connection reset", h[9].Error)
	assert.Equal(t, []string{"the ops have no :time; op i is placed at i ms, in file order"}, imp.Notes)
}

func TestReadIndependentKeys(t *testing.T) {
	imp := read(t, WorkloadRegister, `{:process 0, :type :invoke, :f :write, :value [7 3], :time 10}
{:process 1, :type :invoke, :f :read, :value [8 nil], :time 11}
{:process 0, :type :ok, :f :write, :value [7 3], :time 12}
{:process 1, :type :ok, :f :read, :value [8 nil], :time 13}
{:process 2, :type :invoke, :f :cas, :value [7 [3 4]], :time 14}
{:process 2, :type :ok, :f :cas, :value [7 [3 4]], :time 15}
{:process 3, :type :invoke, :f :read, :value [:x nil], :time 16}
{:process 3, :type :fail, :f :read, :value nil, :time 17}
`)
	h := imp.History
	assert.True(t, imp.Independent)
	assert.Equal(t, []string{"7", "8", "7", "8", "7", "7", ":x", ":x"}, keysOf(h))
	assert.Equal(t, int64(3), *h[0].Value)
	assert.Nil(t, h[3].Value)
	assert.Equal(t, int64(3), *h[4].Expect)
	assert.Equal(t, int64(4), *h[4].Value)
	assert.Equal(t, int64(16), h[6].Time, ":time is kept")
	assert.Empty(t, imp.Notes)
}

func keysOf(h history.History) []string {
	keys := make([]string, len(h))
	for i, op := range h {
		keys[i] = op.Key
	}
	return keys
}

func TestReadSet(t *testing.T) {
	imp := read(t, WorkloadSet, `[{:process 0, :type :invoke, :f :add, :value 1}
 {:process 0, :type :ok, :f :add, :value 1}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process 1, :type :ok, :f :read, :value #{1}}
 {:process 0, :type :invoke, :f :add, :value 2}
 {:process 0, :type :info, :f :add, :value 2}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process 1, :type :ok, :f :read, :value #{3 1 2}}]`)
	h := imp.History
	assert.Equal(t, history.FAppend, h[0].F, ":add is an append of a unique element")
	assert.Equal(t, int64(1), *h[1].Value)
	assert.Equal(t, []int64{1}, h[3].List)
	assert.Equal(t, []int64{1, 2, 3}, h[7].List, "a set read is sorted")
	assert.False(t, h[3].Final, "an earlier read is not the final read")
	assert.True(t, h[6].Final, "the last ok read of a key is its final read (invoke)")
	assert.True(t, h[7].Final, "the last ok read of a key is its final read (completion)")
	assert.Contains(t, imp.Notes, "the last ok :read of each key is its final read, as Jepsen's set checker takes it")
}

func TestReadNemesis(t *testing.T) {
	imp := read(t, WorkloadRegister, `[{:process :nemesis, :type :info, :f :start-partition, :value :majority, :time 1}
 {:process :nemesis, :type :info, :f :start-partition, :value [:isolated {"n1" #{"n2"}}], :time 2}
 {:process 0, :type :invoke, :f :write, :value 1, :time 3}
 {:process :nemesis, :type :info, :f :kill, :value :primaries, :time 4}
 {:process :nemesis, :type :info, :f :kill, :value {"n1" :killed}, :time 5}
 {:process 0, :type :ok, :f :write, :value 1, :time 6}
 {:process :nemesis, :type :info, :f :stop-partition, :value nil, :time 7}
 {:process :nemesis, :type :info, :f :stop-partition, :value :network-healed, :time 8}
 {:process :nemesis, :type :invoke, :f :start, :value nil, :time 9}
 {:process :nemesis, :type :info, :f :start, :value nil, :time 10}]`)
	h := imp.History
	require.Len(t, h, 6, "the :kill ops are dropped; :start is not a fault when :kill is present")
	assert.Equal(t, []string{"dropped 4 nemesis ops that do not map to a fault window (:kill ×2, :start ×2); faultline maps :start/:stop, :start-X/:stop-X and :pause/:resume"}, imp.Notes)
	start, started, stop := h[0], h[1], h[4]
	assert.Equal(t, history.NemesisProcess, start.Process)
	assert.Equal(t, history.Invoke, start.Type, "the first :info of a nemesis op is its invoke")
	assert.Equal(t, history.OK, started.Type, "the second is its completion")
	assert.Equal(t, history.FStart, start.F)
	assert.Equal(t, history.FStop, stop.F)
	assert.Equal(t, "partition", start.Fault.Kind)
	assert.Equal(t, "start-partition", start.Fault.Action)
	assert.Equal(t, `[:isolated {"n1" #{"n2"}}]`, started.Fault.Params["value"])
	windows := h.FaultWindows()
	require.Len(t, windows, 1)
	assert.Equal(t, int64(1), windows[0].Start)
	assert.Equal(t, int64(8), windows[0].End)
}

func TestReadClassicNemesis(t *testing.T) {
	imp := read(t, WorkloadRegister, `[{:process :nemesis, :type :info, :f :start, :value nil}
 {:process :nemesis, :type :info, :f :start, :value "Cut off [:n1]"}
 {:process :nemesis, :type :info, :f :stop, :value nil}
 {:process :nemesis, :type :info, :f :stop, :value "fully connected"}
 {:process :nemesis, :type :info, :f :pause, :value nil}
 {:process :nemesis, :type :info, :f :pause, :value nil}
 {:process :nemesis, :type :info, :f :resume, :value nil}
 {:process :nemesis, :type :info, :f :resume, :value nil}]`)
	windows := imp.History.FaultWindows()
	require.Len(t, windows, 2)
	assert.Equal(t, NemesisKind, windows[0].Kind)
	assert.Equal(t, "Cut off [:n1]", imp.History[1].Fault.Params["value"], "a string value is kept as its text")
	assert.Equal(t, "pause", windows[1].Kind)
}

func TestReadTimes(t *testing.T) {
	imp := read(t, WorkloadRegister, `{:process 0, :type :invoke, :f :read, :value nil, :time 100}
{:process 1, :type :invoke, :f :read, :value nil, :time 90}
{:process 1, :type :ok, :f :read, :value nil, :time 90}
{:process 0, :type :ok, :f :read, :value nil, :time 200}`)
	times := []int64{}
	for _, op := range imp.History {
		times = append(times, op.Time)
	}
	assert.Equal(t, []int64{100, 101, 102, 200}, times, "file order wins; times only move forward")
	assert.Equal(t, []string{"2 ops had a :time before the op above them; each was moved to 1 ns after it, keeping the file's order (which is what Jepsen's checkers go by)"}, imp.Notes)
}

func TestReadTaggedOps(t *testing.T) {
	imp := read(t, WorkloadRegister, `#jepsen.history.Op{:index 0, :time 5, :type :invoke, :process 0, :f :read, :value nil}
#jepsen.history.Op{:index 1, :time 6, :type :ok, :process 0, :f :read, :value 2}`)
	require.Len(t, imp.History, 2)
	assert.Equal(t, int64(2), *imp.History[1].Value)
}

func TestReadErrors(t *testing.T) {
	const inv = `{:process 0, :type :invoke, :f :read, :value nil}` + "\n"
	tests := []struct {
		name     string
		workload string
		text     string
		want     []string
	}{
		{"empty", WorkloadRegister, "; nothing\n", []string{"no ops"}},
		{"not EDN", WorkloadRegister, "[{:type :invoke", []string{"line 1", "never closed"}},
		{"not an op", WorkloadRegister, "[1 2]", []string{"line 1: op 0 is a integer (1)"}},
		{"two collections", WorkloadRegister, "[]\n[]", []string{"line 2: a vector after the history's collection"}},
		{"a vector among op maps", WorkloadRegister, inv + "[1]", []string{"line 2: a vector ([1]) where an op map"}},
		{"bad type", WorkloadRegister, `[{:process 0, :type :pending, :f :read}]`, []string{"line 1: :type is :pending", ":invoke, :ok, :fail or :info"}},
		{"bad process", WorkloadRegister, `[{:process "a", :type :invoke, :f :read}]`, []string{`:process is "a"`, "non-negative integer or :nemesis"}},
		{"no f", WorkloadRegister, `[{:process 0, :type :invoke}]`, []string{"line 1: :f is nil"}},
		{"unknown register f", WorkloadRegister, `[{:process 0, :type :invoke, :f :txn, :value [[:r 1 nil]]}]`,
			[]string{"line 1: :f :txn is not a register operation", "faultline reads :read, :write and :cas for --workload register", ":add and :read for --workload set"}},
		{"register op in a set history", WorkloadSet, `[{:process 0, :type :invoke, :f :write, :value 1}]`,
			[]string{":f :write is not a set operation", ":add and :read for --workload set"}},
		{"write of a string", WorkloadRegister, `[{:process 0, :type :invoke, :f :write, :value "x"}]`, []string{`a :write's value is "x"; faultline reads integers there`}},
		{"cas of one value", WorkloadRegister, `[{:process 0, :type :invoke, :f :cas, :value 3}]`, []string{"a :cas's value is 3", "[expected new]"}},
		{"list-append", WorkloadSet, `[{:process 0, :type :invoke, :f :append, :value [:x 1]}]`, []string{"line 1: :f :append is Jepsen's list-append (Elle) workload"}},
		{"read of a map", WorkloadSet, inv + `{:process 0, :type :ok, :f :read, :value {:a 1}}`, []string{"line 2: a set :read's value is {:a 1}"}},
		{"completion without invoke", WorkloadRegister, `{:process 0, :type :ok, :f :read, :value 1}`, []string{"line 1: :ok completion of process 0, which has no :invoke open"}},
		{"overlapping ops", WorkloadRegister, inv + inv, []string{"line 2: process 0 invokes :read while its :read from line 1 has not completed"}},
		{"f mismatch", WorkloadRegister, inv + `{:process 0, :type :ok, :f :write, :value 1}`, []string{"line 2: :ok completion has :f :write but the :invoke on line 1 has :f :read"}},
		{"invoke after info", WorkloadRegister, inv + `{:process 0, :type :info, :f :read}` + "\n" + inv, []string{"line 3: process 0 invokes :read after it saw an :info"}},
		{"mixed tuples", WorkloadRegister, inv + `{:process 1, :type :invoke, :f :write, :value [1 2]}`, []string{"line 2: :value [1 2] is a [key value] tuple, but earlier ops are not"}},
		{"mixed times", WorkloadRegister, `{:process 0, :type :invoke, :f :read, :time 5}` + "\n" + `{:process 0, :type :ok, :f :read}`, []string{"line 2: this op has no :time but the first op has one"}},
		{"other tags", WorkloadRegister, `#my.Op{:process 0, :type :invoke, :f :read}`, []string{"line 1: op 0 is tagged #my.Op"}},
		{"nemesis overlap", WorkloadRegister, `{:process :nemesis, :type :info, :f :start, :value nil}
{:process :nemesis, :type :info, :f :stop, :value nil}`, []string{"line 2: nemesis :stop begins while nemesis :start from line 1 has not completed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.text), tt.workload)
			require.Error(t, err)
			assert.True(t, errors.Is(err, history.ErrMalformed), "%v", err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestReadUnknownWorkload(t *testing.T) {
	_, err := Read(strings.NewReader(""), "bank")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `workload "bank": Jepsen histories are read for "register" or "set"`)
}
