package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/rundir"
)

// TestWriteRunShowsSkippedCheckers checks that a checker the history could
// not feed (no replica states, as in a Jepsen history) is listed as skipped
// with its reason, next to the checkers that ran.
func TestWriteRunShowsSkippedCheckers(t *testing.T) {
	dir := writeSyntheticRun(t, t.TempDir())
	var res checker.Results
	b, err := os.ReadFile(filepath.Join(dir, rundir.ResultsFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &res))
	res.Skipped = []checker.Skip{{Checker: "convergence", Reason: "no replica states in this history"}}
	writeJSONFile(t, filepath.Join(dir, rundir.ResultsFile), res)

	require.NoError(t, WriteRun(dir, WriteOptions{}))
	page := readFile(t, filepath.Join(dir, rundir.ReportFile))
	assert.Contains(t, page, `<span class="badge skipped">skipped</span> convergence</h3>`)
	assert.Contains(t, page, "<p>Not run: no replica states in this history.</p>")
	assert.Contains(t, page, `<span class="badge invalid">invalid</span> linearizability</h3>`, "the checkers that ran are still shown")
}
