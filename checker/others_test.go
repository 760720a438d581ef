package checker

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

func TestSet(t *testing.T) {
	tests := []struct {
		name   string
		h      *builder
		want   Verdict
		assert func(t *testing.T, d *SetDetails)
	}{
		{"all present", new(builder).appendOp(0, "s", 1, ok).appendOp(1, "s", 2, ok).readList(2, "s", true, 1, 2).readList(3, "s", true, 1, 2), Valid,
			func(t *testing.T, d *SetDetails) {
				assert.Equal(t, 2, d.Acknowledged)
				assert.Equal(t, 2, d.FinalReads)
			}},
		{"lost acknowledged append", new(builder).appendOp(0, "s", 1, ok).appendOp(1, "s", 2, ok).readList(2, "s", true, 1), Invalid,
			func(t *testing.T, d *SetDetails) {
				assert.Equal(t, ElementList{Count: 1, Elements: []int64{2}}, d.Lost)
			}},
		{"unexpected element", new(builder).appendOp(0, "s", 1, ok).readList(2, "s", true, 1, 77), Invalid,
			func(t *testing.T, d *SetDetails) {
				assert.Equal(t, ElementList{Count: 1, Elements: []int64{77}}, d.Unexpected)
			}},
		{"element of another key is unexpected", new(builder).appendOp(0, "s", 1, ok).appendOp(0, "t", 2, ok).
			readList(2, "s", true, 1, 2).readList(2, "t", true, 2), Invalid,
			func(t *testing.T, d *SetDetails) { assert.Equal(t, []int64{2}, d.Unexpected.Elements) }},
		{"indeterminate append recovered", new(builder).appendOp(0, "s", 1, ok).appendOp(1, "s", 2, info).readList(2, "s", true, 1, 2), Valid,
			func(t *testing.T, d *SetDetails) {
				assert.Equal(t, []int64{2}, d.Recovered.Elements)
				assert.Equal(t, 1, d.Indeterminate)
			}},
		{"indeterminate append absent is fine", new(builder).appendOp(0, "s", 1, ok).appendOp(1, "s", 2, info).readList(2, "s", true, 1), Valid,
			func(t *testing.T, d *SetDetails) { assert.Zero(t, d.Recovered.Count) }},
		{"failed append present", new(builder).appendOp(0, "s", 1, ok).appendOp(1, "s", 2, fail).readList(2, "s", true, 1, 2), Invalid,
			func(t *testing.T, d *SetDetails) { assert.Equal(t, []int64{2}, d.FailedPresent.Elements) }},
		{"duplicated element", new(builder).appendOp(0, "s", 1, ok).readList(2, "s", true, 1, 1), Invalid,
			func(t *testing.T, d *SetDetails) { assert.Equal(t, []int64{1}, d.Duplicated.Elements) }},
		{"stale final read is reported, not lost", new(builder).appendOp(0, "s", 1, ok).appendOp(1, "s", 2, ok).
			readList(2, "s", true, 1, 2).readList(3, "s", true, 1), Valid,
			func(t *testing.T, d *SetDetails) {
				require.Len(t, d.StaleReads, 1)
				assert.Equal(t, 1, d.StaleReadCount)
				assert.Equal(t, []int64{2}, d.StaleReads[0].Missing.Elements)
				assert.Equal(t, "n1", d.StaleReads[0].Node)
			}},
		{"non-final reads are not final reads", new(builder).appendOp(0, "s", 1, ok).readList(2, "s", false, 1), Unknown,
			func(t *testing.T, d *SetDetails) { assert.Equal(t, []string{"s"}, d.KeysWithoutFinalRead) }},
		{"nothing acknowledged", new(builder).appendOp(0, "s", 1, fail).readList(2, "s", true), Unknown, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Set{}.Check(context.Background(), Input{History: tt.h.h})
			assert.Equal(t, tt.want, r.Verdict, r.Reason)
			if tt.assert != nil {
				tt.assert(t, r.Details.(*SetDetails))
			}
		})
	}
}

func TestSetBoundsLists(t *testing.T) {
	b := new(builder)
	for i := int64(0); i < 100; i++ {
		b.appendOp(0, "s", i, ok)
	}
	b.readList(1, "s", true)
	r := Set{MaxElements: 10}.Check(context.Background(), Input{History: b.h})
	require.Equal(t, Invalid, r.Verdict)
	d := r.Details.(*SetDetails)
	assert.Equal(t, 100, d.Lost.Count)
	assert.Len(t, d.Lost.Elements, 10)
}

