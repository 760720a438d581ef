package checker

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// DefaultMaxFailingKeys bounds the failing and timed-out keys listed in
// LinearizabilityDetails and the keys for which the verbose search runs.
const DefaultMaxFailingKeys = 20

// Linearizability checks every key's operations against Model with porcupine.
// The history is partitioned by key (keys are independent objects) and keys
// are checked in parallel by at most GOMAXPROCS workers, so memory stays
// proportional to the largest key, not the whole history.
type Linearizability struct {
	// Model is ModelRegister or ModelList.
	Model string
	// MaxFailingKeys bounds the lists in the details; 0 means
	// DefaultMaxFailingKeys.
	MaxFailingKeys int
	// SearchMemoryBytes bounds the heap while searching; a key whose search
	// is stopped for it is unknown. 0 means DefaultSearchMemoryBytes().
	SearchMemoryBytes uint64
}

// LinearizabilityDetails is the Details of a linearizability Result.
type LinearizabilityDetails struct {
	Model       string `json:"model"`
	KeysChecked int    `json:"keys_checked"`
	OpsChecked  int    `json:"ops_checked"`
	// FailingKeys holds up to MaxFailingKeys keys that are not
	// linearizable; FailingKeyCount counts all of them.
	FailingKeys     []FailingKey `json:"failing_keys,omitempty"`
	FailingKeyCount int          `json:"failing_key_count"`
	// TimedOutKeys are keys whose search did not finish in time.
	TimedOutKeys     []string `json:"timed_out_keys,omitempty"`
	TimedOutKeyCount int      `json:"timed_out_key_count"`
	// OverBudgetKeys are keys whose search was stopped because the heap
	// passed SearchMemoryBytes.
	OverBudgetKeys     []string `json:"over_budget_keys,omitempty"`
	OverBudgetKeyCount int      `json:"over_budget_key_count"`
	DurationMillis     int64    `json:"duration_ms"`
}

// FailingKey describes a key whose operations are not linearizable. The
// report draws it with VisualizeKey(h, Model, Key, path).
type FailingKey struct {
	Key string `json:"key"`
	// Ops is the number of operations of the key that were checked.
	Ops int `json:"ops"`
	// LongestLinearizable is the length of the longest linearizable prefix
	// porcupine found (0 when the verbose search was not run).
	LongestLinearizable int `json:"longest_linearizable"`
	// StartTime and EndTime bound the key's operations (run nanoseconds;
	// EndTime ignores indeterminate ops, which never return).
	StartTime int64 `json:"start_time"`
	EndTime   int64 `json:"end_time"`
	// FirstFlagged is the invoke time of the op the longest partial
	// linearization porcupine found could not take (see firstUnlinearized),
	// or of the read listPrecheck flagged. Nil when the verbose search did
	// not finish.
	FirstFlagged *int64 `json:"first_flagged_ns,omitempty"`
}

// Name returns "linearizability".
func (l Linearizability) Name() string { return "linearizability" }

type keyResult struct {
	key string
	// model is the one the key was (or would be) searched with.
	model  porcupine.Model
	result porcupine.CheckResult
	// overBudget: the memory guard stopped the search (result Unknown).
	overBudget bool
	// flagged is set when a precheck proved the key illegal without a
	// search: the call time of the first op it flags.
	flagged *int64
}

