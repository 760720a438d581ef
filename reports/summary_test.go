package reports

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

func TestQuantile(t *testing.T) {
	hundred := make([]int64, 100)
	for i := range hundred {
		hundred[i] = int64(i + 1)
	}
	tests := []struct {
		name   string
		sorted []int64
		q      float64
		want   int64
	}{
		{"empty", nil, 0.5, 0},
		{"single", []int64{7}, 0.99, 7},
		{"median of odd", []int64{1, 2, 3}, 0.5, 2},
		{"median of even is the lower", []int64{1, 2, 3, 4}, 0.5, 2},
		{"p95 of 1..100", hundred, 0.95, 95},
		{"p99 of 1..100", hundred, 0.99, 99},
		{"max", hundred, 1, 100},
		{"tiny q is the minimum", hundred, 0.001, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Quantile(tt.sorted, tt.q))
		})
	}
}

func TestQuantilesOfSortsAndSummarises(t *testing.T) {
	ms := int64(time.Millisecond)
	lat := []int64{50 * ms, 1 * ms, 3 * ms, 2 * ms, 4 * ms, 5 * ms, 6 * ms, 7 * ms, 8 * ms, 9 * ms}
	q := QuantilesOf(lat)
	assert.Equal(t, Quantiles{Count: 10, P50: 5 * time.Millisecond, P95: 50 * time.Millisecond,
		P99: 50 * time.Millisecond, Max: 50 * time.Millisecond}, q)
	assert.Equal(t, Quantiles{}, QuantilesOf(nil))
}

// opsHistory builds a well-formed history from (time, process, type, f)
// records; nemesis records carry a fault of the given kind in f's place.
func opsHistory(t *testing.T, recs ...history.Op) history.History {
	t.Helper()
	h := history.History(recs)
	for i := range h {
		h[i].Index = i
	}
	require.NoError(t, h.Validate())
	return h
}

func inv(at int64, p history.Process, f string) history.Op {
	return history.Op{Time: at, Type: history.Invoke, Process: p, F: f, Key: "k"}
}

func done(at int64, p history.Process, f string, typ history.Type) history.Op {
	return history.Op{Time: at, Type: typ, Process: p, F: f, Key: "k"}
}

func nem(at int64, typ history.Type, f string, fault history.Fault) history.Op {
	return history.Op{Time: at, Type: typ, Process: history.NemesisProcess, F: f, Fault: &fault}
}

func TestPhaseOf(t *testing.T) {
	windows := []history.Window{{Kind: "partition", Start: 10, End: 20}, {Kind: "kill", Start: 30, End: math.MaxInt64}}
	tests := []struct {
		name string
		op   history.Op
		want Phase
	}{
		{"before the first fault", history.Op{Time: 5}, PhaseBefore},
		{"at a window's start", history.Op{Time: 10}, PhaseDuring},
		{"at a window's end", history.Op{Time: 20}, PhaseDuring},
		{"between faults", history.Op{Time: 25}, PhaseBetween},
		{"in a window never healed", history.Op{Time: 1000}, PhaseDuring},
		{"final read wins", history.Op{Time: 15, Final: true}, PhaseFinal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, PhaseOf(tt.op, windows))
		})
	}
	assert.Equal(t, PhaseBefore, PhaseOf(history.Op{Time: 99}, nil), "no faults: everything is before")
}

