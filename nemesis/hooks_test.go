package nemesis

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

// hooklessCluster is a memCluster whose store offers no fault hooks.
type hooklessCluster struct{ *memCluster }

func (hooklessCluster) StoreName() string    { return "etcd" }
func (hooklessCluster) HasClockHook() bool   { return false }
func (hooklessCluster) HasCrashPoints() bool { return false }

func TestFaultsNeedingAMissingHookAreRefused(t *testing.T) {
	for _, tc := range []struct {
		faults  []string
		wantErr string
	}{
		{[]string{KindPartition, KindClock}, "--nemesis clock needs a clock hook in the store, and etcd has none"},
		{[]string{KindSkewedLeader}, "--nemesis skewed-leader needs a clock hook in the store, and etcd has none"},
		{[]string{KindVoterCrash}, "--nemesis voter-crash needs crash points in the store, and etcd has none"},
		{[]string{KindFigure8}, "--nemesis figure-8 needs crash points in the store, and etcd has none"},
		{[]string{KindPartition, KindKill, KindPause, KindLoss, KindDiskLoss}, ""},
	} {
		c := hooklessCluster{newMemCluster(3)}
		_, err := New(c, &history.Recorder{}, Options{Faults: tc.faults, Interval: time.Second})
		if tc.wantErr == "" {
			require.NoError(t, err, "%v", tc.faults)
			continue
		}
		assert.ErrorContains(t, err, tc.wantErr, "%v", tc.faults)
	}
}
