package mutate

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Operators, by the name a mutant records.
const (
	OpNegateCondition = "negate-condition"    // if c → if !(c), for c → for !(c)
	OpBoundary        = "comparison-boundary" // < ↔ <=, > ↔ >=
	OpEquality        = "equality"            // == ↔ !=
	OpLogical         = "logical"             // && ↔ ||
	OpArithmetic      = "arithmetic"          // + ↔ -
	OpOffByOne        = "off-by-one"          // x+1 → x, x-1 → x
	OpBool            = "bool-literal"        // true ↔ false
	OpRemoveCall      = "remove-call"         // f(x) as a statement → nothing
	OpRemoveAssign    = "remove-assignment"   // x = y, x += y, x++ → nothing
	OpSwapArgs        = "swap-arguments"      // f(a, b) → f(b, a)
)

// Operators lists every operator, in the order a site's mutants are listed.
func Operators() []string {
	return []string{OpNegateCondition, OpBoundary, OpEquality, OpLogical, OpArithmetic, OpOffByOne,
		OpBool, OpRemoveCall, OpRemoveAssign, OpSwapArgs}
}

// Mutant is one edit of one source file. Offset, End and Replacement say
// how to make the mutated file from the original: the bytes [Offset, End)
// are replaced by Replacement.
type Mutant struct {
	// ID is stable while the code around the site does not change: it
	// hashes the file, the enclosing function, the operator, the original
	// and mutated text and the occurrence among identical edits in that
	// function, and no line number, so edits elsewhere in the file keep it.
	ID       string `json:"id"`
	Package  string `json:"package"` // module-relative, slash-separated: node/raft
	File     string `json:"file"`    // module-relative: node/raft/progress.go
	Func     string `json:"func"`    // enclosing function: (*progress).acked
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Operator string `json:"operator"`
	// Original and Mutated are the replaced text and its replacement, as
	// one line each (a removed multi-line statement is shortened).
	Original    string `json:"original"`
	Mutated     string `json:"mutated"`
	Offset      int    `json:"offset"`
	End         int    `json:"end"`
	Replacement string `json:"replacement"`
	Diff        string `json:"diff"`
}

// Title is a one-line description: file:line operator original → mutated.
func (m Mutant) Title() string {
	mutated := m.Mutated
	if mutated == "" {
		mutated = "(removed)"
	}
	return fmt.Sprintf("%s:%d %s: %s → %s", m.File, m.Line, m.Operator, m.Original, mutated)
}

// Apply returns the mutated content of the file whose original content is src.
func (m Mutant) Apply(src []byte) ([]byte, error) {
	if m.Offset < 0 || m.End > len(src) || m.Offset > m.End {
		return nil, fmt.Errorf("mutant %s: offsets [%d,%d) outside %s (%d bytes): the file changed since the sites were listed", m.ID, m.Offset, m.End, m.File, len(src))
	}
	out := make([]byte, 0, len(src)+len(m.Replacement))
	out = append(out, src[:m.Offset]...)
	out = append(out, m.Replacement...)
	return append(out, src[m.End:]...), nil
}

// Enumerate lists every mutant of the packages (module-relative
// directories, e.g. node/raft) under the module root, in package, file and
// offset order. Test files and generated files are skipped.
func Enumerate(root string, packages []string) ([]Mutant, error) {
	var all []Mutant
	for _, pkg := range packages {
		pkg = filepath.ToSlash(filepath.Clean(pkg))
		entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(pkg)))
		if err != nil {
			return nil, fmt.Errorf("list package %s: %w", pkg, err)
		}
		found := false
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			found = true
			rel := pkg + "/" + name
			src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", rel, err)
			}
			ms, err := FileMutants(rel, src)
			if err != nil {
				return nil, err
			}
			for i := range ms {
				ms[i].Package = pkg
			}
			all = append(all, ms...)
		}
		if !found {
			return nil, fmt.Errorf("package %s has no Go source files under %s", pkg, root)
		}
	}
	return all, nil
}

// mutantID hashes what identifies a site without its position.
func mutantID(file, fn, op, original, mutated string, occurrence int) string {
	h := sha256.Sum256([]byte(strings.Join([]string{file, fn, op, original, mutated, fmt.Sprint(occurrence)}, "\x00")))
	return hex.EncodeToString(h[:6])
}

// Sample picks n mutants in an order drawn from seed and returns them in
// that order, so that a campaign that skips some (stillborn ones) takes the
// next in line and stays reproducible. n <= 0 or n >= len(ms) returns them
// all, ordered.
//
// The order ranks each mutant by a hash of the seed and the mutant's ID, not
// by a shuffle of the list: a shuffle reorders every mutant when one site is
// added or removed anywhere in the code, so a sample drawn before a change
// and one drawn after share few mutants and their scores cannot be
// compared. Ranked by hash, a seed's sample keeps every mutant whose site
// still exists, in the same order; a new site enters where its rank puts
// it and pushes the last one out.
func Sample(ms []Mutant, n int, seed int64) []Mutant {
	out := slices.Clone(ms)
	rank := make(map[string]uint64, len(out))
	for _, m := range out {
		rank[m.ID] = sampleRank(seed, m.ID)
	}
	slices.SortFunc(out, func(a, b Mutant) int {
		return cmp.Or(cmp.Compare(rank[a.ID], rank[b.ID]), strings.Compare(a.ID, b.ID))
	})
	if n > 0 && n < len(out) {
		out = out[:n]
	}
	return out
}

// sampleRank is a mutant's place in seed's order.
func sampleRank(seed int64, id string) uint64 {
	h := sha256.Sum256(fmt.Appendf(nil, "%d\x00%s", seed, id))
	return binary.BigEndian.Uint64(h[:8])
}