func TestStats(t *testing.T) {
	b := new(builder).write(0, "k", 1, ok).read(1, "k", v(1)).
		fault("kill", true).write(0, "k", 2, fail).write(0, "k", 3, info).fault("kill", false).
		read(2, "k", v(1))
	r := Stats{}.Check(context.Background(), Input{History: b.h})
	require.Equal(t, Valid, r.Verdict, r.Reason)
	d := r.Details.(*StatsDetails)
	assert.Equal(t, TypeCounts{OK: 1, Fail: 1, Info: 1}, d.Overall[history.FWrite])
	assert.Equal(t, TypeCounts{OK: 2}, d.Overall[history.FRead])
	assert.Equal(t, TypeCounts{OK: 1}, d.ByPhase[PhaseBefore][history.FWrite])
	assert.Equal(t, TypeCounts{Fail: 1, Info: 1}, d.ByPhase[PhaseDuring][history.FWrite])
	assert.Equal(t, TypeCounts{OK: 1}, d.ByPhase[PhaseAfter][history.FRead])
	assert.NotContains(t, d.Overall, history.FStart)

	never := new(builder).write(0, "k", 1, ok).invoke(1, history.FRead, "k", nil, nil).complete(1, fail, history.FRead, "k", nil)
	r = Stats{}.Check(context.Background(), Input{History: never.h})
	assert.Equal(t, Unknown, r.Verdict)
	assert.Contains(t, r.Reason, "no read ever succeeded")

	r = Stats{}.Check(context.Background(), Input{})
	assert.Equal(t, Unknown, r.Verdict)
}

func TestAvailability(t *testing.T) {
	t.Run("recovers after the heal", func(t *testing.T) {
		b := new(builder).write(0, "k", 1, ok).fault("partition", true).write(0, "k", 2, fail).read(1, "k", v(1)).
			fault("partition", false).write(0, "k", 3, ok).read(1, "k", v(3))
		r := Availability{}.Check(context.Background(), Input{History: b.h})
		require.Equal(t, Valid, r.Verdict, r.Reason)
		d := r.Details.(*AvailabilityDetails)
		assert.Equal(t, Fraction{Ops: 2, OK: 1, Fraction: 0.5}, d.InsideFaults)
		assert.Equal(t, Fraction{Ops: 3, OK: 3, Fraction: 1}, d.OutsideFaults)
		require.NotNil(t, d.FinalHealTime)
		require.NotNil(t, d.FirstOKWriteAfterHealNanos)
		require.NotNil(t, d.FirstOKReadAfterHealNanos)
		// The heal completes at t=100; the next write completes at t=120, the read at t=140.
		assert.Equal(t, int64(100), *d.FinalHealTime)
		assert.Equal(t, int64(20), *d.FirstOKWriteAfterHealNanos)
		assert.Equal(t, int64(40), *d.FirstOKReadAfterHealNanos)
		assert.Equal(t, 1, d.WritesAfterHeal)
		assert.Equal(t, 1, d.ReadsAfterHeal)
		assert.Contains(t, r.Reason, "50% ok inside faults, 100% outside")
	})
	t.Run("only final reads after the heal", func(t *testing.T) {
		b := new(builder).write(0, "k", 1, ok).fault("kill", true).fault("kill", false).readList(5, "k", true)
		r := Availability{}.Check(context.Background(), Input{History: b.h})
		require.Equal(t, Valid, r.Verdict, r.Reason)
		assert.Contains(t, r.Reason, "no write attempted")
		assert.Contains(t, r.Reason, "first ok read")
	})
	t.Run("nothing succeeds after the heal", func(t *testing.T) {
		b := new(builder).write(0, "k", 1, ok).fault("kill", true).fault("kill", false).write(0, "k", 2, fail)
		r := Availability{}.Check(context.Background(), Input{History: b.h})
		assert.Equal(t, Unknown, r.Verdict)
		assert.Contains(t, r.Reason, "no operation succeeded after the final heal")
	})
	t.Run("never healed", func(t *testing.T) {
		b := new(builder).write(0, "k", 1, ok).fault("kill", true).write(0, "k", 2, ok)
		r := Availability{}.Check(context.Background(), Input{History: b.h})
		assert.Equal(t, Unknown, r.Verdict)
		assert.Contains(t, r.Reason, "never healed")
	})
	t.Run("no faults", func(t *testing.T) {
		r := Availability{}.Check(context.Background(), Input{History: new(builder).write(0, "k", 1, ok).h})
		assert.Equal(t, Valid, r.Verdict)
	})
	diskLoss := func(params map[string]string) *builder {
		b := new(builder).write(0, "k", 1, ok).fault("disk-loss", true)
		stop := &history.Fault{Kind: "disk-loss", Action: "wipe", Targets: []string{"n1"}, Params: params}
		b.add(history.Op{Type: history.Invoke, Process: history.NemesisProcess, F: history.FStop, Fault: stop})
		b.add(history.Op{Type: history.OK, Process: history.NemesisProcess, F: history.FStop, Fault: stop})
		return b.write(0, "k", 2, ok)
	}
	t.Run("a node that lost its disk caught up", func(t *testing.T) {
		r := Availability{}.Check(context.Background(), Input{History: diskLoss(map[string]string{"recovery_ms.n1": "812.5"}).h})
		require.Equal(t, Valid, r.Verdict, r.Reason)
		d := r.Details.(*AvailabilityDetails)
		require.Len(t, d.Rejoins, 1)
		assert.Equal(t, Rejoin{Node: "n1", FaultTime: d.Rejoins[0].FaultTime, Action: "wipe", CaughtUp: true, RecoveryMillis: 812.5}, d.Rejoins[0])
	})
	t.Run("a node that lost its disk never caught up", func(t *testing.T) {
		r := Availability{}.Check(context.Background(), Input{History: diskLoss(map[string]string{"caught_up.n1": "false"}).h})
		assert.Equal(t, Invalid, r.Verdict)
		assert.Contains(t, r.Reason, "never caught up within the nemesis's wait: n1 (wipe at")
	})
}