// Check runs porcupine on every key within in.CheckTimeout.
func (l Linearizability) Check(ctx context.Context, in Input) Result {
	start := time.Now()
	res := Result{Checker: l.Name()}
	model, err := modelByName(l.Model)
	if err != nil {
		res.Verdict, res.Reason = Unknown, err.Error()
		return res
	}
	if err := in.History.Validate(); err != nil {
		res.Verdict, res.Reason = Unknown, fmt.Sprintf("history is malformed: %v", err)
		return res
	}
	maxKeys := l.MaxFailingKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxFailingKeys
	}
	byKey, keys := partitionByKey(l.Model, in.History)
	details := &LinearizabilityDetails{Model: l.Model, KeysChecked: len(keys)}
	for _, k := range keys {
		details.OpsChecked += len(byKey[k])
	}
	res.Details = details
	if details.OpsChecked == 0 {
		res.Verdict, res.Reason = Unknown, fmt.Sprintf("no %s operations to check", l.Model)
		return res
	}

	if in.CheckTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, in.CheckTimeout)
		defer cancel()
	}
	guard := newMemoryGuard(l.SearchMemoryBytes)
	defer guard.Close()
	results := checkKeys(ctx, guard, l.Model, model, byKey, keys)

	var failing []string
	illegal := make(map[string]keyResult)
	for _, kr := range results {
		switch {
		case kr.result == porcupine.Illegal:
			failing = append(failing, kr.key)
			illegal[kr.key] = kr
		case kr.overBudget:
			details.OverBudgetKeys = boundedAppend(details.OverBudgetKeys, maxKeys, kr.key)
			details.OverBudgetKeyCount++
		case kr.result == porcupine.Unknown:
			details.TimedOutKeys = boundedAppend(details.TimedOutKeys, maxKeys, kr.key)
			details.TimedOutKeyCount++
		}
	}
	details.FailingKeyCount = len(failing)
	// Describe the earliest failing keys first: the bound on the verbose
	// searches then keeps the keys that say when the violation began.
	// byKey holds each key's ops in invoke order, so [0] starts the key.
	sort.SliceStable(failing, func(i, j int) bool { return byKey[failing[i]][0].Call < byKey[failing[j]][0].Call })
	for i, k := range failing {
		if i >= maxKeys {
			break
		}
		fk := describeFailingKey(ctx, guard, illegal[k].model, k, byKey[k], illegal[k].flagged)
		details.FailingKeys = append(details.FailingKeys, fk)
		res.FirstFlagged = minTime(res.FirstFlagged, fk.FirstFlagged)
	}
	details.DurationMillis = time.Since(start).Milliseconds()

	switch {
	case details.FailingKeyCount > 0:
		res.Verdict = Invalid
		res.Reason = fmt.Sprintf("%d of %d keys are not linearizable (first: %q)", details.FailingKeyCount, len(keys), failing[0])
	case details.TimedOutKeyCount > 0 || details.OverBudgetKeyCount > 0:
		res.Verdict = Unknown
		var parts []string
		if n := details.TimedOutKeyCount; n > 0 {
			parts = append(parts, fmt.Sprintf("the search for %d of %d keys did not finish within the check timeout %s", n, len(keys), in.CheckTimeout))
		}
		if n := details.OverBudgetKeyCount; n > 0 {
			parts = append(parts, fmt.Sprintf("the search for %d of %d keys was stopped when the heap passed %d MiB", n, len(keys), guard.budget>>20))
		}
		res.Reason = strings.Join(parts, "; ")
	default:
		res.Verdict = Valid
		res.Reason = fmt.Sprintf("%d ops on %d keys are linearizable", details.OpsChecked, len(keys))
	}
	return res
}

// firstPassKeyTimeout caps each key's search in the first pass of checkKeys.
// Almost every key is decided in milliseconds; a few keys with many
// indeterminate writes can take minutes. Without a first pass those few
// would hold every worker until the budget ran out and leave the easy keys
// (perhaps the one with the violation) unchecked.
const firstPassKeyTimeout = 2 * time.Second

// checkKeys checks every key with a bounded pool of workers, in two passes:
// first every key with at most firstPassKeyTimeout each, then the keys that
// were not decided with whatever time is left. A key whose search is cut
// short by ctx is porcupine.Unknown.
func checkKeys(ctx context.Context, guard *memoryGuard, modelName string, model porcupine.Model, byKey map[string][]porcupine.Operation, keys []string) []keyResult {
	results := make([]keyResult, len(keys))
	var all []int
	for i, k := range keys {
		keyModel, flagged := prepareKey(modelName, model, byKey[k])
		results[i] = keyResult{key: k, model: keyModel}
		if flagged != nil {
			results[i].result, results[i].flagged = porcupine.Illegal, flagged
			continue
		}
		all = append(all, i)
	}
	checkPass(ctx, guard, byKey, all, firstPassKeyTimeout, results)
	var undecided []int
	for _, i := range all {
		if results[i].result == porcupine.Unknown {
			undecided = append(undecided, i)
		}
	}
	checkPass(ctx, guard, byKey, undecided, 0, results)
	return results
}

