package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/rundir"
)

func TestLoad(t *testing.T) {
	dir := writeSyntheticRun(t, t.TempDir())
	run, err := Load(dir)
	require.NoError(t, err)
	assert.Equal(t, "register-partition", run.Test.Name)
	assert.Equal(t, "1234567890123", run.Test.Seed.String())
	assert.Equal(t, []string{"n1", "n2", "n3"}, run.Test.Nodes)
	var options map[string]any
	require.NoError(t, json.Unmarshal(run.Test.Options, &options))
	assert.Equal(t, "--read-mode=<local>", options["node_flags"])
	assert.Equal(t, "devel", run.Test.Versions["faultline"])
	assert.Equal(t, []string{"nodes/n1.log", "nodes/n2.log", "nodes/n3.log"}, run.NodeLogs)
	require.NotNil(t, run.Results)
	assert.Equal(t, "invalid", string(run.Verdict()))
	assert.Greater(t, len(run.History), 1000)
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(dir string)
		wantErr []string
	}{
		{"missing test.json", func(dir string) { os.Remove(filepath.Join(dir, rundir.TestFile)) },
			[]string{"test.json is missing", "is this a run directory"}},
		{"malformed test.json", func(dir string) {
			os.WriteFile(filepath.Join(dir, rundir.TestFile), []byte("{\n\"name\": \"x\",\n\"seed\": }"), 0o644)
		},
			[]string{"test.json is not valid JSON", "line 3"}},
		{"wrong type in test.json", func(dir string) { os.WriteFile(filepath.Join(dir, rundir.TestFile), []byte(`{"nodes": "n1"}`), 0o644) },
			[]string{"test.json is not valid JSON", "line 1"}},
		{"missing history", func(dir string) { os.Remove(filepath.Join(dir, rundir.HistoryFile)) },
			[]string{"has no history.jsonl"}},
		{"malformed history", func(dir string) {
			os.WriteFile(filepath.Join(dir, rundir.HistoryFile), []byte("{\"format\":\"faultline-history\",\"version\":1}\n{oops}\n{}\n"), 0o644)
		}, []string{"history.jsonl", "line 2"}},
		{"malformed results", func(dir string) {
			os.WriteFile(filepath.Join(dir, rundir.ResultsFile), []byte(`{"verdict": 3}`), 0o644)
		},
			[]string{"results.json is not valid JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeSyntheticRun(t, t.TempDir())
			tt.breakIt(dir)
			_, err := Load(dir)
			require.Error(t, err)
			for _, want := range tt.wantErr {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestLoadWithoutResultsIsUnchecked(t *testing.T) {
	dir := writeSyntheticRun(t, t.TempDir())
	require.NoError(t, os.Remove(filepath.Join(dir, rundir.ResultsFile)))
	run, err := Load(dir)
	require.NoError(t, err)
	assert.Nil(t, run.Results)
	assert.Equal(t, "unknown", string(run.Verdict()))

	require.NoError(t, WriteRun(dir, WriteOptions{}))
	page := readFile(t, filepath.Join(dir, rundir.ReportFile))
	assert.Contains(t, page, `<section class="banner unknown"`)
	assert.Contains(t, page, "results.json is missing")
	assert.NotContains(t, page, `href="results.json"`)
}

func TestWriteRunEscapesEverythingFromTheRun(t *testing.T) {
	store := t.TempDir()
	dir := filepath.Join(store, "evil", "20260101T000000")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	evil := `<script>alert(1)</script>`
	writeJSONFile(t, filepath.Join(dir, rundir.TestFile), map[string]any{
		"name": "evil" + evil, "command": "faultline test " + evil, "seed": 1, "workload": evil,
		"nemesis": []string{evil}, "nodes": []string{evil}, "options": map[string]any{evil: evil},
		"versions": map[string]string{evil: evil},
	})
	fault := history.Fault{Kind: evil, Targets: []string{evil}, Params: map[string]string{evil: evil}}
	h := opsHistory(t,
		nem(0, history.Invoke, history.FStart, fault), nem(1, history.OK, history.FStart, fault),
		history.Op{Time: 2, Type: history.Invoke, Process: 0, F: history.FWrite, Key: evil, Value: history.IntPtr(1)},
		history.Op{Time: 3, Type: history.Fail, Process: 0, F: history.FWrite, Key: evil, Value: history.IntPtr(1), Error: evil},
	)
	f, err := os.Create(filepath.Join(dir, rundir.HistoryFile))
	require.NoError(t, err)
	require.NoError(t, history.Write(f, h))
	require.NoError(t, f.Close())
	os.WriteFile(filepath.Join(dir, rundir.ResultsFile), []byte(`{"verdict":"<b>valid</b>","reason":"`+`\u003cscript\u003ealert(1)\u003c/script\u003e`+`","checkers":[{"checker":"`+`\u003cscript\u003e`+`","verdict":"invalid","reason":"`+`\u003cscript\u003e`+`","details":{"x":"`+`\u003cscript\u003e`+`"}}]}`), 0o644)

	require.NoError(t, WriteRun(dir, WriteOptions{}))
	page := readFile(t, filepath.Join(dir, rundir.ReportFile))
	assert.NotContains(t, page, "<script")
	assert.NotContains(t, page, "<b>valid")
	assert.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.Contains(t, page, `class="banner unknown"`, "an unknown verdict string becomes the unknown class")

	require.NoError(t, WriteIndex(store))
	index := readFile(t, filepath.Join(store, rundir.ReportFile))
	assert.NotContains(t, index, "<script")
	assert.Contains(t, index, "evil&lt;script&gt;")
}
