package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
)

// TestSetWorkload: the set workload's clients append and read lists
// through the nodes' API, the final reads read every list from every node,
// and the set checker judges the history of the correct node valid.
func TestSetWorkload(t *testing.T) {
	res, err := Run(Config{Seed: 5, Duration: 10 * time.Second, Faults: FaultKinds(), Workload: "set"})
	require.NoError(t, err)
	require.NoError(t, res.History.Validate())
	var appends, listReads, finals int
	for _, op := range res.History {
		switch {
		case op.IsNemesis() || op.Type != history.OK:
		case op.F == history.FAppend:
			appends++
		case op.F == history.FRead && op.Final:
			finals++
		case op.F == history.FRead && len(op.List) > 0:
			listReads++
		}
		assert.NotEqual(t, history.FWrite, op.F, "no register op in a set run")
	}
	assert.Positive(t, appends)
	assert.Positive(t, listReads, "reads return lists")
	assert.Positive(t, finals)
	names := map[string]bool{}
	for _, c := range res.Results.Checkers {
		names[c.Checker] = true
	}
	assert.True(t, names[checker.Set{}.Name()], "the set checker ran")
	assert.Equal(t, checker.Valid, res.Results.Verdict, res.Results.Reason)
}

func TestUnknownWorkload(t *testing.T) {
	_, err := Run(Config{Workload: "queue"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown workload "queue"`)
}
