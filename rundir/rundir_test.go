package rundir

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test.json files in testdata were written by the two writers faultline
// had before this package owned the schema: the harness's record of a run
// and faultline check's record of a history recorded elsewhere. Both must
// load, and writing them back must lose no field.
func TestTestRecordReadsAndRewritesEveryWrittenShape(t *testing.T) {
	tests := []struct {
		file    string
		check   func(t *testing.T, rec TestRecord)
		wantSUT string
	}{
		{"harness-test.json", func(t *testing.T, rec TestRecord) {
			assert.Equal(t, "bug-stale-read", rec.Name)
			assert.Equal(t, "8574112318807452147", rec.Seed.String(), "a seed wider than a float64's mantissa is kept exactly")
			assert.Equal(t, []string{"n1", "n2", "n3"}, rec.Nodes)
			assert.Equal(t, int64(60000), rec.TimingsMillis["main"])
			var opts map[string]any
			require.NoError(t, json.Unmarshal(rec.Options, &opts))
			assert.Equal(t, []any{"--unsafe=stale-read"}, opts["node_flags"])
			assert.Nil(t, rec.ImportedFrom)
		}, "kvnode faultline 0f61207aa1b2"},
		{"imported-test.json", func(t *testing.T, rec TestRecord) {
			assert.Empty(t, rec.Seed, "a history recorded elsewhere has no seed")
			assert.Empty(t, rec.Options)
			require.NotNil(t, rec.ImportedFrom)
			assert.Equal(t, FormatJepsen, rec.ImportedFrom.Format)
		}, "unknown (jepsen-edn history)"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src := filepath.Join("testdata", tt.file)
			want, err := os.ReadFile(src)
			require.NoError(t, err)
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, TestFile), want, 0o644))

			rec, err := ReadTest(dir)
			require.NoError(t, err)
			tt.check(t, rec)
			assert.Equal(t, tt.wantSUT, rec.StoreUnderTest())

			require.NoError(t, WriteTest(dir, rec))
			got, err := os.ReadFile(filepath.Join(dir, TestFile))
			require.NoError(t, err)
			assert.JSONEq(t, string(want), string(got), "every field survives a read and a write")
		})
	}
}

func TestTestRecordWithoutSUTIsKvnode(t *testing.T) {
	// Runs recorded before faultline tested other stores name none.
	rec := TestRecord{Versions: map[string]string{"kvnode": "faultline 1a2b3c"}}
	assert.Equal(t, "kvnode", rec.SUTName())
	assert.Equal(t, "kvnode faultline 1a2b3c", rec.StoreUnderTest())
	rec.SUT = "etcd"
	assert.Equal(t, "etcd", rec.StoreUnderTest(), "no version recorded for etcd")
}

func TestReadJSONErrors(t *testing.T) {
	tests := []struct {
		name     string
		content  string // "" leaves the file out
		wantErr  []string
		notExist bool
	}{
		{"missing", "", []string{"test.json is missing", "is this a run directory"}, true},
		{"syntax error", "{\n\"name\": \"x\",\n\"seed\": }", []string{"test.json is not valid JSON", "line 3"}, false},
		{"wrong type", `{"nodes": "n1"}`, []string{"test.json is not valid JSON", "line 1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, TestFile), []byte(tt.content), 0o644))
			}
			_, err := ReadTest(dir)
			require.Error(t, err)
			for _, want := range tt.wantErr {
				assert.Contains(t, err.Error(), want)
			}
			assert.Contains(t, err.Error(), filepath.Join(dir, TestFile), "the error names the file")
			assert.Equal(t, tt.notExist, errors.Is(err, fs.ErrNotExist))
		})
	}
}

func TestWriteJSONLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ResultsFile)
	require.NoError(t, WriteJSON(path, map[string]string{"verdict": "valid"}))
	require.NoError(t, WriteJSON(path, map[string]string{"verdict": "invalid"}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "{\n  \"verdict\": \"invalid\"\n}\n", string(b))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "only results.json is left")
}

// Parallel runs on one store (faultline test started twice in one second)
// each get a run directory of their own, and store/latest ends up pointing at
// one of them.
func TestRunsStartedTogetherGetTheirOwnDirectories(t *testing.T) {
	store := t.TempDir()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const runs = 8
	dirs := make([]string, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() { dirs[i], errs[i] = Create(store, "register-none", start) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range runs {
		require.NoError(t, errs[i])
		assert.False(t, seen[dirs[i]], "two runs got %s", dirs[i])
		seen[dirs[i]] = true
		assert.DirExists(t, filepath.Join(dirs[i], NodesDir))
		assert.Contains(t, dirs[i], filepath.Join(store, "register-none", "20260102T030405"))
	}
	latest, err := filepath.EvalSymlinks(filepath.Join(store, LatestLink))
	require.NoError(t, err)
	pointsAtARun := false
	for dir := range seen {
		real, err := filepath.EvalSymlinks(dir)
		require.NoError(t, err)
		pointsAtARun = pointsAtARun || real == latest
	}
	assert.True(t, pointsAtARun, "latest points at %s, not at a run", latest)
	left, err := filepath.Glob(filepath.Join(store, "latest.tmp*"))
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary link is left behind")
}

func TestListFindsRunsOnly(t *testing.T) {
	store := t.TempDir()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var want []string
	for _, name := range []string{"set-kill", "register-none", "register-none"} {
		dir, err := Create(store, name, start)
		require.NoError(t, err)
		require.NoError(t, WriteTest(dir, TestRecord{Name: name}))
		want = append(want, dir)
	}
	// Not runs: the latest link, a loose file, a run directory without
	// test.json (a crash before it was written) and a file at test level.
	_, err := Create(store, "register-kill", start)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(store, "bugs-20260102T030405.json"), []byte("{}"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(store, "set-kill", "notes.txt"), nil, 0o644))

	got, err := List(store)
	require.NoError(t, err)
	assert.ElementsMatch(t, want, got)
	assert.IsIncreasing(t, got, "sorted by path")

	_, err = List(filepath.Join(store, "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestStartFromName(t *testing.T) {
	tests := []struct {
		name   string
		want   time.Time
		wantOK bool
	}{
		{"20260102T030405", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{"20260102T030405-3", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{"notes", time.Time{}, false},
		{"2026", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := StartFromName(tt.name)
		assert.Equal(t, tt.wantOK, ok, tt.name)
		assert.True(t, tt.want.Equal(got), "%s: got %v", tt.name, got)
	}
}
