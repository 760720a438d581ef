package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/rundir"
)

// runFixture is a directory tree for one case; "DIR" in a case's arguments
// and messages stands for its root.
type runFixture map[string]string

const (
	goodTestJSON = `{"name":"x","workload":"register"}`
	goodHeader   = `{"format":"faultline-history","version":1}` + "\n"
)

// TestBadArgumentsExit254 runs each bad command line through run, the
// function main hands os.Args to, and checks that it exits 254 before any
// image is built or container started, and that the message names what is
// wrong and says what to do. Every case is refused during argument and input
// checking, so no Docker engine is needed.
func TestBadArgumentsExit254(t *testing.T) {
	tests := []struct {
		name  string
		files runFixture
		args  []string
		want  []string // all in stderr
	}{
		{name: "unknown subcommand", args: []string{"bogus-subcommand"},
			want: []string{`unknown command "bogus-subcommand" for "faultline"`, "choose one of bugs, check, cleanup"}},
		{name: "misspelt subcommand", args: []string{"tset"}, want: []string{`did you mean "test"?`}},
		{name: "explore is a suite flag", args: []string{"explore"}, want: []string{`did you mean "suite"?`}},
		{name: "unknown help topic", args: []string{"help", "bogus"}, want: []string{`no help topic "bogus"`, "faultline --help"}},
		{name: "unknown completion shell", args: []string{"completion", "tcsh"},
			want: []string{`unknown command "tcsh" for "faultline completion"`, "bash, fish, powershell, zsh"}},
		{name: "unknown root flag", args: []string{"--bogus"}, want: []string{"unknown flag: --bogus", "run 'faultline --help'"}},
		{name: "bad log level", args: []string{"--log-level", "loud", "check", "x"}, want: []string{"use debug, info, warn or error"}},
		{name: "test: unknown flag", args: []string{"test", "--bogus-flag"}, want: []string{"unknown flag: --bogus-flag", "run 'faultline test --help'"}},
		{name: "test: bad duration", args: []string{"test", "--time-limit", "soon"}, want: []string{`invalid argument "soon" for "--time-limit"`}},
		{name: "test: no nodes", args: []string{"test", "--nodes", "0"}, want: []string{"--nodes 0: choose between 1 and 9"}},
		{name: "test: unknown workload", args: []string{"test", "--workload", "nope"}, want: []string{`--workload "nope"`, "choose one of"}},
		{name: "test: unknown fault", args: []string{"test", "--nemesis", "earthquake"}, want: []string{"--nemesis", "earthquake"}},
		{name: "test: positional argument", args: []string{"test", "register"}, want: []string{"faultline test takes no arguments"}},
		{name: "test: store under a file", files: runFixture{"file": "x"}, args: []string{"test", "--store", "DIR/file/store"},
			want: []string{"--store DIR/file/store", "choose a writable directory"}},
		{name: "suite: junit is a directory", args: []string{"suite", "--junit", "DIR"},
			want: []string{"--junit DIR is a directory", "give a file name"}},
		{name: "bugs: unknown bug", args: []string{"bugs", "--bugs", "nope"}, want: []string{`unknown bug "nope"`, "choose from"}},
		{name: "bugs: no runs", args: []string{"bugs", "--runs", "0"}, want: []string{"--runs 0: choose between 1 and 100"}},
		{name: "check: no directory", args: []string{"check"}, want: []string{"faultline check needs exactly one run directory"}},
		{name: "check: missing directory", args: []string{"check", "DIR/missing"},
			want: []string{"no run at DIR/missing (it does not exist)", "pass a run directory such as store/latest, which holds history.jsonl"}},
		{name: "check: empty directory", args: []string{"check", "DIR"}, want: []string{"no run at DIR (it has no test.json)", "store/latest"}},
		{name: "check: a store, not a run", files: runFixture{"register-none/20260101T000000/test.json": goodTestJSON},
			args: []string{"check", "DIR"}, want: []string{"no run at DIR (it has no test.json)", "store/latest"}},
		{name: "check: run without history", files: runFixture{"test.json": goodTestJSON},
			args: []string{"check", "DIR"}, want: []string{"no run at DIR (it has no history.jsonl)"}},
		{name: "report: a file", files: runFixture{"history.jsonl": goodHeader}, args: []string{"report", "DIR/history.jsonl"},
			want: []string{"no run at DIR/history.jsonl (it is a file, not a directory)"}},
		{name: "check: malformed history line",
			files: runFixture{"test.json": goodTestJSON, "history.jsonl": goodHeader + "{oops}\n{\"index\":1}\n"},
			args:  []string{"check", "DIR"},
			want:  []string{"DIR/history.jsonl: malformed history: line 2", "fix or delete that line"}},
		{name: "check: history without header", files: runFixture{"test.json": goodTestJSON, "history.jsonl": "\n"},
			args: []string{"check", "DIR"}, want: []string{"DIR/history.jsonl: malformed history: line 1 is not a faultline-history header"}},
		{name: "check: history ops out of order",
			files: runFixture{"test.json": goodTestJSON, "history.jsonl": goodHeader +
				`{"index":0,"time":5,"type":"ok","process":0,"f":"read","key":"k"}` + "\n"},
			args: []string{"check", "DIR"}, want: []string{"DIR/history.jsonl: malformed history: op 0", "fix those ops"}},
		{name: "check: malformed test.json", files: runFixture{"test.json": "{", "history.jsonl": goodHeader},
			args: []string{"check", "DIR"}, want: []string{"DIR/test.json", "fix test.json or run the test again"}},
		{name: "check: a history file without --workload", files: runFixture{"history.jsonl": goodHeader}, args: []string{"check", "DIR/history.jsonl"},
			want: []string{"DIR/history.jsonl is a history file with no test.json beside it", "pass --workload register or --workload set"}},
		{name: "check: a Jepsen history without --workload", files: runFixture{"history.edn": "[]"}, args: []string{"check", "DIR/history.edn"},
			want: []string{"DIR/history.edn is a history file", "pass --workload register"}},
		{name: "check: a Jepsen store directory without --workload", files: runFixture{"history.edn": "[]"}, args: []string{"check", "DIR"},
			want: []string{"DIR/history.edn is a history file", "pass --workload register"}},
		{name: "check: unknown --workload", files: runFixture{"history.edn": "[]"}, args: []string{"check", "--workload", "bank", "DIR/history.edn"},
			want: []string{`--workload "bank": choose one of register, set`}},
		{name: "check: malformed Jepsen history",
			files: runFixture{"history.edn": "[{:process 0, :type :invoke, :f :read, :value nil}\n {:process 0, :type :ok, :f :read, :value \"x\"}]"},
			args:  []string{"check", "--workload", "register", "DIR/history.edn"},
			want:  []string{"DIR/history.edn: malformed history", `line 2: a :read's value is "x"; faultline reads integers there`, "fix the file there"}},
		{name: "check: a Jepsen op faultline does not read",
			files: runFixture{"history.edn": "{:process 0, :type :invoke, :f :txn, :value [[:r 1 nil]]}\n"},
			args:  []string{"check", "--workload", "register", "DIR/history.edn"},
			want:  []string{"line 1: :f :txn is not a register operation; faultline reads :read, :write and :cas for --workload register"}},
		{name: "check: --workload disagrees with test.json",
			files: runFixture{"test.json": goodTestJSON, "history.jsonl": goodHeader},
			args:  []string{"check", "--workload", "set", "DIR"}, want: []string{"leave --workload out for a run directory"}},
		{name: "check: unknown workload", files: runFixture{"test.json": `{"workload":"bank"}`, "history.jsonl": goodHeader},
			args: []string{"check", "DIR"}, want: []string{`DIR/test.json: workload "bank"`, "fix test.json"}},
		{name: "check: malformed leaders.json",
			files: runFixture{"test.json": goodTestJSON, "history.jsonl": goodHeader, "leaders.json": "[1,"},
			args:  []string{"check", "DIR"}, want: []string{"DIR/leaders.json", "fix or delete that file (it is optional)"}},
		{name: "report: missing directory", args: []string{"report", "DIR/missing"}, want: []string{"no run at DIR/missing (it does not exist)", "store/latest"}},
		{name: "report: malformed history line",
			files: runFixture{"test.json": goodTestJSON, "history.jsonl": goodHeader + "{oops}\n{\"index\":1}\n"},
			args:  []string{"report", "DIR"}, want: []string{"DIR/history.jsonl: malformed history: line 2", "run the test again"}},
		{name: "serve: address without port", args: []string{"serve", "--store", "DIR", "--addr", "localhost"},
			want: []string{`--addr "localhost"`, "give host:port"}},
		{name: "serve: port out of range", args: []string{"serve", "--store", "DIR", "--addr", "127.0.0.1:99999"},
			want: []string{"invalid port", "give host:port"}},
		{name: "serve: missing store", args: []string{"serve", "--store", "DIR/missing"}, want: []string{"--store DIR/missing", "run a test first"}},
		{name: "cleanup: positional argument", args: []string{"cleanup", "all"}, want: []string{"faultline cleanup takes no arguments"}},
		{name: "image: positional argument", args: []string{"image", "now"}, want: []string{"faultline image takes no arguments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				path := filepath.Join(dir, name)
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
			}
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "DIR", dir)
			}
			var stderr bytes.Buffer
			code := run(args, &stderr)
			msg := stderr.String()
			assert.Equal(t, harness.ExitBadArgs, code, "faultline %v: %s", args, msg)
			for _, want := range tt.want {
				assert.Contains(t, msg, strings.ReplaceAll(want, "DIR", dir))
			}
			assert.NoFileExists(t, filepath.Join(dir, rundir.ResultsFile), "a refused check gives no verdict")
		})
	}
}

