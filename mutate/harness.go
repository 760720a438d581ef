package mutate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/rundir"
)

// Sweep is the harness budget of one mutant for one workload: a fixed seed
// range of simulated runs (the same for every mutant and for the correct
// node, so their results compare) and a wall-time cap.
type Sweep struct {
	Workload string `json:"workload"`
	// FirstSeed and LastSeed bound the seed range (inclusive).
	FirstSeed int64 `json:"first_seed"`
	LastSeed  int64 `json:"last_seed"`
	// Budget caps the sweep's wall time (faultline sim --budget): seeds
	// past it are not run.
	Budget time.Duration `json:"budget_ns"`
	// Workers are the simulated runs in parallel.
	Workers int `json:"workers"`
	// Nemesis is passed as --nemesis when set (default: every fault kind).
	Nemesis string `json:"nemesis,omitempty"`
	// FixedConfig passes --explore=false: every run has the simulation's
	// one default configuration instead of one drawn from its seed.
	FixedConfig bool `json:"fixed_config,omitempty"`
}

// Seeds is the range as faultline sim takes it: A-B.
func (s Sweep) Seeds() string { return fmt.Sprintf("%d-%d", s.FirstSeed, s.LastSeed) }

// args is the faultline command line of the sweep, writing into store.
func (s Sweep) args(store string, stopAtFirst bool) []string {
	args := []string{"sim", "--workload", s.Workload, "--seeds", s.Seeds(),
		"--budget", s.Budget.String(), "--workers", strconv.Itoa(s.Workers),
		"--store", store, "--keep", "failing", "--digests"}
	if s.Nemesis != "" {
		args = append(args, "--nemesis", s.Nemesis)
	}
	if s.FixedConfig {
		args = append(args, "--explore=false")
	}
	if stopAtFirst {
		args = append(args, "--stop-at-first")
	}
	return args
}

// hangGrace is how long past its budget a sweep may run (its last runs
// finish, the checkers judge them) before it counts as hung: a simulated
// run of the correct node takes well under a second of wall time.
const hangGrace = time.Minute

// HarnessRun is one sweep of one build.
type HarnessRun struct {
	Workload string `json:"workload"`
	Seeds    string `json:"seeds"`
	Command  string `json:"command"`
	ExitCode int    `json:"exit_code"`
	// Status is survived, or how the sweep caught the mutant
	// (invalid, crash, timeout, unknown).
	Status   string        `json:"status"`
	Duration time.Duration `json:"duration_ns"`
	Output   string        `json:"output,omitempty"`
	// Compared is how many seeds ran both in this sweep and in the
	// unmutated node's; Differing how many of them gave a history that is
	// not byte-identical, FirstDiffering the lowest of those. A mutant
	// whose histories never differ did nothing the runs could see; one
	// whose histories differ is not equivalent, whatever the checkers said.
	Compared       int   `json:"compared,omitempty"`
	Differing      int   `json:"differing,omitempty"`
	FirstDiffering int64 `json:"first_differing,omitempty"`
	// Ran is how many seeds the sweep ran and judged: the whole range
	// unless the budget ran out or a run was not valid (read from the
	// sweep file, so 0 when the sweep crashed or hung before writing it).
	Ran int `json:"ran,omitempty"`
	// digests are the sweep's history digests by seed (not written out).
	digests map[int64]string
}

// compare fills in Compared, Differing and FirstDiffering against the
// unmutated node's sweep of the same workload.
func (h *HarnessRun) compare(base HarnessRun) {
	h.Compared, h.Differing, h.FirstDiffering = 0, 0, 0
	for seed, d := range h.digests {
		bd, ok := base.digests[seed]
		if !ok {
			continue
		}
		h.Compared++
		if d != bd {
			h.Differing++
			if h.FirstDiffering == 0 || seed < h.FirstDiffering {
				h.FirstDiffering = seed
			}
		}
	}
}