func TestConvergence(t *testing.T) {
	same := []ReplicaState{{Node: "n1", AppliedIndex: 9, Digest: "ab"}, {Node: "n2", AppliedIndex: 9, Digest: "ab"}, {Node: "n3", AppliedIndex: 9, Digest: "ab"}}
	tests := []struct {
		name     string
		replicas []ReplicaState
		want     Verdict
		reason   string
	}{
		{"converged", same, Valid, "all 3 replicas"},
		{"one lags", []ReplicaState{same[0], same[1], {Node: "n3", AppliedIndex: 7, Digest: "cd"}}, Invalid, "lagging n3 (applied 7, commit 0, last log 0)"},
		{"a lagging replica is shown next to the leader", []ReplicaState{
			{Node: "n1", AppliedIndex: 9, Digest: "ab", Role: "leader", CommitIndex: 9, LastLogIndex: 9}, same[1],
			{Node: "n3", Role: "follower", Recovering: true}}, Invalid,
			"lagging n3 (applied 0, commit 0, last log 0, follower, recovering); leader n1 (applied 9, commit 9, last log 9, leader)"},
		{"diverged at the same index", []ReplicaState{same[0], same[1], {Node: "n3", AppliedIndex: 9, Digest: "cd"}}, Invalid, "n3 (applied 9, digest cd)"},
		{"same index, different digest", []ReplicaState{same[0], {Node: "n2", AppliedIndex: 9, Digest: "ff"}, same[2]}, Invalid, "n2"},
		{"unreachable", []ReplicaState{same[0], same[1], {Node: "n3", Err: "connection refused"}}, Unknown, "n3"},
		{"differ beats unreachable", []ReplicaState{same[0], same[1], {Node: "n3", AppliedIndex: 1}, {Node: "n4", Err: "x"}}, Invalid, "n3"},
		{"not collected", nil, Unknown, "not collected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Convergence{}.Check(context.Background(), Input{Replicas: tt.replicas})
			assert.Equal(t, tt.want, r.Verdict, r.Reason)
			assert.Contains(t, r.Reason, tt.reason)
		})
	}
}

type fixed struct {
	name    string
	verdict Verdict
}

func (f fixed) Name() string { return f.name }
func (f fixed) Check(context.Context, Input) Result {
	return Result{Verdict: f.verdict, Reason: f.name + " says " + string(f.verdict)}
}

type panicking struct{}

func (panicking) Name() string                        { return "boom" }
func (panicking) Check(context.Context, Input) Result { panic("index out of range") }

