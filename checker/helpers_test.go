package checker

import (
	"github.com/faultline/faultline/history"
)

// builder writes hand-made histories: every record is 10 ns after the
// previous one, so the order of calls is the order of time.
type builder struct {
	h history.History
}

func (b *builder) add(op history.Op) *builder {
	op.Index = len(b.h)
	op.Time = int64(10 * (len(b.h) + 1))
	b.h = append(b.h, op)
	return b
}

func v(x int64) *int64 { return history.IntPtr(x) }

// invoke starts an op of process p.
func (b *builder) invoke(p int, f, key string, value, expect *int64) *builder {
	return b.add(history.Op{Type: history.Invoke, Process: history.Process(p), F: f, Key: key, Value: value, Expect: expect})
}

// complete finishes process p's op with typ; value is the read result or
// the written value.
func (b *builder) complete(p int, typ history.Type, f, key string, value *int64) *builder {
	return b.add(history.Op{Type: typ, Process: history.Process(p), F: f, Key: key, Value: value})
}

func (b *builder) write(p int, key string, x int64, typ history.Type) *builder {
	return b.invoke(p, history.FWrite, key, v(x), nil).complete(p, typ, history.FWrite, key, v(x))
}

func (b *builder) read(p int, key string, result *int64) *builder {
	return b.invoke(p, history.FRead, key, nil, nil).complete(p, history.OK, history.FRead, key, result)
}

func (b *builder) cas(p int, key string, expect, x int64, typ history.Type, errText string) *builder {
	b.invoke(p, history.FCAS, key, v(x), v(expect))
	return b.add(history.Op{Type: typ, Process: history.Process(p), F: history.FCAS, Key: key, Value: v(x), Expect: v(expect), Error: errText})
}

func (b *builder) appendOp(p int, key string, x int64, typ history.Type) *builder {
	return b.invoke(p, history.FAppend, key, v(x), nil).complete(p, typ, history.FAppend, key, v(x))
}

func (b *builder) readList(p int, key string, final bool, list ...int64) *builder {
	b.add(history.Op{Type: history.Invoke, Process: history.Process(p), F: history.FRead, Key: key, Final: final, Node: "n1"})
	return b.add(history.Op{Type: history.OK, Process: history.Process(p), F: history.FRead, Key: key, Final: final, List: list, Node: "n1"})
}

// fault starts (start=true) or heals a fault of kind through the nemesis.
func (b *builder) fault(kind string, start bool) *builder {
	f := history.FStop
	if start {
		f = history.FStart
	}
	fault := &history.Fault{Kind: kind, Targets: []string{"n1"}}
	b.add(history.Op{Type: history.Invoke, Process: history.NemesisProcess, F: f, Fault: fault})
	return b.add(history.Op{Type: history.OK, Process: history.NemesisProcess, F: f, Fault: fault})
}

// explodingRegisterKey adds one register key whose search space is
// exponential: many fully concurrent writes and reads, plus a read of a value
// never written, which is rejected only after trying every order.
func explodingRegisterKey(b *builder, key string) *builder {
	const n = 24
	for p := 0; p < n; p++ {
		b.invoke(p, history.FWrite, key, v(int64(p)), nil)
		b.invoke(n+p, history.FRead, key, nil, nil)
	}
	b.invoke(2*n, history.FRead, key, nil, nil)
	for p := 0; p < n; p++ {
		b.complete(p, ok, history.FWrite, key, v(int64(p)))
		b.complete(n+p, ok, history.FRead, key, v(int64((p+1)%n)))
	}
	return b.complete(2*n, ok, history.FRead, key, v(999))
}