// Observed says, for a sweep compared with the unmutated node's, whether
// the mutant changed any history: "differs on k of n seeds (first: s)",
// "identical on all n seeds", or "" when nothing was compared.
func (h HarnessRun) Observed() string {
	switch {
	case h.Compared == 0:
		return ""
	case h.Differing == 0:
		return fmt.Sprintf("history identical to the unmutated node's on all %d seeds", h.Compared)
	}
	return fmt.Sprintf("history differs from the unmutated node's on %d of %d seeds (first: seed %d)", h.Differing, h.Compared, h.FirstDiffering)
}

// readDigests loads the history digests of the one sweep file under store.
func readDigests(store string) (map[int64]string, error) {
	files, err := filepath.Glob(filepath.Join(store, "*", "sweep-*.json"))
	if err != nil || len(files) != 1 {
		return nil, fmt.Errorf("sweep file under %s: want exactly one, found %d (%v)", store, len(files), err)
	}
	var sweep struct {
		Digests map[int64]string `json:"history_digests"`
	}
	if err := rundir.ReadJSON(files[0], &sweep); err != nil {
		return nil, err
	}
	return sweep.Digests, nil
}

// size is the number of seeds in the sweep's range.
func (h HarnessRun) size() int {
	var first, last int64
	if _, err := fmt.Sscanf(h.Seeds, "%d-%d", &first, &last); err != nil || last < first {
		return 0
	}
	return int(last - first + 1)
}

// Caught reports whether the sweep caught its build.
func (h HarnessRun) Caught() bool {
	switch h.Status {
	case CaughtInvalid, CaughtCrash, CaughtTimeout, CaughtUnknown:
		return true
	}
	return false
}

// errBadSweep is a sweep faultline sim refused (exit 254): the campaign's
// arguments are wrong, not the mutant.
var errBadSweep = errors.New("faultline sim refused the sweep's arguments")

// runSweep runs bin's sweep and classifies the outcome by exit code: 0
// every run valid, 1 a run invalid, 2 undecided, 254 bad arguments (an
// error of the campaign), anything else (255, a signal, a panic) a crash;
// past the budget and hangGrace the process is killed and the mutant hung.
func runSweep(parent context.Context, bin, store string, s Sweep, stopAtFirst bool) (HarnessRun, error) {
	args := s.args(store, stopAtFirst)
	r := HarnessRun{Workload: s.Workload, Seeds: s.Seeds(), Command: "faultline " + strings.Join(args, " ")}
	ctx, cancel := context.WithTimeout(parent, s.Budget+hangGrace)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r.Duration = time.Since(start)
	r.Output = tail(out.String(), outputTailBytes)
	if err := parent.Err(); err != nil {
		return r, err
	}
	if ctx.Err() != nil {
		r.Status, r.ExitCode = CaughtTimeout, -1
		return r, nil
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		r.Status = StatusSurvived
	case errors.As(err, &exitErr):
		r.ExitCode = exitErr.ExitCode()
		switch r.ExitCode {
		case 1:
			r.Status = CaughtInvalid
		case 2:
			r.Status = CaughtUnknown
		case 254:
			return r, fmt.Errorf("%w: %s\n%s", errBadSweep, r.Command, r.Output)
		default:
			r.Status = CaughtCrash
		}
	default:
		return r, fmt.Errorf("run %s: %w", bin, err)
	}
	if r.Status == StatusSurvived || r.Status == CaughtInvalid || r.Status == CaughtUnknown {
		// The sweep finished and wrote its file, unless the process died:
		// a Go runtime fatal error (an unlock of an unlocked mutex, a
		// concurrent map write) exits with 2, as an undecided sweep does.
		digests, err := readDigests(store)
		switch {
		case err == nil:
			r.digests, r.Ran = digests, len(digests)
		case r.Status != StatusSurvived:
			r.Status = CaughtCrash
		default:
			return r, err
		}
	}
	return r, nil
}

// removeQuietly removes a mutant's binary after its sweeps.
func removeQuietly(path string) { _ = os.Remove(path) }
