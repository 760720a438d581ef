package harness

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Command is the one rendering of the faultline command line that recreates
// this Spec: what test.json stores, the run page shows, and explore and
// JUnit print. Pasted into a POSIX shell, `faultline test` parses it back
// into this Spec (cmd/faultline's TestReproduceLineRecreatesTheSpec holds
// it to that, for every bug-zoo configuration). The rules:
//
//   - --workload, --nemesis (none when empty), --nemesis-interval, --nodes,
//     --concurrency, --rate, --time-limit, --ops-per-key and --seed are
//     always written: with the seed they decide the ops and the faults, so
//     the line pins them even if a later faultline changes a default.
//   - --sut, --name, --request-timeout, --recovery-timeout and
//     --check-timeout are written when they differ from DefaultSpec (--name
//     when it differs from DefaultName), --node-flags when there are any.
//   - --store, --keep-cluster and the store's version are never written:
//     they say where the results go, what happens to the containers and
//     which binary ran, not what ran, and the page is often read on another
//     machine (a CI artifact) where the run's store path means nothing.
//
// Values are quoted for a POSIX shell only when they need it. Each node flag
// is quoted inside --node-flags when it holds a space or a quote, so that
// ParseNodeFlags splits the value back into the same flags.
func (s Spec) Command() string {
	d := DefaultSpec()
	nem := "none"
	if len(s.Nemesis) > 0 {
		nem = strings.Join(s.Nemesis, ",")
	}
	args := []string{"faultline", "test"}
	if s.SUTName() != DefaultSUT {
		args = append(args, "--sut", shellQuote(s.SUTName()))
	}
	if s.Name != "" && s.Name != DefaultName(s.Workload, s.Nemesis) {
		args = append(args, "--name", shellQuote(s.Name))
	}
	args = append(args,
		"--workload", shellQuote(s.Workload),
		"--nemesis", shellQuote(nem),
		"--nemesis-interval", s.NemesisInterval.String(),
		"--nodes", strconv.Itoa(s.Nodes),
		"--concurrency", strconv.Itoa(s.Concurrency),
		"--rate", strconv.FormatFloat(s.Rate, 'g', -1, 64),
		"--time-limit", s.TimeLimit.String(),
		"--ops-per-key", strconv.Itoa(s.OpsPerKey),
		"--seed", strconv.FormatInt(s.Seed, 10),
	)
	if s.RequestTimeout != d.RequestTimeout {
		args = append(args, "--request-timeout", s.RequestTimeout.String())
	}
	if s.RecoveryTimeout != d.RecoveryTimeout {
		args = append(args, "--recovery-timeout", s.RecoveryTimeout.String())
	}
	if s.CheckTimeout != d.CheckTimeout {
		args = append(args, "--check-timeout", s.CheckTimeout.String())
	}
	if len(s.NodeFlags) > 0 {
		args = append(args, "--node-flags="+shellQuote(joinNodeFlags(s.NodeFlags)))
	}
	return strings.Join(args, " ")
}

// joinNodeFlags is the --node-flags value for flags: separated by spaces,
// each in double quotes when it holds a space, a quote or a backslash (the
// only flags ParseNodeFlags would otherwise split differently). Double, so
// that the shell quoting around the whole value stays plain single quotes.
func joinNodeFlags(flags []string) string {
	escape := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	quoted := make([]string, len(flags))
	for i, f := range flags {
		quoted[i] = f
		if f == "" || strings.ContainsAny(f, " \t\n'\"\\") {
			quoted[i] = `"` + escape.Replace(f) + `"`
		}
	}
	return strings.Join(quoted, " ")
}

// shellQuote quotes s for a POSIX shell when it holds anything the shell
// would interpret.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ErrUnclosedQuote is returned by ParseNodeFlags for a value whose quote
// is never closed.
var ErrUnclosedQuote = errors.New("a quote is not closed")

// ParseNodeFlags splits a --node-flags value into the flags passed to every
// node: at spaces, tabs and newlines, except inside single quotes (taken
// literally) or double quotes (where a backslash escapes " and \), and a
// backslash outside quotes takes the next character literally. Values
// without quotes or backslashes split exactly as strings.Fields does.
func ParseNodeFlags(value string) ([]string, error) {
	var flags []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				flags = append(flags, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			end := strings.IndexByte(value[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("%w (the ' at byte %d)", ErrUnclosedQuote, i)
			}
			cur.WriteString(value[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			j := i + 1
			for ; j < len(value) && value[j] != '"'; j++ {
				if value[j] == '\\' && j+1 < len(value) && (value[j+1] == '"' || value[j+1] == '\\') {
					j++
				}
				cur.WriteByte(value[j])
			}
			if j == len(value) {
				return nil, fmt.Errorf("%w (the \" at byte %d)", ErrUnclosedQuote, i)
			}
			i = j
			inWord = true
		case c == '\\' && i+1 < len(value):
			i++
			cur.WriteByte(value[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		flags = append(flags, cur.String())
	}
	return flags, nil
}