// TestStoredRunExitsWithItsVerdict checks that check and report on a
// well-formed run directory still give the verdict's exit code, not 254, and
// write their files.
func TestStoredRunExitsWithItsVerdict(t *testing.T) {
	const write = `{"index":0,"time":1,"type":"invoke","process":0,"f":"write","key":"k","value":1}
{"index":1,"time":2,"type":"ok","process":0,"f":"write","key":"k","value":1}
{"index":2,"time":3,"type":"invoke","process":0,"f":"read","key":"k"}
`
	tests := []struct {
		name string
		args []string
		read string
		want int
	}{
		{"check: read sees the write (convergence skipped: no replica states)", []string{"check", "--check-timeout", "10s"}, `{"index":3,"time":4,"type":"ok","process":0,"f":"read","key":"k","value":1}`, harness.ExitValid},
		{"check: read sees a value never written", []string{"check", "--check-timeout", "10s"}, `{"index":3,"time":4,"type":"ok","process":0,"f":"read","key":"k","value":2}`, harness.ExitInvalid},
		{"report", []string{"report"}, `{"index":3,"time":4,"type":"ok","process":0,"f":"read","key":"k","value":1}`, harness.ExitValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, rundir.TestFile), []byte(goodTestJSON), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, rundir.HistoryFile), []byte(goodHeader+write+tt.read+"\n"), 0o644))
			var stderr bytes.Buffer
			code := run(append(tt.args, dir), &stderr)
			assert.Equal(t, tt.want, code, "stderr: %s", stderr.String())
			assert.FileExists(t, filepath.Join(dir, "index.html"))
		})
	}
}
