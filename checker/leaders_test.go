package checker

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLeaders(t *testing.T) {
	s := func(node string, gen uint64, at int64) LeaderSighting {
		return LeaderSighting{Node: node, Generation: gen, FirstSeen: at}
	}
	tests := []struct {
		name      string
		sightings []LeaderSighting
		verdict   Verdict
		flagged   int64 // 0: none
		conflicts []uint64
	}{
		{"not collected", nil, Unknown, 0, nil},
		{"no leader seen", []LeaderSighting{}, Valid, 0, nil},
		{"one per generation", []LeaderSighting{s("n1", 1, 10), s("n2", 2, 20), s("n1", 3, 30)}, Valid, 0, nil},
		{"same node seen twice", []LeaderSighting{s("n1", 1, 10), s("n1", 1, 5)}, Valid, 0, nil},
		{"two leaders", []LeaderSighting{s("n1", 4, 10), s("n3", 4, 25), s("n2", 5, 30)}, Invalid, 25, []uint64{4}},
		{"flagged at the earliest second leader", []LeaderSighting{
			s("n2", 7, 70), s("n1", 7, 90), s("n1", 3, 30), s("n3", 3, 40), s("n3", 3, 35),
		}, Invalid, 35, []uint64{3, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Leaders{}.Check(context.Background(), Input{Leaders: tt.sightings})
			assert.Equal(t, tt.verdict, res.Verdict, res.Reason)
			if tt.flagged == 0 {
				assert.Nil(t, res.FirstFlagged)
			} else {
				require.NotNil(t, res.FirstFlagged)
				assert.Equal(t, tt.flagged, *res.FirstFlagged)
			}
			var gens []uint64
			for _, c := range res.Details.(*LeadersDetails).Conflicts {
				gens = append(gens, c.Generation)
				assert.Len(t, c.Leaders, 2)
			}
			assert.Equal(t, tt.conflicts, gens)
		})
	}
}

func TestLeadersResultRoundTrips(t *testing.T) {
	res := Leaders{}.Check(context.Background(), Input{Leaders: []LeaderSighting{
		{Node: "n1", Generation: 2, FirstSeen: 1}, {Node: "n2", Generation: 2, FirstSeen: 2},
	}})
	b, err := json.Marshal(res)
	require.NoError(t, err)
	var back Result
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, res, back)
	assert.Contains(t, res.Reason, "generation 2 was led by n1 and n2")
}