func TestRunComposition(t *testing.T) {
	h := new(builder).write(0, "k", 1, ok).h
	tests := []struct {
		name     string
		checkers []Checker
		want     Verdict
		reason   string
	}{
		{"all valid", []Checker{fixed{"a", Valid}, fixed{"b", Valid}}, Valid, "all 2 checkers passed (a, b)"},
		{"invalid beats unknown", []Checker{fixed{"a", Unknown}, fixed{"b", Invalid}, fixed{"c", Valid}}, Invalid, "b found a violation: b says invalid"},
		{"unknown beats valid", []Checker{fixed{"a", Valid}, fixed{"b", Unknown}, fixed{"c", Unknown}}, Unknown, "b, c could not decide"},
		{"panic is unknown", []Checker{fixed{"a", Valid}, panicking{}}, Unknown, "checker panicked: index out of range"},
		{"bogus verdict is unknown", []Checker{fixed{"a", "maybe"}}, Unknown, "a could not decide"},
		{"no checkers", nil, Unknown, "no checker ran"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := Run(context.Background(), Input{History: h}, tt.checkers...)
			assert.Equal(t, tt.want, rs.Verdict)
			assert.Contains(t, rs.Reason, tt.reason)
			assert.Len(t, rs.Checkers, len(tt.checkers))
		})
	}
}

func TestRunTruncatedHistory(t *testing.T) {
	h := new(builder).write(0, "k", 1, ok).read(1, "k", v(1)).h
	rs := Run(context.Background(), Input{History: h, Truncated: "op limit reached"}, fixed{"a", Valid})
	assert.Equal(t, Unknown, rs.Verdict)
	assert.Contains(t, rs.Reason, "op limit reached")
	rs = Run(context.Background(), Input{History: h, Truncated: "op limit reached"}, fixed{"a", Invalid})
	assert.Equal(t, Invalid, rs.Verdict, "a violation in the recorded prefix stands")
}

func TestRunRejectsMalformedHistory(t *testing.T) {
	h := new(builder).invoke(0, history.FWrite, "k", v(1), nil).invoke(0, history.FRead, "k", nil, nil).h
	rs := Run(context.Background(), Input{History: h}, fixed{"a", Valid})
	assert.Equal(t, Unknown, rs.Verdict)
	require.Len(t, rs.Checkers, 1)
	assert.Equal(t, HistoryCheckerName, rs.Checkers[0].Checker)
	assert.Contains(t, rs.Reason, "still open")
}

func TestResultsJSONRoundTrip(t *testing.T) {
	b := new(builder).write(0, "k", 1, ok).write(1, "k", 2, ok).read(2, "k", v(1)).appendOp(0, "s", 5, ok).readList(1, "s", true, 5)
	in := Input{History: b.h, Replicas: []ReplicaState{{Node: "n1", AppliedIndex: 3, Digest: "x"}}}
	rs := Run(context.Background(), in, Linearizability{Model: ModelRegister}, Set{}, Stats{}, Availability{}, Convergence{}, fixed{"other", Valid})
	raw, err := json.Marshal(rs)
	require.NoError(t, err)
	var back Results
	require.NoError(t, json.Unmarshal(raw, &back))
	require.Len(t, back.Checkers, 6)
	assert.Equal(t, Invalid, back.Verdict)
	assert.IsType(t, &LinearizabilityDetails{}, back.Checkers[0].Details)
	assert.Equal(t, "k", back.Checkers[0].Details.(*LinearizabilityDetails).FailingKeys[0].Key)
	assert.IsType(t, &SetDetails{}, back.Checkers[1].Details)
	assert.IsType(t, &StatsDetails{}, back.Checkers[2].Details)
	assert.IsType(t, &AvailabilityDetails{}, back.Checkers[3].Details)
	assert.IsType(t, &ConvergenceDetails{}, back.Checkers[4].Details)
	assert.Nil(t, back.Checkers[5].Details)
}

func TestClientPairsMatchesHistory(t *testing.T) {
	h := syntheticRegisterHistory(3, 5, 2e9, 20)
	h = append(h, history.Op{Index: len(h), Time: h[len(h)-1].Time, Type: history.Invoke, Process: 77, F: history.FRead, Key: "k"})
	h = append(h, new(builder).fault("kill", true).h...)
	for i := range h {
		h[i].Index = i
	}
	assert.Equal(t, h.ClientPairs(), clientPairs(h))
}
