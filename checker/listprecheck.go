package checker

import (
	"sort"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// listPrecheck looks for violations of an append-only list that need no
// search, and returns the call time of the earliest read showing one (nil
// when it finds none; the key may still be illegal) and the longest read
// (meaningful only when nothing was flagged: then every read is its prefix). In any linearization
// every read returns a prefix of the final list, so:
//   - two reads must be prefixes of one another;
//   - a read holds each element at most once;
//   - a read holds every element whose append was acknowledged before the
//     read was invoked.
//
// A history of lost appends breaks these, and it is the history on which the
// search is slowest: no order of the indeterminate appends explains the
// reads, so porcupine tries them all before giving up.
func listPrecheck(ops []porcupine.Operation) (flagged *int64, longest []string) {
	var reads []int
	for i, op := range ops {
		if op.Input.(listInput).op == opRead {
			reads = append(reads, i)
		}
	}
	sort.SliceStable(reads, func(a, b int) bool { return ops[reads[a]].Return < ops[reads[b]].Return })

	flag := func(op porcupine.Operation) {
		if flagged == nil || op.Call < *flagged {
			call := op.Call
			flagged = &call
		}
	}
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
	return flagged, longest
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

// guideListModel returns the list model narrowed, for one key that passed
// listPrecheck, to the element order of its longest read.
//
// The plain model lets porcupine append concurrent elements in every order
// and finds out only at the next read which order was right, so a key whose
// appends hung together under a partition, with no read until the final
// ones, costs factorial time and memory (correct-node runs of 36 appends
// passed the checker's 6 GiB budget). The narrowing loses no linearization:
// every read is a prefix of the longest read L, which must be linearized at
// some point, and an append-only list that differs from L at position i
// never becomes L again. So while the list is a prefix of L of length i, the
// only append that can lead to a full linearization is L[i]; once it is L,
// only elements not in L. A refused append is tried again later, as porcupine
// does with any step the model refuses.
func guideListModel(longest []string) porcupine.Model {
	if len(longest) == 0 {
		return listModel
	}
	// prefixLength maps the state encoding of each prefix of longest to its
	// length; inLongest holds its elements.
	prefixLength := make(map[string]int, len(longest)+1)
	inLongest := make(map[string]bool, len(longest))
	prefixLength[""] = 0
	for i, e := range longest {
		prefixLength[strings.Join(longest[:i+1], ",")] = i + 1
		inLongest[e] = true
	}
	guided := listModel
	step := listModel.Step
	guided.Step = func(state, input, output any) (bool, any) {
		in := input.(listInput)
		if in.op == opAppend {
			e := strconv.FormatInt(in.elem, 10)
			if i, onPrefix := prefixLength[state.(string)]; onPrefix && i < len(longest) {
				if e != longest[i] {
					return false, state
				}
			} else if inLongest[e] {
				return false, state
			}
		}
		return step(state, input, output)
	}
	return guided
}

// prepareKey returns the model to search one key's ops with: for the list
// model, the one guided by the key's longest read, unless listPrecheck
// already flags a read (flagged non-nil: the key is illegal, no search
// needed); for any other, model itself.
func prepareKey(name string, model porcupine.Model, ops []porcupine.Operation) (keyModel porcupine.Model, flagged *int64) {
	if name != ModelList {
		return model, nil
	}
	flagged, longest := listPrecheck(ops)
	if flagged != nil {
		return model, flagged
	}
	return guideListModel(longest), nil
}