// checkPass checks results[i]'s key against its model for every i in which,
// with per-key timeout keyTimeout (0: only ctx's deadline bounds it), storing
// the outcome into results[i].
func checkPass(ctx context.Context, guard *memoryGuard, byKey map[string][]porcupine.Operation,
	which []int, keyTimeout time.Duration, results []keyResult) {
	workers := min(runtime.GOMAXPROCS(0), len(which))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := &results[i]
				r.result, r.overBudget = checkOneKey(ctx, guard, r.model, byKey[r.key], keyTimeout)
			}
		}()
	}
	for _, i := range which {
		next <- i
	}
	close(next)
	wg.Wait()
}

// checkOneKey runs porcupine on one key's operations for at most keyTimeout
// (0: no cap), never past ctx's deadline and within guard's memory budget
// (overBudget: it was stopped for memory).
func checkOneKey(ctx context.Context, guard *memoryGuard, model porcupine.Model, ops []porcupine.Operation, keyTimeout time.Duration) (result porcupine.CheckResult, overBudget bool) {
	if ctx.Err() != nil {
		return porcupine.Unknown, false
	}
	timeout := keyTimeout
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		if left <= 0 {
			return porcupine.Unknown, false
		}
		if timeout == 0 || left < timeout {
			timeout = left
		}
	}
	result, _, overBudget = guard.search(model, ops, timeout, false)
	return result, overBudget
}

// describeFailingKey reruns the search verbosely to find how far it got,
// unless a precheck already flagged an op (flagged non-nil).
func describeFailingKey(ctx context.Context, guard *memoryGuard, model porcupine.Model, key string, ops []porcupine.Operation, flagged *int64) FailingKey {
	fk := FailingKey{Key: key, Ops: len(ops), StartTime: ops[0].Call}
	for _, op := range ops {
		if op.Return != infinity && op.Return > fk.EndTime {
			fk.EndTime = op.Return
		}
	}
	if flagged != nil {
		fk.FirstFlagged = flagged
		return fk
	}
	timeout := verboseTimeout
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline); left < timeout {
			timeout = left
		}
	}
	if timeout <= 0 {
		return fk
	}
	result, info, _ := guard.search(model, ops, timeout, true)
	var longest [][]int
	for _, partition := range info.PartialLinearizations() {
		for _, lin := range partition {
			switch {
			case len(lin) > fk.LongestLinearizable:
				fk.LongestLinearizable = len(lin)
				longest = [][]int{lin}
			case len(lin) == fk.LongestLinearizable:
				longest = append(longest, lin)
			}
		}
	}
	if result == porcupine.Illegal {
		fk.FirstFlagged = firstUnlinearized(ops, longest)
	}
	return fk
}

// firstUnlinearized returns the call time of the op that a longest
// partial linearization could not take: of the ops it leaves out, the one
// that returns first. Porcupine walks the history in time order and
// backtracks at the first return of an op it has not linearized, so that op
// is the one it flags; ops left out that return later (a slow read invoked
// long before, an indeterminate write, which never returns) were merely still
// pending. Porcupine numbers ops by their position in ops (the models do not
// partition), so a linearization is a list of indexes into ops. When several
// linearizations are equally long, the latest flagged op is taken: every
// explanation the search found has broken down by then. Nil when every op
// with a return is covered (which an illegal history cannot produce).
func firstUnlinearized(ops []porcupine.Operation, longest [][]int) *int64 {
	var flagged *int64
	for _, lin := range longest {
		in := make([]bool, len(ops))
		for _, id := range lin {
			if id >= 0 && id < len(ops) {
				in[id] = true
			}
		}
		blocking := -1
		for i, op := range ops {
			if in[i] || op.Return == infinity {
				continue
			}
			if blocking < 0 || op.Return < ops[blocking].Return {
				blocking = i
			}
		}
		if blocking < 0 {
			continue
		}
		if call := ops[blocking].Call; flagged == nil || call > *flagged {
			flagged = &call
		}
	}
	return flagged
}

// verboseTimeout bounds the verbose rerun of one failing key; the plain
// search already proved the key illegal, so this only adds detail.
const verboseTimeout = 10 * time.Second

const infinity = int64(^uint64(0) >> 1)
