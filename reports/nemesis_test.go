package reports

import (
	"fmt"
	"hash/fnv"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

func TestFaultIntervals(t *testing.T) {
	halves := history.Fault{Kind: "partition", Shape: "halves", Targets: []string{"n1"},
		Grudge: map[string][]string{"n1": {"n3", "n2"}, "n2": {"n1"}, "n3": {"n1"}}}
	leader := history.Fault{Kind: "kill", Shape: "leader"} // target chosen when applied
	leaderDone := history.Fault{Kind: "kill", Shape: "leader", Targets: []string{"n2"}, Params: map[string]string{"apply_ms": "31"}}
	bump := history.Fault{Kind: "clock", Action: "bump", Targets: []string{"n3"}}
	bumpDone := history.Fault{Kind: "clock", Action: "bump", Targets: []string{"n3"}, ClockOffsetsMillis: map[string]int64{"n3": -1500}}
	loss := history.Fault{Kind: "loss", Targets: []string{"n1", "n2"}, LossPercent: 12.5}
	h := opsHistory(t,
		nem(100, history.Invoke, history.FStart, halves), nem(110, history.OK, history.FStart, halves),
		nem(500, history.Invoke, history.FStop, halves), nem(520, history.OK, history.FStop, halves),
		nem(600, history.Invoke, history.FStart, leader), nem(640, history.OK, history.FStart, leaderDone),
		nem(700, history.Invoke, history.FStop, leaderDone), history.Op{Time: 720, Type: history.Info, Process: history.NemesisProcess, F: history.FStop, Error: "start n2: timeout", Fault: &leaderDone},
		nem(800, history.Invoke, history.FStart, bump), nem(805, history.OK, history.FStart, bumpDone),
		nem(900, history.Invoke, history.FStart, loss), history.Op{Time: 901, Type: history.Info, Process: history.NemesisProcess, F: history.FStart, Error: "netem missing", Fault: &loss},
	)
	got := FaultIntervals(h)
	want := []FaultInterval{
		{Kind: "partition", Shape: "halves", Targets: []string{"n1"}, Start: 100, End: 520,
			Params: []Param{{"grudge", "n1 drops n2,n3; n2 drops n1; n3 drops n1"}}},
		{Kind: "kill", Shape: "leader", Targets: []string{"n2"}, Start: 600, End: 720,
			Params: []Param{{"apply_ms", "31"}}, Error: "stop info: start n2: timeout"},
		{Kind: "clock", Action: "bump", Targets: []string{"n3"}, Start: 800, End: math.MaxInt64,
			Params: []Param{{"clock offsets", "n3 -1500 ms"}}},
		{Kind: "loss", Targets: []string{"n1", "n2"}, Start: 900, End: math.MaxInt64,
			Params: []Param{{"loss", "12.5%"}}, Error: "start info: netem missing"},
	}
	assert.Equal(t, want, got)
	assert.Equal(t, "partition halves", got[0].Label())
	assert.Equal(t, "clock bump", got[2].Label())
	assert.Equal(t, "loss", got[3].Label())
	assert.True(t, got[0].Healed())
	assert.False(t, got[2].Healed())
	assert.Equal(t, int64(420), got[0].Duration(1000))
	assert.Equal(t, int64(200), got[2].Duration(1000), "an unhealed fault lasts until the end of the run")
}

func TestClockOffsets(t *testing.T) {
	bump := history.Fault{Kind: "clock", Action: "bump", ClockOffsetsMillis: map[string]int64{"n1": 200, "n2": -50}}
	reset := history.Fault{Kind: "clock", Action: "reset", ClockOffsetsMillis: map[string]int64{"n1": 0, "n2": 0}}
	h := opsHistory(t,
		inv(1, 0, history.FRead), done(2, 0, history.FRead, history.OK),
		nem(10, history.Invoke, history.FStart, history.Fault{Kind: "clock", Action: "bump"}), nem(12, history.OK, history.FStart, bump),
		nem(30, history.Invoke, history.FStop, bump), nem(33, history.OK, history.FStop, reset),
	)
	got := ClockOffsets(h)
	require.Len(t, got, 2)
	assert.Equal(t, ClockSeries{Node: "n1", Points: []ClockPoint{{0, 0}, {12, 200}, {30, 200}, {33, 0}}}, got[0])
	assert.Equal(t, ClockSeries{Node: "n2", Points: []ClockPoint{{0, 0}, {12, -50}, {30, -50}, {33, 0}}}, got[1])
	assert.Nil(t, ClockOffsets(h[:2]), "no clock fault, no series")
}

func TestSafeFileName(t *testing.T) {
	tests := []struct {
		key  string
		want string
	}{
		{"k1", "k1"},
		{"key-7_x.y", "key-7_x.y"},
		{"a/b", "a_b-" + fnvHex("a/b")},
		{"a_b", "a_b"},
		{"../../etc/passwd", "_.._etc_passwd-" + fnvHex("../../etc/passwd")},
		{".hidden", "hidden-" + fnvHex(".hidden")},
		{"", "key-" + fnvHex("")},
		{`<script>alert(1)</script>`, "_script_alert_1___script_-" + fnvHex(`<script>alert(1)</script>`)},
		{"ключ", "____-" + fnvHex("ключ")},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got := SafeFileName(tt.key)
			assert.Equal(t, tt.want, got)
			assert.NotContains(t, got, "/")
			assert.False(t, got == "" || got[0] == '.', "name %q must not be empty or hidden", got)
		})
	}
	long := SafeFileName(string(make([]byte, 200)))
	assert.LessOrEqual(t, len(long), maxSafeNameBytes+9)
	assert.NotEqual(t, SafeFileName("a/b"), SafeFileName("a_b"), "keys that sanitise alike get different names")
	assert.NotEqual(t, SafeFileName("a/b"), SafeFileName("a?b"))
}

func fnvHex(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return fmt.Sprintf("%08x", h.Sum32())
}
