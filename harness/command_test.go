package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rules of Command, one case each. That the line parses back into the
// same Spec is cmd/faultline's TestReproduceLineRecreatesTheSpec.
func TestCommandRules(t *testing.T) {
	const pinned = "--workload register --nemesis none --nemesis-interval 5s --nodes 5 --concurrency 10 --rate 0 --time-limit 30s --ops-per-key 100 --seed 99"
	tests := []struct {
		name   string
		change func(s *Spec)
		want   string
	}{
		{"defaults: only the pinned flags", func(s *Spec) {}, "faultline test " + pinned},
		{"kvnode named outright is still the default", func(s *Spec) { s.SUT = "kvnode" }, "faultline test " + pinned},
		{"no sut (a record before --sut) is kvnode", func(s *Spec) { s.SUT = "" }, "faultline test " + pinned},
		{"another store", func(s *Spec) { s.SUT = "etcd" }, "faultline test --sut etcd " + pinned},
		{"the default name is left out", func(s *Spec) { s.Name = "register-none" }, "faultline test " + pinned},
		{"another name", func(s *Spec) { s.Name = "bug-stale-read" }, "faultline test --name bug-stale-read " + pinned},
		{"faults", func(s *Spec) { s.Nemesis = []string{"partition", "kill"} },
			"faultline test " + strings.Replace(pinned, "--nemesis none", "--nemesis partition,kill", 1)},
		{"a fractional rate", func(s *Spec) { s.Rate = 12.5 }, "faultline test " + strings.Replace(pinned, "--rate 0", "--rate 12.5", 1)},
		{"timeouts that differ", func(s *Spec) {
			s.RequestTimeout, s.RecoveryTimeout, s.CheckTimeout = 500*time.Millisecond, 90*time.Second, 2*time.Minute
		}, "faultline test " + pinned + " --request-timeout 500ms --recovery-timeout 1m30s --check-timeout 2m0s"},
		{"plain node flags", func(s *Spec) { s.NodeFlags = []string{"--read-mode=local", "--unsafe=stale-read"} },
			"faultline test " + pinned + " --node-flags='--read-mode=local --unsafe=stale-read'"},
		{"one plain node flag needs no quotes", func(s *Spec) { s.NodeFlags = []string{"--read-mode=local"} },
			"faultline test " + pinned + " --node-flags=--read-mode=local"},
		{"a node flag with a space is quoted inside the value", func(s *Spec) { s.NodeFlags = []string{"--dir=/tmp/a b"} },
			"faultline test " + pinned + ` --node-flags='"--dir=/tmp/a b"'`},
		{"a node flag with quotes and a backslash", func(s *Spec) { s.NodeFlags = []string{"--x=1", `--label="hi" C:\`} },
			"faultline test " + pinned + ` --node-flags='--x=1 "--label=\"hi\" C:\\"'`},
		{"a node flag with a single quote", func(s *Spec) { s.NodeFlags = []string{"--label=it's"} },
			"faultline test " + pinned + ` --node-flags='"--label=it'\''s"'`},
		{"where results go and the containers' fate are not part of it", func(s *Spec) {
			s.Store, s.KeepCluster, s.SUTVersion = "/tmp/nightly store", true, "v3.6.17"
		}, "faultline test " + pinned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSpec()
			s.Seed = 99
			tt.change(&s)
			assert.Equal(t, tt.want, s.Command())
		})
	}
}

func TestParseNodeFlags(t *testing.T) {
	tests := []struct {
		value   string
		want    []string
		wantErr string
	}{
		{"", nil, ""},
		{"  \t ", nil, ""},
		{"--read-mode=local", []string{"--read-mode=local"}, ""},
		{" --a=1\t--b=2\n--c ", []string{"--a=1", "--b=2", "--c"}, ""},
		{`--dir='/tmp/a b' --x=1`, []string{"--dir=/tmp/a b", "--x=1"}, ""},
		{`'--label=it'\''s'`, []string{"--label=it's"}, ""},
		{`--label="say \"hi\" \\ \n"`, []string{`--label=say "hi" \ \n`}, ""},
		{`--a=b\ c`, []string{"--a=b c"}, ""},
		{`''`, []string{""}, ""},
		{`--a='b`, nil, "a quote is not closed (the ' at byte 4)"},
		{`--a="b`, nil, `a quote is not closed (the " at byte 4)`},
	}
	for _, tt := range tests {
		got, err := ParseNodeFlags(tt.value)
		if tt.wantErr != "" {
			require.ErrorIs(t, err, ErrUnclosedQuote, tt.value)
			assert.EqualError(t, err, tt.wantErr)
			continue
		}
		require.NoError(t, err, tt.value)
		assert.Equal(t, tt.want, got, tt.value)
	}
}

// Every list of node flags survives joinNodeFlags and ParseNodeFlags.
func TestNodeFlagsRoundTrip(t *testing.T) {
	for _, flags := range [][]string{
		{"--read-mode=local"},
		{"--dir=/tmp/a b", `--label=it's "quoted"`, `--path=C:\dir\`, "--tab=a\tb", "--home=$HOME", ""},
	} {
		got, err := ParseNodeFlags(joinNodeFlags(flags))
		require.NoError(t, err)
		assert.Equal(t, flags, got)
	}
}
