package checker

import (
	"context"
	"fmt"
	"runtime"
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
	DurationMillis   int64    `json:"duration_ms"`
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
}

// Name returns "linearizability".
func (l Linearizability) Name() string { return "linearizability" }

type keyResult struct {
	key    string
	result porcupine.CheckResult
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
	results := checkKeys(ctx, model, byKey, keys)

	var failing []string
	for _, kr := range results {
		switch kr.result {
		case porcupine.Illegal:
			failing = append(failing, kr.key)
		case porcupine.Unknown:
			details.TimedOutKeys = boundedAppend(details.TimedOutKeys, maxKeys, kr.key)
			details.TimedOutKeyCount++
		}
	}
	details.FailingKeyCount = len(failing)
	for i, k := range failing {
		if i >= maxKeys {
			break
		}
		details.FailingKeys = append(details.FailingKeys, describeFailingKey(ctx, model, k, byKey[k]))
	}
	details.DurationMillis = time.Since(start).Milliseconds()

	switch {
	case details.FailingKeyCount > 0:
		res.Verdict = Invalid
		res.Reason = fmt.Sprintf("%d of %d keys are not linearizable (first: %q)", details.FailingKeyCount, len(keys), failing[0])
	case details.TimedOutKeyCount > 0:
		res.Verdict = Unknown
		res.Reason = fmt.Sprintf("the search for %d of %d keys did not finish within the check timeout %s", details.TimedOutKeyCount, len(keys), in.CheckTimeout)
	default:
		res.Verdict = Valid
		res.Reason = fmt.Sprintf("%d ops on %d keys are linearizable", details.OpsChecked, len(keys))
	}
	return res
}

// checkKeys checks every key with a bounded pool of workers. A key whose
// search is cut short by ctx is porcupine.Unknown.
func checkKeys(ctx context.Context, model porcupine.Model, byKey map[string][]porcupine.Operation, keys []string) []keyResult {
	results := make([]keyResult, len(keys))
	workers := runtime.GOMAXPROCS(0)
	if workers > len(keys) {
		workers = len(keys)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = keyResult{key: keys[i], result: checkOneKey(ctx, model, byKey[keys[i]])}
			}
		}()
	}
	for i := range keys {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// checkOneKey runs porcupine on one key's operations with whatever time is
// left before ctx's deadline.
func checkOneKey(ctx context.Context, model porcupine.Model, ops []porcupine.Operation) porcupine.CheckResult {
	if ctx.Err() != nil {
		return porcupine.Unknown
	}
	var timeout time.Duration
	if deadline, ok := ctx.Deadline(); ok {
		timeout = time.Until(deadline)
		if timeout <= 0 {
			return porcupine.Unknown
		}
	}
	return porcupine.CheckOperationsTimeout(model, ops, timeout)
}

// describeFailingKey reruns the search verbosely to find how far it got.
func describeFailingKey(ctx context.Context, model porcupine.Model, key string, ops []porcupine.Operation) FailingKey {
	fk := FailingKey{Key: key, Ops: len(ops), StartTime: ops[0].Call}
	for _, op := range ops {
		if op.Return != infinity && op.Return > fk.EndTime {
			fk.EndTime = op.Return
		}
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
	_, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	for _, partition := range info.PartialLinearizations() {
		for _, lin := range partition {
			if len(lin) > fk.LongestLinearizable {
				fk.LongestLinearizable = len(lin)
			}
		}
	}
	return fk
}

// verboseTimeout bounds the verbose rerun of one failing key; the plain
// search already proved the key illegal, so this only adds detail.
const verboseTimeout = 10 * time.Second

const infinity = int64(^uint64(0) >> 1)
