package reports

import (
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/rundir"
)

// sampleDirEnv names a directory where TestWriteRunSynthetic also leaves its
// sample run (a store with one failing run), to look at by hand.
const sampleDirEnv = "FAULTLINE_REPORT_SAMPLE_DIR"

func TestWriteRunSynthetic(t *testing.T) {
	store := t.TempDir()
	if d := os.Getenv(sampleDirEnv); d != "" {
		store = d
	}
	dir := writeSyntheticRun(t, store)
	require.NoError(t, WriteRun(dir, WriteOptions{}))
	require.NoError(t, WriteIndex(store))

	page := readFile(t, filepath.Join(dir, rundir.ReportFile))
	assert.Contains(t, page, `<section class="banner invalid"`)
	assert.Contains(t, page, "What went wrong")
	// The failing key is named, escaped, and linked to its visualization.
	escapedKey := html.EscapeString(badKey)
	assert.Contains(t, page, "&lt;script&gt;alert(&#34;k&#34;)&lt;/script&gt;", "key is escaped (got %s)", escapedKey)
	linear := "linear/" + SafeFileName(badKey) + ".html"
	assert.Contains(t, page, `href="`+linear+`"`)
	assert.FileExists(t, filepath.Join(dir, linear))
	// Under which fault: the clock bump overlaps the failing key's ops.
	assert.Regexp(t, `Under: clock bump on n1,n2 \(18.000 s to 24.005 s\)`, page)
	// Reproduce command and seed.
	assert.Contains(t, page, "--seed 1234567890123")
	assert.Contains(t, page, `<dd class="mono">1234567890123</dd>`)
	// Options from test.json are escaped too.
	assert.Contains(t, page, "--read-mode=&lt;local&gt;")
	// Nemesis timeline: all three faults in the table.
	for _, label := range []string{"partition halves", "kill one", "clock bump"} {
		assert.Contains(t, page, label)
	}
	assert.Contains(t, page, "n1 drops n3; n2 drops n3; n3 drops n1,n2")
	// Nothing executable and nothing fetched from elsewhere.
	assert.NotContains(t, strings.ToLower(page), "<script")
	assert.NotRegexp(t, `(?i)(src|href)="(https?:)?//`, page)

	for _, plot := range []string{"latency.png", "latency.svg", "latency-quantiles.png", "throughput.png", "clock.png"} {
		assert.FileExists(t, filepath.Join(dir, rundir.PlotsDir, plot))
	}
	for _, link := range pageLinks(page) {
		assert.FileExists(t, filepath.Join(dir, filepath.FromSlash(link)), "link %q of the run page", link)
	}
	summary, err := ReadSummary(dir)
	require.NoError(t, err)
	assert.Equal(t, "invalid", string(summary.Verdict))
	assert.Positive(t, summary.Ops)
}

var linkAttr = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

// pageLinks returns the local targets of every src and href in a page,
// without fragments, unescaped. Links that leave the page's directory
// (../../index.html, the store index) are returned as written.
func pageLinks(page string) []string {
	var out []string
	for _, m := range linkAttr.FindAllStringSubmatch(page, -1) {
		target := html.UnescapeString(m[1])
		if i := strings.IndexByte(target, '#'); i >= 0 {
			target = target[:i]
		}
		if target == "" {
			continue
		}
		out = append(out, target)
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestWriteRunLimitsVisualizedKeys(t *testing.T) {
	dir := writeSyntheticRun(t, t.TempDir())
	stale := filepath.Join(dir, rundir.LinearDir, "old-key.html")
	require.NoError(t, os.MkdirAll(filepath.Dir(stale), 0o755))
	require.NoError(t, os.WriteFile(stale, []byte("old"), 0o644))
	// A second failing key, beyond a limit of one.
	run, err := Load(dir)
	require.NoError(t, err)
	d := linearDetails(run.Results.Checkers[0])
	require.NotNil(t, d)
	extra := d.FailingKeys[0]
	extra.Key = "k3"
	d.FailingKeys = append(d.FailingKeys, extra)
	d.FailingKeyCount = 30

	require.NoError(t, WriteLoaded(run, WriteOptions{MaxVisualizedKeys: 1, MaxSVGOps: 10}))
	page := readFile(t, filepath.Join(dir, rundir.ReportFile))
	assert.NoFileExists(t, stale, "pages of keys from an earlier report are removed")
	assert.FileExists(t, filepath.Join(dir, rundir.LinearDir, SafeFileName(badKey)+".html"))
	assert.NoFileExists(t, filepath.Join(dir, rundir.LinearDir, "k3.html"))
	assert.Contains(t, page, "not drawn: only the first 1 failing keys are visualized")
	assert.Contains(t, page, "30 keys failed; the checker kept details of the first 2, listed here.")
	assert.Contains(t, page, "1 of the 2 listed keys have a visualization")
	assert.Contains(t, page, "exceed the SVG limit of 10")
	assert.NotContains(t, page, "latency.svg")
}

func BenchmarkWriteRun(b *testing.B) {
	dir := writeSyntheticRun(b, b.TempDir())
	run, err := Load(dir)
	require.NoError(b, err)
	b.ResetTimer()
	for range b.N {
		require.NoError(b, WriteLoaded(run, WriteOptions{}))
	}
	b.ReportMetric(float64(len(run.History))/2, "ops/report")
}
