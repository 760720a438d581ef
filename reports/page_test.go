package reports

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
)

func TestBuildFindings(t *testing.T) {
	part := history.Fault{Kind: "partition", Shape: "halves", Targets: []string{"n1", "n2"}}
	appendOp := func(at int64, p history.Process, key string, v int64) history.Op {
		return history.Op{Time: at, Type: history.Invoke, Process: p, F: history.FAppend, Key: key, Value: history.IntPtr(v)}
	}
	appendDone := func(at int64, p history.Process, key string, v int64) history.Op {
		return history.Op{Time: at, Type: history.OK, Process: p, F: history.FAppend, Key: key, Value: history.IntPtr(v)}
	}
	h := opsHistory(t,
		appendOp(1e9, 0, "s1", 1), appendDone(1.1e9, 0, "s1", 1),
		nem(2e9, history.Invoke, history.FStart, part), nem(2.1e9, history.OK, history.FStart, part),
		appendOp(3e9, 0, "s1", 2), appendDone(3.1e9, 0, "s1", 2),
		appendOp(4e9, 0, "s1", 3), appendDone(4.1e9, 0, "s1", 3),
		nem(6e9, history.Invoke, history.FStop, part), nem(6.1e9, history.OK, history.FStop, part),
	)
	faults := FaultIntervals(h)
	run := &Run{Dir: "store/t/1", History: h, Results: &checker.Results{Verdict: checker.Invalid, Checkers: []checker.Result{
		{Checker: "set", Verdict: checker.Invalid, Reason: "2 lost", Details: checker.SetDetails{
			Lost: checker.ElementList{Count: 2, Elements: []int64{2, 3}}}},
		{Checker: "linearizability", Verdict: checker.Invalid, Reason: "1 key", Details: &checker.LinearizabilityDetails{
			FailingKeyCount: 1, FailingKeys: []checker.FailingKey{{Key: "s1", Ops: 6, LongestLinearizable: 4, StartTime: 1e9, EndTime: 1.1e9}}}},
		{Checker: "convergence", Verdict: checker.Unknown, Reason: "could not read the state of n3 after healing"},
		{Checker: "stats", Verdict: checker.Valid, Reason: "fine"},
	}}}
	got := buildFindings(run, faults, map[string]keyVisual{"s1": {Path: "linear/s1.html"}})
	require.Len(t, got, 3, "one line per problem; valid checkers say nothing")
	assert.Equal(t, finding{Checker: "set", What: "2 acknowledged elements were lost: 2, 3.", Key: "s1",
		When: "appended 3.000 s to 4.000 s", Faults: "partition halves on n1,n2 (2.000 s to 6.100 s)"}, got[0])
	assert.Equal(t, finding{Checker: "linearizability", What: "6 operations are not linearizable (the longest linearizable prefix has 4).",
		Key: "s1", KeyLink: "linear/s1.html", When: "1.000 s to 1.100 s"}, got[1], "before the partition: no fault")
	assert.Equal(t, finding{Checker: "convergence", What: "could not read the state of n3 after healing."}, got[2])

	unchecked := buildFindings(&Run{Dir: "store/t/1"}, nil, nil)
	require.Len(t, unchecked, 1)
	assert.Contains(t, unchecked[0].What, "faultline check store/t/1")
}

func TestFlattenOptionsShowsDurations(t *testing.T) {
	var rows []Param
	flattenOptions("", map[string]any{
		"time_limit":       float64(30e9),
		"request_timeout":  float64(500e6),
		"nodes":            float64(5),
		"nemesis":          []any{"partition", "kill"},
		"workload":         "register",
		"nested":           map[string]any{"check_timeout": float64(2 * 60e9)},
		"nemesis_interval": float64(4e9),
	}, &rows)
	assert.Equal(t, []Param{
		{"nemesis", `["partition","kill"]`},
		{"nemesis_interval", "4s"},
		{"nested.check_timeout", "2m0s"},
		{"nodes", "5"},
		{"request_timeout", "500ms"},
		{"time_limit", "30s"},
		{"workload", "register"},
	}, rows)
}
