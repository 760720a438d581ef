package jepsen

import (
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/history"
)

// NemesisKind is the fault kind of Jepsen's classic :start/:stop nemesis,
// whose ops do not say what the fault was.
const NemesisKind = "nemesis"

// nemesisFaults finds the nemesis :f values that open and close a fault
// window, and the kind of each: :start-X/:stop-X (kind X), :pause/:resume
// (kind pause) and :start/:stop (kind nemesis) when both appear. :start is
// left out when the history also has :kill, since Jepsen's db nemesis then
// uses :start to restart what :kill stopped.
func nemesisFaults(ops []Value) (start, stop map[string]string) {
	fs := map[string]bool{}
	for _, v := range ops {
		p, _ := v.Get("process")
		f, _ := v.Get("f")
		if p.IsKeyword("nemesis") && f.Kind == Keyword {
			fs[f.Text] = true
		}
	}
	start, stop = map[string]string{}, map[string]string{}
	pair := func(a, b, kind string) {
		if fs[a] && fs[b] {
			start[a], stop[b] = kind, kind
		}
	}
	for f := range fs {
		if kind, ok := strings.CutPrefix(f, "start-"); ok && kind != "" {
			pair(f, "stop-"+kind, kind)
		}
	}
	pair("pause", "resume", "pause")
	if !fs["kill"] {
		pair("start", "stop", NemesisKind)
	}
	return start, stop
}

// nemesisOp adds a nemesis op whose :f maps to a fault window, or counts it
// as dropped. Jepsen records a nemesis op as two :info ops (or an :invoke and
// an :info); the first becomes the invoke and the second its completion.
func (c *converter) nemesisOp(v Value, op history.Op) error {
	jf := op.F
	kind, isStart := c.nemesisStart[jf]
	if !isStart {
		var isStop bool
		if kind, isStop = c.nemesisStop[jf]; !isStop {
			c.dropped[jf]++
			return nil
		}
		op.F = history.FStop
	} else {
		op.F = history.FStart
	}
	op.Error = ""
	op.Fault = &history.Fault{Kind: kind, Action: jf}
	if val, _ := v.Get("value"); val.Kind != Nil {
		text := val.String()
		if val.Kind == String {
			text = val.Text
		}
		op.Fault.Params = map[string]string{"value": text}
	}
	o, isOpen := c.open[history.NemesisProcess]
	switch {
	case !isOpen:
		op.Type = history.Invoke
		c.open[history.NemesisProcess] = openOp{at: len(c.out), line: v.Line, f: jf}
	case o.f == jf:
		op.Type = history.OK
		delete(c.open, history.NemesisProcess)
	default:
		return fmt.Errorf("line %d: nemesis :%s begins while nemesis :%s from line %d has not completed; Jepsen's nemesis runs one op at a time", v.Line, jf, o.f, o.line)
	}
	c.out = append(c.out, op)
	return nil
}

// clientOp adds a client op: an invoke opens the process, a completion
// closes it and takes the invoke's key and arguments.
func (c *converter) clientOp(v Value, op history.Op) error {
	val, _ := v.Get("value")
	key, val, err := c.splitKey(v, op, val)
	if err != nil {
		return err
	}
	op.Key = key
	if c.workload == WorkloadSet && op.F == history.FAppend {
		return fmt.Errorf("%w: line %d: :f :append is Jepsen's list-append (Elle) workload, which faultline does not check; faultline reads %s for --workload set",
			ErrUnsupported, v.Line, supported[WorkloadSet])
	}
	if c.workload == WorkloadSet && op.F == jepsenAdd {
		op.F = history.FAppend
	}
	o, isOpen := c.open[op.Process]
	if op.Type == history.Invoke {
		if c.retired[op.Process] {
			return fmt.Errorf("line %d: process %s invokes :%s after it saw an :info; Jepsen gives a crashed process a new number, so this history is malformed", v.Line, op.Process, op.F)
		}
		if isOpen {
			return fmt.Errorf("line %d: process %s invokes :%s while its :%s from line %d has not completed", v.Line, op.Process, op.F, c.out[o.at].F, o.line)
		}
		if err := c.arguments(v, &op, val); err != nil {
			return err
		}
		c.open[op.Process] = openOp{at: len(c.out), line: v.Line, f: op.F}
		c.out = append(c.out, op)
		return nil
	}
	if !isOpen {
		return fmt.Errorf("line %d: :%s completion of process %s, which has no :invoke open", v.Line, op.Type, op.Process)
	}
	inv := c.out[o.at]
	if inv.F != op.F {
		return fmt.Errorf("line %d: :%s completion has :f :%s but the :invoke on line %d has :f :%s", v.Line, op.Type, op.F, o.line, inv.F)
	}
	if key != "" && key != inv.Key {
		return fmt.Errorf("line %d: completion is for key %s but the :invoke on line %d is for key %s", v.Line, key, o.line, inv.Key)
	}
	op.Key, op.Value, op.Expect = inv.Key, inv.Value, inv.Expect
	if op.F == history.FRead && op.Type == history.OK {
		if err := c.readResult(v, &op, val); err != nil {
			return err
		}
	}
	delete(c.open, op.Process)
	if op.Type == history.Info {
		c.retired[op.Process] = true
	}
	if c.workload == WorkloadSet && op.F == history.FRead && op.Type == history.OK {
		c.lastRead[op.Key] = [2]int{o.at, len(c.out)}
	}
	c.out = append(c.out, op)
	return nil
}

