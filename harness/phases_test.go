package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/checker"
)

func TestStallWatch(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(1000+int64(s), 0) }
	a := []checker.ReplicaState{{Node: "n1", AppliedIndex: 10, Digest: "x"}, {Node: "n2", AppliedIndex: 8, Digest: "y"}}
	b := []checker.ReplicaState{{Node: "n1", AppliedIndex: 10, Digest: "x"}, {Node: "n2", AppliedIndex: 9, Digest: "z"}}
	down := []checker.ReplicaState{{Node: "n1", AppliedIndex: 10, Digest: "x"}, {Node: "n2", Err: "connection refused"}}
	steps := []struct {
		name   string
		states []checker.ReplicaState
		second int
		want   bool
	}{
		{"first sample", a, 0, false},
		{"unchanged, not long enough", a, 19, false},
		{"a follower catches up", b, 25, false},
		{"unchanged since the change, not long enough", b, 44, false},
		{"unchanged for the whole stall", b, 45, true},
		{"a node goes down", down, 46, false},
		{"it stays down", down, 66, true},
	}
	var w stallWatch
	for _, s := range steps {
		assert.Equal(t, s.want, w.stalled(s.states, at(s.second)), s.name)
	}
}
