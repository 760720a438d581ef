package harness

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/sut"
	"github.com/faultline/faultline/workloads"
)

// scriptedDB answers Peek from a role table the test changes while the
// watch polls; the other DB methods are not used by the watch.
type scriptedDB struct {
	DB
	mu    sync.Mutex
	roles map[string]sut.Status
	peeks atomic.Int64
}

func (d *scriptedDB) Nodes() []string { return []string{"n1", "n2", "n3"} }

func (d *scriptedDB) Peek(_ context.Context, node string) (sut.Status, error) {
	d.peeks.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	st, ok := d.roles[node]
	if !ok {
		return sut.Status{}, errors.New("not running")
	}
	return st, nil
}

func (d *scriptedDB) set(node, role string, gen uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if role == "" {
		delete(d.roles, node)
		return
	}
	d.roles[node] = sut.Status{Node: node, Role: role, Generation: gen}
}

func TestLeaderWatchRecordsFirstSightings(t *testing.T) {
	db := &scriptedDB{roles: map[string]sut.Status{}}
	db.set("n1", "leader", 1)
	db.set("n2", "follower", 1)
	var clock atomic.Int64
	stop := watchLeaders(context.Background(), db, clock.Load)
	waitPolls := func() {
		n := db.peeks.Load()
		require.Eventually(t, func() bool { return db.peeks.Load() >= n+6 }, 5*time.Second, time.Millisecond)
	}
	waitPolls()
	clock.Store(100)
	db.set("n1", "", 0) // killed
	db.set("n2", "leader", 2)
	waitPolls()
	clock.Store(200)
	db.set("n3", "leader", 2) // a second leader of generation 2
	waitPolls()
	clock.Store(300)
	db.set("n3", "follower", 3)
	db.set("n2", "leader", 4)
	waitPolls()
	got := stop()
	assert.Equal(t, []checker.LeaderSighting{
		{Node: "n1", Generation: 1, FirstSeen: 0},
		{Node: "n2", Generation: 2, FirstSeen: 100},
		{Node: "n3", Generation: 2, FirstSeen: 200},
		{Node: "n2", Generation: 4, FirstSeen: 300},
	}, got)
	res := checker.Leaders{}.Check(context.Background(), checker.Input{Leaders: got})
	assert.Equal(t, checker.Invalid, res.Verdict)
	require.NotNil(t, res.FirstFlagged)
	assert.Equal(t, int64(200), *res.FirstFlagged)
}

// TestLeaderWatchGivesUpWhenTheStoreCannotNameTheTerm: a store whose status
// does not say which generation a leader leads in (etcd's applied-entry
// term) feeds no leaders checker: its new leader would read as a second
// leader of the previous generation.
func TestLeaderWatchGivesUpWhenTheStoreCannotNameTheTerm(t *testing.T) {
	db := &scriptedDB{roles: map[string]sut.Status{}}
	db.roles["n1"] = sut.Status{Node: "n1", Role: "leader", Generation: 2}
	db.roles["n2"] = sut.Status{Node: "n2", Role: "leader", Generation: 2, LeaderTermUnknown: true}
	var clock atomic.Int64
	stop := watchLeaders(context.Background(), db, clock.Load)
	n := db.peeks.Load()
	require.Eventually(t, func() bool { return db.peeks.Load() >= n+6 }, 5*time.Second, time.Millisecond)
	got := stop()
	assert.Nil(t, got, "no sightings, so no leaders checker")
	assert.Len(t, runCheckers(workloads.Register{}, got), len(workloads.Register{}.Checkers()))
}
