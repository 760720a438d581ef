package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/rundir"
)

// A run's test.json holds the one rendering of its reproduce line (the page
// shows it as stored) and its Spec, which check reads back.
func TestTestRecordHoldsTheSpecAndItsCommand(t *testing.T) {
	spec := DefaultSpec()
	spec.Name, spec.Workload, spec.Nemesis, spec.Nodes = "bug-lease-wallclock", "register", []string{"skewed-leader"}, 3
	spec.RequestTimeout = 500 * time.Millisecond
	spec.NodeFlags = []string{"--read-mode=lease", "--unsafe=lease-wallclock"}
	spec.Seed = 8574112318807452147
	spec.SUTVersion = "faultline 1a2b3c"
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))

	rec, err := testRecord(spec, start, []string{"n1", "n2", "n3"}, "fl-test")
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, rundir.WriteTest(dir, rec))
	read, err := rundir.ReadTest(dir)
	require.NoError(t, err)

	assert.Equal(t, spec.Command(), read.Command)
	assert.Contains(t, read.Command, "--request-timeout 500ms")
	assert.Equal(t, "8574112318807452147", read.Seed.String())
	assert.Equal(t, start.UTC(), read.Start)
	assert.Equal(t, "kvnode faultline 1a2b3c", read.StoreUnderTest())
	got, err := recordedSpec(dir, read)
	require.NoError(t, err)
	assert.Equal(t, spec, got)
}

func TestRecordedSpecOfAnImportedHistoryIsZero(t *testing.T) {
	got, err := recordedSpec(t.TempDir(), rundir.TestRecord{Name: "check-x"})
	require.NoError(t, err)
	assert.Equal(t, Spec{}, got)

	_, err = recordedSpec("run", rundir.TestRecord{Options: []byte(`{"check_timeout": "1m"}`)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "run/test.json: options")
}