func TestCountOpsAndLatencyTable(t *testing.T) {
	part := history.Fault{Kind: "partition"}
	final := done(95, 2, history.FRead, history.OK)
	finalInv := inv(90, 2, history.FRead)
	finalInv.Final, final.Final = true, true
	h := opsHistory(t,
		inv(0, 0, history.FWrite), done(4, 0, history.FWrite, history.OK),
		inv(5, 1, history.FRead), done(6, 1, history.FRead, history.OK),
		nem(10, history.Invoke, history.FStart, part), nem(11, history.OK, history.FStart, part),
		inv(12, 0, history.FWrite),
		inv(13, 1, history.FRead), done(15, 1, history.FRead, history.Fail),
		inv(16, 1, history.FCAS),
		done(40, 0, history.FWrite, history.Info),
		nem(50, history.Invoke, history.FStop, part), nem(52, history.OK, history.FStop, part),
		inv(60, 3, history.FRead), done(70, 3, history.FRead, history.OK),
		finalInv, final,
	)
	pairs := h.ClientPairs()
	got := CountOps(pairs, h.FaultWindows())
	assert.Equal(t, []Phase{PhaseBefore, PhaseDuring, PhaseBetween, PhaseFinal}, got.Phases)
	want := []CountRow{
		{F: "read", Total: Counts{OK: 3, Fail: 1}, ByPhase: []Counts{{OK: 1}, {Fail: 1}, {OK: 1}, {OK: 1}}},
		{F: "write", Total: Counts{OK: 1, Info: 1}, ByPhase: []Counts{{OK: 1}, {Info: 1}, {}, {}}},
		{F: "cas", Total: Counts{Info: 1}, ByPhase: []Counts{{}, {Info: 1}, {}, {}}},
		{F: "all", Total: Counts{OK: 4, Fail: 1, Info: 2}, ByPhase: []Counts{{OK: 2}, {Fail: 1, Info: 2}, {OK: 1}, {OK: 1}}},
	}
	assert.Equal(t, want, got.Rows)
	assert.Equal(t, 7, got.Rows[len(got.Rows)-1].Total.Total())

	rows := LatencyTable(pairs)
	require.Len(t, rows, 4, "read ok, read fail, write ok, write info; the unfinished cas has no latency")
	assert.Equal(t, LatencyRow{F: "read", Result: history.OK, Quantiles: Quantiles{Count: 3, P50: 5, P95: 10, P99: 10, Max: 10}}, rows[0])
	assert.Equal(t, LatencyRow{F: "read", Result: history.Fail, Quantiles: Quantiles{Count: 1, P50: 2, P95: 2, P99: 2, Max: 2}}, rows[1])
	assert.Equal(t, history.Type(history.Info), rows[3].Result)
	assert.Equal(t, time.Duration(28), rows[3].Max)
}

func TestLatencyOverTimeAndThroughput(t *testing.T) {
	h := opsHistory(t,
		inv(0, 0, history.FWrite), done(4, 0, history.FWrite, history.OK),
		inv(5, 1, history.FRead), done(9, 1, history.FRead, history.OK),
		inv(25, 0, history.FWrite), done(31, 0, history.FWrite, history.Fail),
	)
	pairs := h.ClientPairs()
	slots := LatencyOverTime(pairs, 10)
	require.Len(t, slots, 2, "the empty window 10-20 is skipped")
	assert.Equal(t, int64(0), slots[0].Start)
	assert.Equal(t, Quantiles{Count: 2, P50: 4, P95: 4, P99: 4, Max: 4}, slots[0].Quantiles)
	assert.Equal(t, int64(20), slots[1].Start)

	rates := Throughput(pairs, 10, 31)
	assert.Equal(t, []RateSlot{
		{F: "read", Result: history.OK, Counts: []int{1, 0, 0, 0}},
		{F: "write", Result: history.OK, Counts: []int{1, 0, 0, 0}},
		{F: "write", Result: history.Fail, Counts: []int{0, 0, 0, 1}},
	}, rates)
}

func TestTimeSlot(t *testing.T) {
	assert.Equal(t, int64(100*time.Millisecond), timeSlot(int64(5*time.Second)))
	assert.Equal(t, int64(time.Second), timeSlot(int64(30*time.Second)))
	assert.Equal(t, int64(10*time.Second), timeSlot(int64(5*time.Minute)), "5 s would give 60 windows, one too many")
	assert.LessOrEqual(t, int64(100*time.Hour)/timeSlot(int64(100*time.Hour)), int64(targetTimeSlots))
}
