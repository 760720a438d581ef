package reports

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/rundir"
)

// DefaultMaxVisualizedKeys bounds how many failing keys get a porcupine
// visualization: each one reruns a verbose search and writes a page that
// grows with the key's operations.
const DefaultMaxVisualizedKeys = 10

// maxSafeNameBytes bounds the length of a file name made from a key.
const maxSafeNameBytes = 64

// SafeFileName turns a key into a file name without a directory part or an
// extension: letters, digits, '-', '_' and '.' are kept, anything else
// becomes '_'. When the key had to be changed (or was empty, or started with
// a dot, or was too long) a hash of the original key is appended, so two
// different keys never share a name.
func SafeFileName(key string) string {
	var b strings.Builder
	changed := key == "" || strings.HasPrefix(key, ".")
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
			changed = true
		}
	}
	name := strings.TrimLeft(b.String(), ".")
	if len(name) > maxSafeNameBytes {
		name = name[:maxSafeNameBytes]
		changed = true
	}
	if !changed {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	if name == "" {
		name = "key"
	}
	return fmt.Sprintf("%s-%08x", name, h.Sum32())
}

// linearDetails returns the linearizability details of a result, whether it
// was produced in this process (a pointer or a value) or read back from
// results.json (a pointer).
func linearDetails(r checker.Result) *checker.LinearizabilityDetails {
	d, _ := typedDetails(r.Details).(*checker.LinearizabilityDetails)
	return d
}

// keyVisual is the outcome of drawing one failing key.
type keyVisual struct {
	// Path is relative to the run directory (linear/<name>.html); empty
	// when the key was not drawn.
	Path string
	// Why is set when the key was not drawn: over the limit, or an error.
	Why string
}

// modelForKey picks the porcupine model for a key: the explicit option, else
// the checker's model, else "list" if the key saw appends and "register"
// otherwise.
func modelForKey(h history.History, explicit, fromChecker, key string) string {
	if explicit != "" {
		return explicit
	}
	if fromChecker != "" {
		return fromChecker
	}
	for _, op := range h {
		if op.Key == key && op.F == history.FAppend {
			return checker.ModelList
		}
	}
	return checker.ModelRegister
}

// visualizeFailingKeys writes linear/<safe name>.html for the failing keys
// of every linearizability result, at most maxKeys in all, and says for each
// key whether and where it was drawn. A key that fails to draw does not stop
// the others.
func visualizeFailingKeys(run *Run, opts WriteOptions) (map[string]keyVisual, error) {
	out := map[string]keyVisual{}
	maxKeys := opts.MaxVisualizedKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxVisualizedKeys
	}
	dir := filepath.Join(run.Dir, rundir.LinearDir)
	// Pages from an earlier report of this run may name keys that no longer
	// fail (the run was checked again); linear/ belongs to the report.
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clear %s: %w", dir, err)
	}
	if run.Results == nil {
		return out, nil
	}
	drawn := 0
	for _, r := range run.Results.Checkers {
		d := linearDetails(r)
		if d == nil {
			continue
		}
		for _, fk := range d.FailingKeys {
			if _, done := out[fk.Key]; done {
				continue
			}
			if drawn >= maxKeys {
				out[fk.Key] = keyVisual{Why: fmt.Sprintf("not drawn: only the first %d failing keys are visualized", maxKeys)}
				continue
			}
			if drawn == 0 {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return nil, fmt.Errorf("create %s: %w", dir, err)
				}
			}
			drawn++
			name := SafeFileName(fk.Key) + ".html"
			model := modelForKey(run.History, opts.Model, d.Model, fk.Key)
			if err := checker.VisualizeKey(run.History, model, fk.Key, filepath.Join(dir, name)); err != nil {
				opts.logger().Warn("visualize failing key", "key", fk.Key, "err", err)
				out[fk.Key] = keyVisual{Why: "not drawn: " + err.Error()}
				continue
			}
			out[fk.Key] = keyVisual{Path: rundir.LinearDir + "/" + name}
		}
	}
	return out, nil
}
