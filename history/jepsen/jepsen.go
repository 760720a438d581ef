// Package jepsen reads a history recorded by Jepsen (history.edn) into a
// faultline history, so that faultline's checkers can judge histories that
// faultline did not record.
//
// A Jepsen history is one EDN collection of op maps, or one op map per line.
// Each op has :type (:invoke, :ok, :fail or :info), :process (an integer, or
// :nemesis), :f and :value, and optionally :time (nanoseconds) and :index.
// Two workloads are understood:
//
//   - register: :read (value an integer or nil), :write (an integer) and :cas
//     ([expected new]) on a compare-and-set register;
//   - set: :add (an integer element) and :read (a set or vector of elements).
//
// Ops of Jepsen's independent keys (jepsen.independent) carry :value [key
// value] and become ops on faultline key "key"; other histories use one key
// named after the workload. Nemesis ops with :f :start/:stop, :start-X/:stop-X
// or :pause/:resume become faultline nemesis ops (process nemesis, with a
// Fault of that kind) so reports shade them; other nemesis ops are dropped and
// counted in Import.Notes. Anything else is an error naming the line and what
// is supported.
package jepsen

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/faultline/faultline/history"
)

// Workload names this package converts for; they match faultline's workloads.
const (
	WorkloadRegister = "register"
	WorkloadSet      = "set"
)

// Op functions Jepsen uses that faultline names differently.
const (
	jepsenAdd = "add"
)

// PositionStep is the time given to each op's position in a history whose
// ops have no :time, so that plots have a readable axis: op i is at i ms.
const PositionStep int64 = 1_000_000

// Import is a Jepsen history read into faultline's format.
type Import struct {
	History history.History
	// Independent is set when the ops were jepsen.independent [key value]
	// tuples.
	Independent bool
	// Notes say what the conversion changed or left out, for the person
	// reading the check's output.
	Notes []string
}

// ErrUnsupported is wrapped by errors for ops that are valid EDN but that
// faultline cannot convert (an unknown :f, a value of the wrong shape).
var ErrUnsupported = errors.New("unsupported op")

