package nemesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/history"
)

// Options configure a Nemesis.
type Options struct {
	// Faults are the enabled kinds (see ParseFaults); empty means none.
	Faults []string
	// Interval is the mean time between fault starts. A quiet spell and the
	// fault after it each last a uniform draw from [0.25, 0.75) of it.
	Interval time.Duration
	// Seed determines the whole schedule.
	Seed int64
	// Logger receives one line per fault started and healed; nil discards.
	Logger *slog.Logger
}

// netemProbeTimeout bounds the netem probe New makes when delay is enabled.
const netemProbeTimeout = 30 * time.Second

// stepTimeout bounds one start or stop made by Run. Run applies each start
// and stop on a context detached from its own, so that cancelling Run never
// interrupts a cluster call halfway (a SIGKILL sent but not yet observed, a
// grudge installed on some nodes only) and leaves the fault state unknown.
// It is two minutes because a stop of a kill waits until the nodes serve
// again, which the Docker backend bounds at 60 s per node.
const stepTimeout = 2 * time.Minute

// Nemesis runs a fault schedule against a Cluster and heals what it did.
type Nemesis struct {
	cluster   Cluster
	rec       Recorder
	opts      Options
	nodes     []string
	log       *slog.Logger
	delayer   Delayer
	silencer  Silencer
	crasher   CrashPointer
	clocker   Clocker
	diskLoser DiskLoser

	// mu serialises applying and healing faults, and guards the state
	// below. It is held across cluster calls: a fault is started, stopped or
	// healed as one unit, and the nemesis ops in the history never overlap.
	mu sync.Mutex
	// active is the fault currently applied, nil between faults.
	active *activeFault
	// killed holds nodes the nemesis killed and has not yet started.
	killed map[string]bool
	// paused holds nodes the nemesis tried to pause and has not resumed;
	// the value says whether the pause call succeeded (a failed pause may
	// still have taken effect, so it is resumed too, but its resume error
	// is only logged).
	paused map[string]bool
	// networkDirty is set once any grudge, loss or delay was installed.
	networkDirty bool
	// clockDirty holds nodes whose clock was touched since the last reset.
	clockDirty map[string]bool
	// armed holds nodes with a crash point the nemesis armed and has not
	// disarmed (or seen restarted).
	armed map[string]bool
	// restartedAt holds when each node that lost its disk was restarted,
	// until it caught up.
	restartedAt map[string]time.Time
	// seq numbers the faults started, to match a stop to its start.
	seq int
	// newLeaderWait bounds stale-leader's wait for an election.
	newLeaderWait time.Duration

	// description is what Active returns; read without mu so a progress
	// line never waits on a slow cluster call.
	description atomic.Pointer[string]
}

type activeFault struct {
	seq   int
	fault history.Fault
}

