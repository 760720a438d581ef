package main

import (
	"bytes"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/campaign"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/sut/kvnode"
)

// The reproduce line a run stores in test.json (and its page shows) must
// recreate the run's Spec when pasted into a shell: a real shell splits it,
// the real `faultline test` flags parse it, and the Spec that faultline test
// would run is compared with the original, for every configuration the bug
// zoo runs and for hand-made specs with what a line gets wrong most easily.
func TestReproduceLineRecreatesTheSpec(t *testing.T) {
	type specCase struct {
		name string
		spec harness.Spec
	}
	var cases []specCase

	// The bug zoo: each entry's unsafe run and its correct-node run, on the
	// base `faultline bugs` uses, with the time limit RunBugs sets.
	base := bugsBaseSpec()
	base.TimeLimit = campaign.DefaultBugTimeLimit
	for i, b := range kvnode.Bugs() {
		for _, unsafe := range []bool{true, false} {
			spec, err := campaign.BugSpec(b, base, unsafe, int64(i)*1_000_003+4_611_686_018_427_387_904)
			require.NoError(t, err)
			cases = append(cases, specCase{spec.Name, spec})
		}
	}

	defaults := harness.DefaultSpec()
	defaults.Seed = 0 // a seed of 0 is a seed, not "random"
	cases = append(cases, specCase{"defaults", defaults})

	odd := harness.DefaultSpec()
	odd.Seed = 7
	odd.NodeFlags = []string{"--log-level=debug", "--data-dir=/tmp/a b", `--label=it's "quoted"`, `--path=C:\dir\`, "--home=$HOME", "--glob=*", "--tab=a\tb"}
	cases = append(cases, specCase{"odd node flags", odd})

	everything := harness.DefaultSpec()
	everything.Name = "nightly-set.3"
	everything.Workload = "set"
	everything.Nemesis = mustParseFaults(t, "partition,kill,clock")
	everything.NemesisInterval = 1500 * time.Millisecond
	everything.Nodes = 7
	everything.Concurrency = 3
	everything.Rate = 12.5
	everything.TimeLimit = 150 * time.Second
	everything.OpsPerKey = 7
	everything.Seed = 9_223_372_036_854_775_807
	everything.RequestTimeout = 250 * time.Millisecond
	everything.RecoveryTimeout = 90 * time.Second
	everything.CheckTimeout = 10 * time.Minute
	cases = append(cases, specCase{"every option changed", everything})

	etcd := harness.DefaultSpec()
	etcd.SUT = "etcd"
	etcd.Nemesis = mustParseFaults(t, "partition,kill")
	etcd.NodeFlags = []string{"--snapshot-count=1000"}
	etcd.Seed = 42
	cases = append(cases, specCase{"sut etcd", etcd})

	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.spec
			// faultline test names an unnamed run after its workload and
			// nemesis; so does the original's Validate.
			require.NoError(t, want.Validate())
			line := want.Command()
			args := shellWords(t, line)
			require.GreaterOrEqual(t, len(args), 2, line)
			require.Equal(t, []string{"faultline", "test"}, args[:2], line)

			got, err := parseTestSpec(append(args[2:], "--store", t.TempDir()))
			require.NoError(t, err, line)
			assert.Equal(t, reproducible(want), reproducible(got), "the line does not recreate the spec:\n%s", line)
		})
	}
}

// parseTestSpec parses args as `faultline test` does and returns the Spec it
// would run, without running it.
func parseTestSpec(args []string) (harness.Spec, error) {
	var spec harness.Spec
	cmd := testCommand(func(_ *cobra.Command, f *specFlags) error {
		spec = f.spec
		return nil
	})
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return spec, err
}

// reproducible is the part of a Spec a reproduce line carries. Left out:
// the store (where results go, not what runs: the line reproduces the run
// in whichever store its reader uses), the store's version (the binary that
// runs the line decides it) and --keep-cluster (what happens to the
// containers afterwards). "No faults" and "no node flags" compare equal
// however they are spelled, and so do "" and kvnode as the store under test.
func reproducible(s harness.Spec) harness.Spec {
	s.Store, s.SUTVersion, s.KeepCluster = "", "", false
	s.SUT = s.SUTName()
	if len(s.Nemesis) == 0 {
		s.Nemesis = nil
	}
	if len(s.NodeFlags) == 0 {
		s.NodeFlags = nil
	}
	return s
}

// shellWords splits line as a POSIX shell does: it defines a shell function
// named faultline that prints its arguments NUL-separated, and runs the line.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to split the reproduce line with")
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command(sh, "-c", `faultline() { for a in "$@"; do printf '%s\0' "$a"; done; }; `+line)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	require.NoError(t, cmd.Run(), "sh -c %q: %s", line, stderr.String())
	words := strings.Split(out.String(), "\x00")
	return append([]string{"faultline"}, words[:len(words)-1]...)
}

func mustParseFaults(t *testing.T, list string) []string {
	t.Helper()
	faults, err := nemesis.ParseFaults(list)
	require.NoError(t, err)
	return faults
}
