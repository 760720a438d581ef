package sim

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/workloads"
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

// TestClientID: short ids by default, the asked length otherwise, and two
// clients never share an id whatever the length.
func TestClientID(t *testing.T) {
	tests := []struct {
		n, size int
		want    string
	}{
		{3, 0, "c3"},
		{3, 2, "c3"},
		{12, 3, "c12"},
		{3, 6, "c3-345"},
		{12, 8, "c12-4567"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, clientID(tt.n, tt.size), "clientID(%d, %d)", tt.n, tt.size)
	}
	for _, size := range []int{0, 4, 40, 512} {
		seen := map[string]bool{}
		for n := range 20 {
			id := clientID(n, size)
			assert.False(t, seen[id], "clientID(%d, %d) = %q twice", n, size, id)
			seen[id] = true
			assert.Len(t, id, max(size, len("c"+strconv.Itoa(n))))
		}
	}
}

// TestLongClientIDs: a write carries the client's id at the length the
// run asks for, and the correct node stays valid when every id is longer
// than the rest of the command.
func TestLongClientIDs(t *testing.T) {
	c := &simClient{w: &world{cfg: Config{ClientIDBytes: 512}}, id: 3}
	req := c.requestFor(workloads.Register{}, history.Op{F: history.FWrite, Key: "k1", Value: history.IntPtr(7)})
	assert.Len(t, req.ClientID, 512)
	assert.Equal(t, uint64(1), req.Seq)

	for _, wl := range []string{"register", "set"} {
		t.Run(wl, func(t *testing.T) {
			res, err := Run(Config{Seed: 9, Duration: 10 * time.Second, Faults: FaultKinds(), Workload: wl, ClientIDBytes: 512})
			require.NoError(t, err)
			assert.Equal(t, checker.Valid, res.Results.Verdict, res.Results.Reason)
		})
	}
}
