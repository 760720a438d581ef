package mutate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Unit-test and harness statuses.
const (
	StatusKilled   = "killed"   // the unit tests failed
	StatusSurvived = "survived" // the oracle saw nothing
	StatusTimeout  = "timeout"  // the oracle did not finish in time

	// A harness sweep catches a mutant by an invalid verdict, by a crash
	// (the mutated node panicked, or the simulation reported an error it
	// made), or by a timeout (a run hung past the wall-time cap plus grace:
	// a store that stops answering fails a real test too, as an unknown
	// verdict and an availability finding).
	//
	// A sweep also catches a mutant by an unknown verdict (exit 2): every
	// sweep runs the same seeds the unmutated node passed, all valid, first,
	// so a run that ends without a verdict (no operation ever succeeded, the
	// store never served again after the heal) is behaviour the mutant
	// changed, and it fails CI as it would for a user.
	CaughtInvalid = "invalid"
	CaughtCrash   = "crash"
	CaughtTimeout = "timeout"
	CaughtUnknown = "unknown"
)

// outputTailBytes bounds the output of a build, test or sweep kept per mutant.
const outputTailBytes = 4000

// overlay writes the mutated file and the overlay that puts it in place of
// the original into dir, and returns the overlay's path.
func overlay(root, dir string, m Mutant) (string, error) {
	orig := filepath.Join(root, filepath.FromSlash(m.File))
	src, err := os.ReadFile(orig)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", m.File, err)
	}
	mutated, err := m.Apply(src)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("mutant dir: %w", err)
	}
	file := filepath.Join(dir, filepath.Base(m.File))
	if err := os.WriteFile(file, mutated, 0o644); err != nil {
		return "", fmt.Errorf("write mutant %s: %w", m.ID, err)
	}
	absOrig, err := filepath.Abs(orig)
	if err != nil {
		return "", err
	}
	absFile, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(map[string]map[string]string{"Replace": {absOrig: absFile}})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", fmt.Errorf("write overlay: %w", err)
	}
	return path, nil
}

// goCmd runs the go command in root with a timeout and returns its combined
// output and error.
func goCmd(ctx context.Context, root string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("go %s: %w after %v", args[0], context.DeadlineExceeded, timeout)
	}
	return out.String(), err
}

// buildTimeout bounds one build of the faultline binary.
const buildTimeout = 5 * time.Minute

// buildFaultline builds cmd/faultline into bin with the overlay ("" for
// none). An error is the compiler's output.
func buildFaultline(ctx context.Context, root, overlayPath, bin string) error {
	args := []string{"build"}
	if overlayPath != "" {
		args = append(args, "-overlay", overlayPath)
	}
	args = append(args, "-o", bin, "./cmd/faultline")
	out, err := goCmd(ctx, root, buildTimeout, args...)
	if err != nil {
		return fmt.Errorf("%w: %s", err, tail(out, outputTailBytes))
	}
	return nil
}

// UnitResult is what the mutated package's own tests said.
type UnitResult struct {
	Status   string        `json:"status"` // killed, survived, timeout, or "" (not run)
	Duration time.Duration `json:"duration_ns"`
	Output   string        `json:"output,omitempty"` // the end of go test's output, when killed
}

// unitTests runs the mutated package's tests (vet off: a vet finding is
// not a test failure) and classifies the outcome.
func unitTests(ctx context.Context, root, overlayPath, pkg string, timeout time.Duration) UnitResult {
	start := time.Now()
	out, err := goCmd(ctx, root, timeout+30*time.Second, "test", "-vet=off", "-count=1",
		"-timeout", timeout.String(), "-overlay", overlayPath, "./"+pkg+"/")
	r := UnitResult{Duration: time.Since(start)}
	switch {
	case err == nil:
		r.Status = StatusSurvived
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(out, "panic: test timed out"):
		r.Status, r.Output = StatusTimeout, tail(out, outputTailBytes)
	default:
		r.Status, r.Output = StatusKilled, tail(out, outputTailBytes)
	}
	return r
}

// tail keeps the last n bytes of s, at a line start when it can.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return "…\n" + s
}
