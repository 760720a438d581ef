package reports

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/rundir"
)

// writeMinimalRun writes a run directory by hand: test.json, a short
// history, and results.json with the given verdict ("" for none).
func writeMinimalRun(t *testing.T, store, test, run, start, verdict string) string {
	t.Helper()
	dir := filepath.Join(store, test, run)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	writeJSONFile(t, filepath.Join(dir, rundir.TestFile), map[string]any{"name": test, "start": start, "workload": "register", "nemesis": []string{"kill"}})
	hist := `{"format":"faultline-history","version":1}
{"index":0,"time":1,"type":"invoke","process":0,"f":"read","key":"k"}
{"index":1,"time":2,"type":"invoke","process":"nemesis","f":"start","fault":{"kind":"kill"}}
{"index":2,"time":3,"type":"ok","process":0,"f":"read","key":"k"}
{"index":3,"time":4,"type":"invoke","process":1,"f":"write","key":"k","value":1}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, rundir.HistoryFile), []byte(hist), 0o644))
	if verdict != "" {
		writeJSONFile(t, filepath.Join(dir, rundir.ResultsFile), map[string]any{"verdict": verdict, "reason": "because " + verdict, "checkers": []any{}})
	}
	return dir
}

func TestWriteIndex(t *testing.T) {
	store := t.TempDir()
	writeMinimalRun(t, store, "register-kill", "20261125T100000", "2026-11-25T10:00:00Z", "valid")
	newest := writeMinimalRun(t, store, "set-partition", "20261126T090000", "2026-11-26T09:00:00Z", "invalid")
	writeMinimalRun(t, store, "register-kill", "20261125T110000", "2026-11-25T11:00:00Z", "")
	// A run with a report links to it; a broken run is listed with its error.
	require.NoError(t, os.WriteFile(filepath.Join(newest, rundir.ReportFile), []byte("report"), 0o644))
	broken := filepath.Join(store, "broken", "20261126T080000")
	require.NoError(t, os.MkdirAll(broken, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(broken, rundir.TestFile), []byte("{"), 0o644))
	// Not runs: a directory without test.json, a file, and the latest link.
	require.NoError(t, os.MkdirAll(filepath.Join(store, "register-kill", "scratch"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(store, "notes.txt"), nil, 0o644))
	require.NoError(t, os.Symlink(newest, filepath.Join(store, "latest")))

	require.NoError(t, WriteIndex(store))
	page := readFile(t, filepath.Join(store, rundir.ReportFile))
	rows := strings.Split(page, "<tr>")[2:] // skip the head and the header row
	require.Len(t, rows, 4, "latest and non-run directories are not listed")
	assert.Contains(t, rows[0], `href="set-partition/20261126T090000/index.html"`)
	assert.Contains(t, rows[0], `badge invalid`)
	assert.Contains(t, rows[0], `<td class="num">2</td>`, "two client invokes, the nemesis not counted")
	assert.Contains(t, rows[1], "broken")
	assert.Contains(t, rows[1], "cannot read this run")
	assert.Contains(t, rows[2], `href="register-kill/20261125T110000/"`, "no report yet: link the directory")
	assert.Contains(t, rows[2], `badge unknown`)
	assert.Contains(t, rows[2], "not checked")
	assert.Contains(t, rows[3], `badge valid`)
	assert.Contains(t, page, "1 valid, 1 invalid, 2 unknown.")

	// summary.json, once written, is what the index reads.
	run, err := Load(newest)
	require.NoError(t, err)
	require.NoError(t, writeSummary(run, 42))
	s, err := ReadSummary(newest)
	require.NoError(t, err)
	assert.Equal(t, 42, s.Ops)
	// ... unless results.json is newer (the run was checked again).
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(filepath.Join(newest, rundir.ResultsFile), later, later))
	s, err = ReadSummary(newest)
	require.NoError(t, err)
	assert.Equal(t, 2, s.Ops)

	assert.ErrorContains(t, WriteIndex(filepath.Join(store, "missing")), "read store")
}

func TestServe(t *testing.T) {
	store := t.TempDir()
	writeMinimalRun(t, store, "register-kill", "20261125T100000", "2026-11-25T10:00:00Z", "valid")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { served <- serveListener(ctx, ln, store, logger) }()
	base := "http://" + ln.Addr().String()

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get("/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "register-kill")
	assert.NotContains(t, body, "set-partition")

	// A run added while serving shows up on the next request.
	writeMinimalRun(t, store, "set-partition", "20261126T090000", "2026-11-26T09:00:00Z", "invalid")
	code, body = get("/index.html")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "set-partition")

	code, body = get("/register-kill/20261125T100000/test.json")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"workload": "register"`)
	code, _ = get("/../../etc/passwd")
	assert.NotEqual(t, http.StatusOK, code)

	cancel()
	select {
	case err := <-served:
		assert.NoError(t, err, "a cancelled context is a clean shutdown")
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after its context was cancelled")
	}
}

func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	addr := ln.Addr().String()
	err = Serve(context.Background(), addr, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listen on "+addr)
	assert.Contains(t, err.Error(), "--addr")
	var opErr *net.OpError
	assert.True(t, errors.As(err, &opErr), "the listen error is wrapped: %v", err)

	err = Serve(context.Background(), "127.0.0.1:0", filepath.Join(t.TempDir(), "nope"), nil)
	assert.ErrorContains(t, err, "nope")
}
