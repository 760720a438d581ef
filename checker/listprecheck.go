package checker

import (
	"sort"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// listPrecheck looks for violations of an append-only list that need no
// search, and returns the call time of the earliest read showing one (nil
// when it finds none; the key may still be illegal). In any linearization
// every read returns a prefix of the final list, so:
//   - two reads must be prefixes of one another;
//   - a read holds each element at most once;
//   - a read holds every element whose append was acknowledged before the
//     read was invoked.
//
// A history of lost appends breaks these, and it is the history on which the
// search is slowest: no order of the indeterminate appends explains the
// reads, so porcupine tries them all before giving up.
func listPrecheck(ops []porcupine.Operation) *int64 {
	var reads []int
	for i, op := range ops {
		if op.Input.(listInput).op == opRead {
			reads = append(reads, i)
		}
	}
	sort.SliceStable(reads, func(a, b int) bool { return ops[reads[a]].Return < ops[reads[b]].Return })

	var flagged *int64
	flag := func(op porcupine.Operation) {
		if flagged == nil || op.Call < *flagged {
			call := op.Call
			flagged = &call
		}
	}
	var longest []string
	for _, ri := range reads {
		read := ops[ri]
		list := splitList(read.Output.(listOutput).list)
		if !prefixRelated(list, longest) || hasDuplicate(list) || missesAcknowledged(ops, read, list) {
			flag(read)
			continue
		}
		if len(list) > len(longest) {
			longest = list
		}
	}
	return flagged
}

func splitList(encoded string) []string {
	if encoded == "" {
		return nil
	}
	return strings.Split(encoded, ",")
}

// prefixRelated reports whether one of a and b is a prefix of the other.
func prefixRelated(a, b []string) bool {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hasDuplicate(list []string) bool {
	seen := make(map[string]bool, len(list))
	for _, e := range list {
		if seen[e] {
			return true
		}
		seen[e] = true
	}
	return false
}

// missesAcknowledged reports whether an append acknowledged before read was
// invoked is absent from list.
func missesAcknowledged(ops []porcupine.Operation, read porcupine.Operation, list []string) bool {
	present := make(map[string]bool, len(list))
	for _, e := range list {
		present[e] = true
	}
	for _, op := range ops {
		in := op.Input.(listInput)
		if in.op != opAppend || op.Output.(listOutput).kind != outOK || op.Return >= read.Call {
			continue
		}
		if !present[strconv.FormatInt(in.elem, 10)] {
			return true
		}
	}
	return false
}
