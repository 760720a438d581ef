package mutate

import (
	"fmt"
	"strings"
)

// diffContext is the number of unchanged lines shown around a change.
const diffContext = 3

// UnifiedDiff is the unified diff (one hunk) between before and after, two
// versions of file that differ in one contiguous run of lines, as a mutant
// makes them. Equal contents give "".
func UnifiedDiff(file string, before, after []byte) string {
	a, b := splitLines(string(before)), splitLines(string(after))
	prefix := 0
	for prefix < len(a) && prefix < len(b) && a[prefix] == b[prefix] {
		prefix++
	}
	if prefix == len(a) && prefix == len(b) {
		return ""
	}
	suffix := 0
	for suffix < len(a)-prefix && suffix < len(b)-prefix && a[len(a)-1-suffix] == b[len(b)-1-suffix] {
		suffix++
	}
	from := max(prefix-diffContext, 0)
	toA := min(len(a)-suffix+diffContext, len(a))
	toB := min(len(b)-suffix+diffContext, len(b))
	var out strings.Builder
	fmt.Fprintf(&out, "--- a/%s\n+++ b/%s\n", file, file)
	fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(from, toA-from), hunkRange(from, toB-from))
	for _, l := range a[from:prefix] {
		out.WriteString(" " + l + "\n")
	}
	for _, l := range a[prefix : len(a)-suffix] {
		out.WriteString("-" + l + "\n")
	}
	for _, l := range b[prefix : len(b)-suffix] {
		out.WriteString("+" + l + "\n")
	}
	for _, l := range a[len(a)-suffix : toA] {
		out.WriteString(" " + l + "\n")
	}
	return out.String()
}

// hunkRange is a hunk's "start,count" with 1-based start; an empty range
// names the line before it, as diff(1) does.
func hunkRange(start, count int) string {
	if count == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	return fmt.Sprintf("%d,%d", start+1, count)
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