// ReadFile reads the Jepsen history at path for workload.
func ReadFile(path, workload string) (Import, error) {
	f, err := os.Open(path)
	if err != nil {
		return Import{}, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	imp, err := Read(f, workload)
	if err != nil {
		return Import{}, fmt.Errorf("%s: %w", path, err)
	}
	return imp, nil
}

// Read converts a Jepsen history for workload ("register" or "set"). Every
// error wraps history.ErrMalformed, names the line at fault and what faultline
// reads there.
func Read(r io.Reader, workload string) (Import, error) {
	if workload != WorkloadRegister && workload != WorkloadSet {
		return Import{}, fmt.Errorf("workload %q: Jepsen histories are read for %q or %q", workload, WorkloadRegister, WorkloadSet)
	}
	ops, err := readOps(r)
	if err != nil {
		return Import{}, fmt.Errorf("%w: %w", history.ErrMalformed, err)
	}
	c := newConverter(workload, ops)
	if err := c.convert(); err != nil {
		return Import{}, fmt.Errorf("%w: %w", history.ErrMalformed, err)
	}
	if err := c.out.Validate(); err != nil {
		return Import{}, fmt.Errorf("%w: after conversion: %v", history.ErrMalformed, err)
	}
	return Import{History: c.out, Independent: c.independent == yes, Notes: c.notes()}, nil
}

// readOps reads the op maps: the items of one top-level vector or list, or
// every top-level form of the file.
func readOps(r io.Reader) ([]Value, error) {
	dec := NewDecoder(r)
	var ops []Value
	whole := false
	for {
		v, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch {
		case whole:
			return nil, fmt.Errorf("line %d: a %s after the history's collection: a history is one collection of ops or one op map per line, not both", v.Line, v.Kind)
		case len(ops) == 0 && (v.Kind == Vector || v.Kind == List):
			whole = true
			ops = v.Items
		case v.Kind == Map:
			ops = append(ops, v)
		default:
			return nil, fmt.Errorf("line %d: a %s (%s) where an op map {:type ..., :f ..., :process ...} was expected", v.Line, v.Kind, v)
		}
		if len(ops) > history.DefaultMaxOps {
			return nil, fmt.Errorf("line %d: more than %d ops; faultline checks at most that many (split the history by time or key)", v.Line, history.DefaultMaxOps)
		}
	}
	if len(ops) == 0 {
		return nil, errors.New("no ops: the file holds no op maps")
	}
	return ops, nil
}

// tri is an undecided, true or false property of the whole history.
type tri uint8

const (
	unset tri = iota
	yes
	no
)

// converter turns op maps into faultline ops, one pass in file order.
type converter struct {
	workload string
	ops      []Value
	out      history.History
	// independent says whether client ops are [key value] tuples; decided by
	// the first op whose value tells.
	independent tri
	// timed says whether ops carry :time; decided by the first op.
	timed     tri
	lastTime  int64
	movedTime int
	// open maps a process to the index in out of its open invoke and the
	// line it came from; retired holds client processes that saw :info.
	open    map[history.Process]openOp
	retired map[history.Process]bool
	// lastRead maps a key to the out indexes of its last ok read (invoke,
	// completion), for the set workload's final read.
	lastRead map[string][2]int
	// nemesis: which :f values map to faults, what was dropped.
	nemesisStart, nemesisStop map[string]string
	dropped                   map[string]int
}

type openOp struct {
	at   int
	line int
	// f is the op's :f as Jepsen wrote it.
	f string
}

func newConverter(workload string, ops []Value) *converter {
	c := &converter{workload: workload, ops: ops, open: map[history.Process]openOp{}, retired: map[history.Process]bool{},
		lastRead: map[string][2]int{}, dropped: map[string]int{}}
	c.nemesisStart, c.nemesisStop = nemesisFaults(ops)
	return c
}

func (c *converter) convert() error {
	for i, v := range c.ops {
		if err := c.convertOne(i, v); err != nil {
			return err
		}
	}
	if c.workload == WorkloadSet {
		for _, at := range c.lastRead {
			c.out[at[0]].Final, c.out[at[1]].Final = true, true
		}
	}
	return nil
}

func (c *converter) convertOne(position int, v Value) error {
	if v.Kind != Map {
		return fmt.Errorf("line %d: op %d is a %s (%s), not an op map {:type ..., :f ..., :process ...}", v.Line, position, v.Kind, v)
	}
	if v.Tag != "" && v.Tag != "jepsen.history.Op" && v.Tag != "knossos.op.Op" {
		return fmt.Errorf("line %d: op %d is tagged #%s; faultline reads plain op maps and #jepsen.history.Op records", v.Line, position, v.Tag)
	}
	typ, err := opType(v)
	if err != nil {
		return err
	}
	proc, nemesis, err := opProcess(v)
	if err != nil {
		return err
	}
	fv, _ := v.Get("f")
	if fv.Kind != Keyword {
		return fmt.Errorf("line %d: :f is %s; an op's :f is a keyword such as :read", v.Line, fv)
	}
	t, err := c.time(position, v)
	if err != nil {
		return err
	}
	op := history.Op{Index: len(c.out), Time: t, Type: typ, Process: proc, F: fv.Text}
	if e, ok := v.Get("error"); ok && e.Kind != Nil {
		op.Error = e.Text
		if e.Kind != String {
			op.Error = e.String()
		}
	}
	if nemesis {
		return c.nemesisOp(v, op)
	}
	return c.clientOp(v, op)
}

func opType(v Value) (history.Type, error) {
	tv, _ := v.Get("type")
	if tv.Kind == Keyword {
		switch t := history.Type(tv.Text); t {
		case history.Invoke, history.OK, history.Fail, history.Info:
			return t, nil
		}
	}
	return "", fmt.Errorf("line %d: :type is %s; it must be :invoke, :ok, :fail or :info", v.Line, tv)
}

func opProcess(v Value) (history.Process, bool, error) {
	pv, _ := v.Get("process")
	switch {
	case pv.IsKeyword("nemesis"):
		return history.NemesisProcess, true, nil
	case pv.Kind == Int && pv.Int >= 0 && pv.Int <= 1<<31-1:
		return history.Process(pv.Int), false, nil
	}
	return 0, false, fmt.Errorf("line %d: :process is %s; it must be a non-negative integer or :nemesis", v.Line, pv)
}

// time returns the op's time: its :time made strictly increasing (Jepsen's
// checkers go by the file's order, and times taken on several threads can
// be a little out of it), or its position when the history has no times.
func (c *converter) time(position int, v Value) (int64, error) {
	tv, has := v.Get("time")
	if has && tv.Kind != Int && tv.Kind != Nil {
		return 0, fmt.Errorf("line %d: :time is %s; it must be an integer (nanoseconds)", v.Line, tv)
	}
	has = has && tv.Kind == Int
	if c.timed == unset {
		c.timed = no
		if has {
			c.timed = yes
		}
	}
	switch {
	case c.timed == no && has:
		return 0, fmt.Errorf("line %d: this op has :time but the first op has none; give every op a :time or none", v.Line)
	case c.timed == yes && !has:
		return 0, fmt.Errorf("line %d: this op has no :time but the first op has one; give every op a :time or none", v.Line)
	case c.timed == no:
		return int64(position) * PositionStep, nil
	}
	t := tv.Int
	if position > 0 && t <= c.lastTime {
		if t < c.lastTime {
			c.movedTime++
		}
		t = c.lastTime + 1
	}
	c.lastTime = t
	return t, nil
}

// notes describes what the conversion changed.
func (c *converter) notes() []string {
	var out []string
	if c.timed == no {
		out = append(out, "the ops have no :time; op i is placed at i ms, in file order")
	}
	if c.movedTime > 0 {
		out = append(out, fmt.Sprintf("%d ops had a :time before the op above them; each was moved to 1 ns after it, keeping the file's order (which is what Jepsen's checkers go by)", c.movedTime))
	}
	if len(c.dropped) > 0 {
		fs := make([]string, 0, len(c.dropped))
		n := 0
		for f, count := range c.dropped {
			fs = append(fs, fmt.Sprintf(":%s ×%d", f, count))
			n += count
		}
		slices.Sort(fs)
		out = append(out, fmt.Sprintf("dropped %d nemesis ops that do not map to a fault window (%s); faultline maps :start/:stop, :start-X/:stop-X and :pause/:resume", n, strings.Join(fs, ", ")))
	}
	if c.workload == WorkloadSet && len(c.lastRead) > 0 {
		out = append(out, "the last ok :read of each key is its final read, as Jepsen's set checker takes it")
	}
	return out
}
