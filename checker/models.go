package checker

import (
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/history"
)

// Model names accepted by Linearizability and VisualizeKey.
const (
	// ModelRegister is a compare-and-set register per key (read/write/cas).
	ModelRegister = "register"
	// ModelList is an append-only list per key (append/read).
	ModelList = "list"
)

// CASMismatchError prefixes the Error of a failed cas whose expected value did
// not match the register (HTTP 412). Such a cas is evidence: at some point of
// its interval the register did not hold the expected value. Every other
// failed cas or write is dropped, since "definitely not applied" without a
// mismatch says nothing about the state.
const CASMismatchError = "cas mismatch"

type opKind uint8

const (
	opRead opKind = iota
	opWrite
	opCAS
	opAppend
)

type outKind uint8

const (
	// outOK: the op took effect (or the read returned this value).
	outOK outKind = iota
	// outUnknown: indeterminate; it may or may not have taken effect.
	outUnknown
	// outMismatch: a cas that definitely failed because the value differed.
	outMismatch
)

// regState is one key's register: absent, or holding value.
type regState struct {
	found bool
	value int64
}

type regInput struct {
	op     opKind
	expect int64
	value  int64
}

type regOutput struct {
	kind  outKind
	found bool
	value int64
}

func describeReg(s regState) string {
	if !s.found {
		return "absent"
	}
	return strconv.FormatInt(s.value, 10)
}

// registerModel is a compare-and-set register. It is used per key: the
// checker partitions the history itself and checks keys in parallel.
//
// An indeterminate write or cas returns at infinity; the model accepts it
// both ways: linearized before some read it must take effect (a cas only if
// the register held its expected value, which is what a real cas would do),
// and placed after every other op its effect is unobservable, which stands for
// "never happened".
var registerModel = porcupine.Model{
	Init: func() any { return regState{} },
	Step: func(state, input, output any) (bool, any) {
		s := state.(regState)
		in := input.(regInput)
		out := output.(regOutput)
		switch in.op {
		case opRead:
			return s == regState{found: out.found, value: out.value}, s
		case opWrite:
			return true, regState{found: true, value: in.value}
		case opCAS:
			matches := s == regState{found: true, value: in.expect}
			switch out.kind {
			case outOK:
				return matches, regState{found: true, value: in.value}
			case outMismatch:
				return !matches, s
			default:
				if matches {
					return true, regState{found: true, value: in.value}
				}
				return true, s
			}
		}
		return false, s
	},
	Hash: func(state any) uint64 {
		s := state.(regState)
		if !s.found {
			return math.MaxUint64
		}
		return uint64(s.value)
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		out := output.(regOutput)
		var d string
		switch in.op {
		case opRead:
			return "read() → " + describeReg(regState{found: out.found, value: out.value})
		case opWrite:
			d = fmt.Sprintf("write(%d)", in.value)
		case opCAS:
			d = fmt.Sprintf("cas(%d → %d)", in.expect, in.value)
		}
		switch out.kind {
		case outUnknown:
			return d + " → ?"
		case outMismatch:
			return d + " → mismatch"
		}
		return d
	},
	DescribeState:             func(state any) string { return describeReg(state.(regState)) },
	DescribeOperationMetadata: describeMetadata,
}

type listInput struct {
	op   opKind
	elem int64
}

type listOutput struct {
	kind outKind
	// list is the read list in the same encoding as the state.
	list string
}

// encodeList renders a list as comma separated decimals; the list model's
// state is this string so states compare with == and hash cheaply.
func encodeList(l []int64) string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(e, 10))
	}
	return b.String()
}

