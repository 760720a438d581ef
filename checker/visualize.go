package checker

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/history"
)

// VisualizeTimeout bounds the search VisualizeKey runs for one key.
var VisualizeTimeout = time.Minute

// VisualizeMemoryBytes bounds the heap during that search. The drawing only
// needs the partial linearizations found so far, and the report draws
// several keys, so the budget is well below the checker's.
var VisualizeMemoryBytes uint64 = 1 << 30

// VisualizeKey checks one key of h against model again, verbosely, and writes
// porcupine's HTML visualization of its (partial) linearizations to path. The
// fault windows of h that overlap the key's operations are added as
// annotations on a "nemesis" row. Process ids are renumbered densely in order
// of first appearance so the drawing has one row per process of this key.
func VisualizeKey(h history.History, model string, key string, path string) error {
	m, err := modelByName(model)
	if err != nil {
		return fmt.Errorf("visualize key %q: %w", key, err)
	}
	var ops []porcupine.Operation
	clients := map[int]int{}
	for _, p := range clientPairs(h) {
		if p.Invoke.Key != key {
			continue
		}
		op, ok := toOperation(model, p)
		if !ok {
			continue
		}
		id, seen := clients[op.ClientId]
		if !seen {
			id = len(clients)
			clients[op.ClientId] = id
		}
		op.ClientId = id
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return fmt.Errorf("visualize key %q: no %s operations on this key", key, model)
	}
	guard := newMemoryGuard(min(VisualizeMemoryBytes, DefaultSearchMemoryBytes()))
	defer guard.Close()
	keyModel, _ := prepareKey(model, m, ops)
	_, info, _ := guard.search(keyModel, ops, VisualizeTimeout, true)
	info.AddAnnotations(faultAnnotations(h.FaultWindows(), ops))
	if err := porcupine.VisualizePath(m, info, path); err != nil {
		return fmt.Errorf("visualize key %q: write %s: %w", key, path, err)
	}
	return nil
}

// faultColors gives each fault kind a background colour in the drawing.
var faultColors = map[string]string{
	"partition": "#f4c7c3",
	"kill":      "#f9cb9c",
	"pause":     "#fff2cc",
	"clock":     "#d9d2e9",
	"loss":      "#cfe2f3",
	"delay":     "#d0e0e3",
}

// faultAnnotations turns the windows overlapping the ops' time span into
// annotations, clamping never-healed windows to the last finite time.
func faultAnnotations(windows []history.Window, ops []porcupine.Operation) []porcupine.Annotation {
	first, last := ops[0].Call, ops[0].Call
	for _, op := range ops {
		first = min(first, op.Call)
		last = max(last, op.Call)
		if op.Return != infinity {
			last = max(last, op.Return)
		}
	}
	var out []porcupine.Annotation
	for _, w := range windows {
		if w.End < first || w.Start > last {
			continue
		}
		end := min(w.End, last)
		var targets []string
		details := ""
		if w.StartOp != nil && w.StartOp.Fault != nil {
			f := w.StartOp.Fault
			targets = append(targets, f.Targets...)
			sort.Strings(targets)
			if b, err := json.Marshal(f); err == nil {
				details = string(b)
			}
		}
		desc := w.Kind
		if len(targets) > 0 {
			desc += " " + strings.Join(targets, ",")
		}
		if w.End == infinity {
			desc += " (never healed)"
		}
		out = append(out, porcupine.Annotation{
			Tag:             "nemesis",
			Start:           w.Start,
			End:             end,
			Description:     desc,
			Details:         details,
			BackgroundColor: faultColors[w.Kind],
		})
	}
	return out
}
