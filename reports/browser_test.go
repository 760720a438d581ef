package reports

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/rundir"
)

// Environment variables of the browser test.
const (
	// installChromiumEnv=1 lets the test run `apt-get install -y chromium`
	// when no chromium is found.
	installChromiumEnv = "FAULTLINE_INSTALL_CHROMIUM"
	// screenshotEnv names a PNG file where the test also saves its
	// screenshot of the sample report.
	screenshotEnv = "FAULTLINE_REPORT_SCREENSHOT"
)

// browserTimeout bounds one headless chromium run.
const browserTimeout = 2 * time.Minute

// findChromium returns the chromium binary, installing Debian's package
// when installChromiumEnv=1, or skips the test saying how to enable it.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(installChromiumEnv) != "1" {
		t.Skipf("chromium is not installed: install Debian's chromium package (apt-get install -y chromium) or set %s=1 to let this test install it", installChromiumEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	install := func() ([]byte, error) {
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "chromium")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	if out, err := install(); err != nil {
		// The package lists may be missing or stale.
		if uout, uerr := exec.CommandContext(ctx, "apt-get", "update").CombinedOutput(); uerr != nil {
			t.Fatalf("%s=1 but apt-get update failed: %v\n%s", installChromiumEnv, uerr, tail(uout))
		}
		if out, err = install(); err != nil {
			t.Fatalf("%s=1 but apt-get install -y chromium failed: %v\n%s", installChromiumEnv, err, tail(out))
		}
		_ = out
	}
	p, err := exec.LookPath("chromium")
	require.NoError(t, err, "chromium was installed but is not on PATH")
	return p
}

func tail(b []byte) string {
	const n = 2000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// browse loads a file headless and returns the DOM after loading and the
// console messages chromium logged (every console message, error or not,
// and every uncaught exception: the report has no scripts, so any console
// output is a fault).
func browse(t *testing.T, chromium, path string, extraArgs ...string) (dom string, console []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	args := append([]string{"--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr", "--v=0",
		"--user-data-dir=" + t.TempDir(), "--no-first-run", "--hide-scrollbars"}, extraArgs...)
	args = append(args, "file://"+path)
	cmd := exec.CommandContext(ctx, chromium, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "chromium %v\n%s", args, tail(stderr.Bytes()))
	return stdout.String(), consoleErrors(stderr.String())
}

var consoleLine = regexp.MustCompile(`:CONSOLE[:(]|Uncaught|ERROR:CONSOLE`)

// consoleErrors picks the lines of chromium's log that come from the page.
func consoleErrors(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if consoleLine.MatchString(line) {
			out = append(out, line)
		}
	}
	return out
}

func TestBrowserRendersReport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a headless browser")
	}
	chromium := findChromium(t)

	// The check itself can fail: a page with a script error is caught.
	bad := filepath.Join(t.TempDir(), "bad.html")
	require.NoError(t, os.WriteFile(bad, []byte(`<!doctype html><p>x</p><script>missingFunction()</script>`), 0o644))
	_, console := browse(t, chromium, bad, "--dump-dom")
	require.NotEmpty(t, console, "a script error must show in chromium's console log")
	assert.Contains(t, strings.Join(console, "\n"), "Uncaught ReferenceError")

	store := t.TempDir()
	dir := writeSyntheticRun(t, store)
	require.NoError(t, WriteRun(dir, WriteOptions{}))
	require.NoError(t, WriteIndex(store))

	dom, console := browse(t, chromium, filepath.Join(dir, rundir.ReportFile), "--dump-dom")
	assert.Empty(t, console, "console output while rendering the report")
	assert.Contains(t, dom, `<section class="banner invalid" id="verdict">`)
	assert.Contains(t, dom, "What went wrong")
	assert.NotContains(t, strings.ToLower(dom), "<script", "the escaped key stayed text")
	links := pageLinks(dom)
	require.NotEmpty(t, links)
	var images int
	for _, link := range links {
		assert.NotContains(t, link, "://", "the report must not reach the network: %s", link)
		target := filepath.Join(dir, filepath.FromSlash(link))
		assert.FileExists(t, target, "link %q of the rendered page", link)
		if strings.HasSuffix(link, ".png") {
			images++
		}
	}
	assert.GreaterOrEqual(t, images, 4, "latency, quantiles, throughput and clock plots")

	shot := filepath.Join(t.TempDir(), "report.png")
	if p := os.Getenv(screenshotEnv); p != "" {
		shot = p
	}
	_, console = browse(t, chromium, filepath.Join(dir, rundir.ReportFile), "--window-size=1280,2400", "--screenshot="+shot)
	assert.Empty(t, console)
	img, st := decodePNG(t, shot)
	assert.Equal(t, image.Rect(0, 0, 1280, 2400), img.Bounds())
	assert.Greater(t, st.distinct, 200, "the screenshot shows a rendered page")
	assert.Greater(t, st.nonWhite, 0.05)
	t.Logf("screenshot: %s", shot)

	// The porcupine visualization of the failing key runs its own script.
	linear := filepath.Join(dir, rundir.LinearDir, SafeFileName(badKey)+".html")
	dom, console = browse(t, chromium, linear, "--dump-dom")
	assert.Empty(t, console, "console output while rendering %s", linear)
	assert.Contains(t, dom, "<svg", "porcupine drew the history")

	// And the store index.
	dom, console = browse(t, chromium, filepath.Join(store, rundir.ReportFile), "--dump-dom")
	assert.Empty(t, console)
	for _, link := range pageLinks(dom) {
		assert.FileExists(t, filepath.Join(store, filepath.FromSlash(link)), fmt.Sprintf("index link %q", link))
	}
}