// listModel is an append-only list per key: append adds an element at the
// end, a read must return exactly the list. Indeterminate appends are handled
// as in registerModel.
var listModel = porcupine.Model{
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s := state.(string)
		in := input.(listInput)
		out := output.(listOutput)
		if in.op == opRead {
			return s == out.list, s
		}
		e := strconv.FormatInt(in.elem, 10)
		if s == "" {
			return true, e
		}
		return true, s + "," + e
	},
	Hash: func(state any) uint64 {
		h := fnv.New64a()
		h.Write([]byte(state.(string)))
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in := input.(listInput)
		out := output.(listOutput)
		if in.op == opRead {
			return "read() → [" + out.list + "]"
		}
		if out.kind == outUnknown {
			return fmt.Sprintf("append(%d) → ?", in.elem)
		}
		return fmt.Sprintf("append(%d)", in.elem)
	},
	DescribeState:             func(state any) string { return "[" + state.(string) + "]" },
	DescribeOperationMetadata: describeMetadata,
}

// opMetadata links a porcupine operation back to the history.
type opMetadata struct {
	invokeIndex int
	process     history.Process
	node        string
}

func describeMetadata(m any) string {
	md, ok := m.(opMetadata)
	if !ok {
		return ""
	}
	return fmt.Sprintf("op %d, process %s, node %s", md.invokeIndex, md.process, md.node)
}

func modelByName(name string) (porcupine.Model, error) {
	switch name {
	case ModelRegister:
		return registerModel, nil
	case ModelList:
		return listModel, nil
	}
	return porcupine.Model{}, fmt.Errorf("unknown model %q (want %q or %q)", name, ModelRegister, ModelList)
}

// toOperation converts one pair to a porcupine operation for model, or
// reports false when the pair carries no information for it: failed or
// indeterminate reads, failed writes and appends, failed cas without a
// mismatch, and ops of functions the model does not know.
func toOperation(model string, p history.Pair) (porcupine.Operation, bool) {
	inv := p.Invoke
	outcome := p.Outcome()
	if outcome == history.Fail && !(inv.F == history.FCAS && p.Completion != nil && strings.HasPrefix(p.Completion.Error, CASMismatchError)) {
		return porcupine.Operation{}, false
	}
	if inv.F == history.FRead && outcome != history.OK {
		return porcupine.Operation{}, false
	}
	kind := outOK
	switch outcome {
	case history.Info:
		kind = outUnknown
	case history.Fail:
		kind = outMismatch
	}
	op := porcupine.Operation{
		ClientId: int(inv.Process),
		Call:     inv.Time,
		Return:   p.ReturnTime(),
		Metadata: opMetadata{invokeIndex: inv.Index, process: inv.Process, node: inv.Node},
	}
	switch model {
	case ModelRegister:
		switch inv.F {
		case history.FRead:
			out := regOutput{kind: outOK}
			if v := p.Completion.Value; v != nil {
				out.found, out.value = true, *v
			}
			op.Input, op.Output = regInput{op: opRead}, out
		case history.FWrite:
			if inv.Value == nil {
				return op, false
			}
			op.Input, op.Output = regInput{op: opWrite, value: *inv.Value}, regOutput{kind: kind}
		case history.FCAS:
			if inv.Value == nil || inv.Expect == nil {
				return op, false
			}
			op.Input, op.Output = regInput{op: opCAS, expect: *inv.Expect, value: *inv.Value}, regOutput{kind: kind}
		default:
			return op, false
		}
	case ModelList:
		switch inv.F {
		case history.FRead:
			op.Input, op.Output = listInput{op: opRead}, listOutput{kind: outOK, list: encodeList(p.Completion.List)}
		case history.FAppend:
			if inv.Value == nil || kind == outMismatch {
				return op, false
			}
			op.Input, op.Output = listInput{op: opAppend, elem: *inv.Value}, listOutput{kind: kind}
		default:
			return op, false
		}
	default:
		return op, false
	}
	return op, true
}

// partitionByKey groups the client ops of h that model can check by key, in
// invoke order, and returns the keys sorted.
func partitionByKey(model string, h history.History) (map[string][]porcupine.Operation, []string) {
	byKey := make(map[string][]porcupine.Operation)
	for _, p := range clientPairs(h) {
		op, ok := toOperation(model, p)
		if !ok {
			continue
		}
		byKey[p.Invoke.Key] = append(byKey[p.Invoke.Key], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return byKey, keys
}