// New checks opts against the cluster and returns a Nemesis. With delay
// enabled it probes the kernel for netem and fails with ErrNoNetem if it is
// missing.
func New(c Cluster, rec Recorder, opts Options) (*Nemesis, error) {
	nodes := c.Nodes()
	if err := validate(nodes, opts); err != nil {
		return nil, err
	}
	n := &Nemesis{
		cluster:     c,
		rec:         rec,
		opts:        opts,
		nodes:       slices.Clone(nodes),
		log:         opts.Logger,
		killed:      map[string]bool{},
		paused:      map[string]bool{},
		clockDirty:  map[string]bool{},
		armed:       map[string]bool{},
		restartedAt: map[string]time.Time{},

		newLeaderWait: newLeaderWait,
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if hr, ok := c.(HookReporter); ok {
		if err := CheckHooks(hr, opts.Faults); err != nil {
			return nil, err
		}
	}
	if slices.ContainsFunc(opts.Faults, needsClock) {
		cl, ok := c.(Clocker)
		if !ok {
			return nil, fmt.Errorf("the cluster backend has no clock hook: --nemesis %s cannot run here", firstOf(opts.Faults, needsClock))
		}
		n.clocker = cl
	}
	if slices.Contains(opts.Faults, KindDelay) {
		ctx, cancel := context.WithTimeout(context.Background(), netemProbeTimeout)
		defer cancel()
		ok, err := c.NetemAvailable(ctx)
		if err != nil {
			return nil, fmt.Errorf("probe netem for --nemesis delay: %w", err)
		}
		if !ok {
			return nil, ErrNoNetem
		}
		d, isDelayer := c.(Delayer)
		if !isDelayer {
			return nil, fmt.Errorf("the cluster backend cannot delay packets: --nemesis delay cannot run here")
		}
		n.delayer = d
	}
	if slices.Contains(opts.Faults, KindStaleLeader) {
		s, ok := c.(Silencer)
		if !ok {
			return nil, fmt.Errorf("the cluster backend cannot drop outbound packets: --nemesis %s cannot run here", KindStaleLeader)
		}
		n.silencer = s
	}
	for _, kind := range []string{KindVoterCrash, KindFigure8} {
		if !slices.Contains(opts.Faults, kind) {
			continue
		}
		cp, ok := c.(CrashPointer)
		if !ok {
			return nil, fmt.Errorf("the cluster backend has no crash points: --nemesis %s cannot run here", kind)
		}
		n.crasher = cp
	}
	if slices.Contains(opts.Faults, KindDiskLoss) {
		d, ok := c.(DiskLoser)
		if !ok {
			return nil, fmt.Errorf("the cluster backend cannot take a node's disk away: --nemesis %s cannot run here", KindDiskLoss)
		}
		n.diskLoser = d
	}
	return n, nil
}

// needsClock reports whether a fault kind drives a node's clock hook.
func needsClock(kind string) bool { return kind == KindClock || kind == KindSkewedLeader }

// needsCrashPoints reports whether a fault kind arms crash points.
func needsCrashPoints(kind string) bool { return kind == KindVoterCrash || kind == KindFigure8 }

func firstOf(kinds []string, pred func(string) bool) string {
	for _, k := range kinds {
		if pred(k) {
			return k
		}
	}
	return ""
}

// CheckHooks refuses, in one line naming the store and the fault, the
// faults whose hook the store under test lacks. New calls it; a caller that
// knows the store's hooks before any cluster exists calls it to refuse a run
// before it starts.
func CheckHooks(hr HookReporter, faults []string) error {
	if k := firstOf(faults, needsClock); k != "" && !hr.HasClockHook() {
		return fmt.Errorf("--nemesis %s needs a clock hook in the store, and %s has none (its nodes read the host clock, which faultline never touches): drop %s from --nemesis", k, hr.StoreName(), k)
	}
	if k := firstOf(faults, needsCrashPoints); k != "" && !hr.HasCrashPoints() {
		return fmt.Errorf("--nemesis %s needs crash points in the store, and %s has none: drop %s from --nemesis", k, hr.StoreName(), k)
	}
	return nil
}

// Schedule returns the first count steps Run will take.
func (n *Nemesis) Schedule(count int) []Step {
	steps, err := Schedule(n.nodes, n.opts, count)
	if err != nil {
		panic(fmt.Sprintf("nemesis: options validated by New no longer validate: %v", err))
	}
	return steps
}

// Active describes the fault currently applied, e.g. "kill minority n2,n4",
// or returns "" when none is.
func (n *Nemesis) Active() string {
	if d := n.description.Load(); d != nil {
		return *d
	}
	return ""
}

// Run follows the schedule until ctx is done: wait, start a fault, wait,
// heal it, and so on. It returns nil when ctx ends; a fault that fails to
// apply or heal is recorded as info and logged, and the schedule goes on.
// A start or stop under way when ctx ends is finished first (bounded by
// stepTimeout). Run leaves whatever fault is active when ctx ends: call
// HealAll after it (or concurrently: HealAll waits for that start).
func (n *Nemesis) Run(ctx context.Context) error {
	if len(n.opts.Faults) == 0 {
		<-ctx.Done()
		return nil
	}
	p := newPlanner(n.nodes, n.opts.Faults, n.opts.Interval, n.opts.Seed)
	for {
		step := p.next()
		if !sleep(ctx, step.Quiet) {
			return nil
		}
		seq, started := n.start(ctx, step)
		if !started {
			return nil
		}
		if !sleep(ctx, step.Hold) {
			return nil
		}
		n.stop(ctx, seq)
	}
}

// stepContext is the context one start or stop of Run is applied with: not
// cancelled with ctx, but bounded by stepTimeout.
func stepContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), stepTimeout)
}