// splitKey returns the op's key and the value without it: the [key value]
// tuple of jepsen.independent, or the workload's single key. Whether a
// history is independent is decided by the first op whose value tells, and
// every other op must agree.
func (c *converter) splitKey(v Value, op history.Op, val Value) (string, Value, error) {
	tuple := val.Kind == Vector && len(val.Items) == 2
	if tuple && (op.F == history.FCAS || c.workload == WorkloadSet && op.F == history.FRead) {
		// A plain cas is [expected new] and a plain set read a vector of
		// elements: a tuple's second item is itself a collection (or nil).
		second := val.Items[1]
		tuple = second.IsCollection() || second.Kind == Nil
	}
	telling := tuple || val.Kind != Nil || op.Type == history.Invoke
	switch {
	case !telling:
		// A nil value on a completion says nothing either way.
	case c.independent == unset:
		c.independent = no
		if tuple {
			c.independent = yes
		}
	case c.independent == yes && !tuple:
		return "", val, fmt.Errorf("line %d: :value %s is not a [key value] tuple, but earlier ops are (jepsen.independent); a history's ops are all tuples or none", v.Line, val)
	case c.independent == no && tuple:
		return "", val, fmt.Errorf("line %d: :value %s is a [key value] tuple, but earlier ops are not; a history's ops are all jepsen.independent tuples or none", v.Line, val)
	}
	if c.independent != yes {
		return c.workload, val, nil
	}
	if !tuple {
		return "", val, nil // a completion with :value nil; the invoke's key is taken
	}
	k := val.Items[0]
	if k.IsCollection() || k.Kind == Map {
		return "", val, fmt.Errorf("line %d: key %s of an independent tuple is a %s; faultline reads integer, keyword or string keys", v.Line, k, k.Kind)
	}
	key := k.String()
	if k.Kind == String {
		key = k.Text
	}
	return key, val.Items[1], nil
}

// supported names the functions of each workload, for error messages.
var supported = map[string]string{
	WorkloadRegister: ":read, :write and :cas",
	WorkloadSet:      ":add and :read",
}

// arguments sets an invoke's F (in faultline's names) and its arguments.
func (c *converter) arguments(v Value, op *history.Op, val Value) error {
	switch c.workload + "/" + op.F {
	case WorkloadRegister + "/" + history.FRead, WorkloadSet + "/" + history.FRead:
		return nil // a read's invoke value, if any, is what it expects to see: not an argument
	case WorkloadRegister + "/" + history.FWrite:
		n, err := integer(v, "a :write's value", val)
		op.Value = &n
		return err
	case WorkloadRegister + "/" + history.FCAS:
		if val.Kind != Vector && val.Kind != List || len(val.Items) != 2 {
			return fmt.Errorf("line %d: a :cas's value is %s; faultline reads [expected new] with two integers", v.Line, val)
		}
		expect, err := integer(v, "a :cas's expected value", val.Items[0])
		if err != nil {
			return err
		}
		n, err := integer(v, "a :cas's new value", val.Items[1])
		op.Expect, op.Value = &expect, &n
		return err
	case WorkloadSet + "/" + history.FAppend:
		n, err := integer(v, "an :add's element", val)
		op.Value = &n
		return err
	}
	other := WorkloadSet
	if c.workload == WorkloadSet {
		other = WorkloadRegister
	}
	return fmt.Errorf("%w: line %d: :f :%s is not a %s operation; faultline reads %s for --workload %s (and %s for --workload %s)",
		ErrUnsupported, v.Line, op.F, c.workload, supported[c.workload], c.workload, supported[other], other)
}

// readResult sets what an ok read returned: a register's value (nil is the
// absent register) or a set's elements, sorted.
func (c *converter) readResult(v Value, op *history.Op, val Value) error {
	if c.workload == WorkloadRegister {
		if val.Kind == Nil {
			return nil
		}
		n, err := integer(v, "a :read's value", val)
		op.Value = &n
		return err
	}
	if val.Kind == Nil {
		op.List = []int64{}
		return nil
	}
	if !val.IsCollection() {
		return fmt.Errorf("%w: line %d: a set :read's value is %s; faultline reads a set #{...} or vector [...] of integers", ErrUnsupported, v.Line, val)
	}
	op.List = make([]int64, 0, len(val.Items))
	for _, e := range val.Items {
		n, err := integer(v, "a set element", e)
		if err != nil {
			return err
		}
		op.List = append(op.List, n)
	}
	slices.Sort(op.List)
	return nil
}

func integer(v Value, what string, val Value) (int64, error) {
	if val.Kind != Int {
		return 0, fmt.Errorf("%w: line %d: %s is %s; faultline reads integers there", ErrUnsupported, v.Line, what, val)
	}
	return val.Int, nil
}