// HealAll heals every fault the nemesis may have caused: it stops the
// active fault (recording its stop), removes every network fault, resumes
// paused nodes, starts killed nodes and resets the clock of every node (when
// the clock fault is enabled). It is idempotent, safe to call while Run is
// running or after its context was cancelled, and it carries on past errors
// and returns them joined.
func (n *Nemesis) HealAll(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	if n.active != nil {
		errs = append(errs, n.stopLocked(ctx))
	}
	if n.networkDirty || slices.ContainsFunc(n.opts.Faults, isNetworkKind) {
		if err := n.healNetwork(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := n.resumePaused(ctx); err != nil {
		errs = append(errs, err)
	}
	if _, err := n.startKilled(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := n.disarmAll(ctx); err != nil {
		errs = append(errs, err)
	}
	if len(n.clockDirty) > 0 || slices.Contains(n.opts.Faults, KindClock) {
		if _, err := n.resetClocks(ctx, n.nodes); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// start applies step's fault and records it. It returns false without doing
// anything if ctx is already done; once begun, the start is not interrupted
// by ctx (see stepTimeout).
func (n *Nemesis) start(ctx context.Context, step Step) (int, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ctx.Err() != nil {
		return 0, false
	}
	ctx, cancel := stepContext(ctx)
	defer cancel()
	fault := cloneFault(step.Fault)
	if isLeaderShaped(fault) {
		n.resolveLeader(ctx, &fault, step.Fallback)
	}
	n.seq++
	n.active = &activeFault{seq: n.seq, fault: fault}
	n.setDescription(fault)
	n.rec.Record(history.Op{Type: history.Invoke, Process: history.NemesisProcess, F: history.FStart, Fault: faultRef(fault)})
	began := time.Now()
	err := n.apply(ctx, &fault)
	fault.Params["apply_ms"] = millis(time.Since(began))
	n.active.fault = fault
	n.setDescription(fault) // a targeted fault may have changed its targets
	n.complete(history.FStart, fault, err)
	return n.seq, true
}

// stop heals the fault numbered seq if it is still the active one.
func (n *Nemesis) stop(ctx context.Context, seq int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.active == nil || n.active.seq != seq {
		return // HealAll got there first
	}
	ctx, cancel := stepContext(ctx)
	defer cancel()
	_ = n.stopLocked(ctx) // recorded and logged
}

// stopLocked heals the active fault and records the stop. The fault stops
// being active even if healing failed: HealAll's sweep retries what is left.
func (n *Nemesis) stopLocked(ctx context.Context) error {
	fault := cloneFault(n.active.fault)
	for key := range fault.Params {
		if strings.HasPrefix(key, "apply_ms") {
			delete(fault.Params, key) // the stop reports its own timings
		}
	}
	n.rec.Record(history.Op{Type: history.Invoke, Process: history.NemesisProcess, F: history.FStop, Fault: faultRef(fault)})
	began := time.Now()
	err := n.heal(ctx, &fault)
	fault.Params["heal_ms"] = millis(time.Since(began))
	n.complete(history.FStop, fault, err)
	n.active = nil
	n.description.Store(nil)
	if err != nil {
		return fmt.Errorf("stop %s: %w", fault.Kind, err)
	}
	return nil
}

// complete records the completion of a start or stop: ok, or info with the
// error when the cluster refused (the fault may be partly applied).
func (n *Nemesis) complete(f string, fault history.Fault, err error) {
	op := history.Op{Type: history.OK, Process: history.NemesisProcess, F: f, Fault: faultRef(fault)}
	if err != nil {
		op.Type, op.Error = history.Info, err.Error()
	}
	n.rec.Record(op)
	if err != nil {
		n.log.Warn("nemesis "+f+" failed", "fault", describe(fault), "params", fault.Params, "err", err)
		return
	}
	n.log.Info("nemesis "+f, "fault", describe(fault), "params", fault.Params)
}

func (n *Nemesis) resolveLeader(ctx context.Context, fault *history.Fault, fallback string) {
	leader := ""
	primaries, err := n.cluster.Primaries(ctx)
	if err != nil {
		fault.Params["leader_error"] = err.Error()
	}
	for _, p := range primaries {
		if slices.Contains(n.nodes, p) {
			leader = p
			break
		}
	}
	if leader == "" {
		fault.Params["leader_unknown"] = "true"
		leader = fallback
	}
	fault.Targets = []string{leader}
	switch fault.Kind {
	case KindPartition, KindSkewedLeader:
		fault.Grudge = Isolate(n.nodes, leader)
	}
}

func (n *Nemesis) setDescription(fault history.Fault) {
	d := describe(fault)
	n.description.Store(&d)
}

// describe renders a fault in a few words for logs and the progress line.
func describe(f history.Fault) string {
	parts := []string{f.Kind}
	if f.Shape != "" {
		parts = append(parts, f.Shape)
	}
	if f.Action != "" {
		parts = append(parts, f.Action)
	}
	if f.LossPercent > 0 {
		parts = append(parts, fmt.Sprintf("%g%%", f.LossPercent))
	}
	if len(f.Targets) > 0 {
		parts = append(parts, strings.Join(f.Targets, ","))
	}
	return strings.Join(parts, " ")
}

func isLeaderShaped(f history.Fault) bool {
	switch f.Kind {
	case KindStaleLeader, KindSkewedLeader, KindVoterCrash, KindFigure8:
		return true
	case KindPartition, KindKill, KindPause:
		return f.Shape == ShapeLeader
	}
	return false
}

// cloneFault deep-copies a fault so that a recorded op never shares maps or
// slices with one that is changed later.
func cloneFault(f history.Fault) history.Fault {
	f.Targets = slices.Clone(f.Targets)
	if f.Grudge != nil {
		g := make(map[string][]string, len(f.Grudge))
		for k, v := range f.Grudge {
			g[k] = slices.Clone(v)
		}
		f.Grudge = g
	}
	f.ClockOffsetsMillis = maps.Clone(f.ClockOffsetsMillis)
	f.Params = maps.Clone(f.Params)
	if f.Params == nil {
		f.Params = map[string]string{}
	}
	return f
}

func millis(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000)
}

// sleep waits d or until ctx is done and reports whether the full d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return ctx.Err() == nil
	}
}

// faultRef returns a pointer to a deep copy of f, for an op.
func faultRef(f history.Fault) *history.Fault {
	c := cloneFault(f)
	return &c
}
