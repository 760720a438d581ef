package nemesis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/sut"
)

// memCluster is an in-memory Cluster: it keeps the state a real backend
// would (which nodes are killed or paused, the grudge, packet loss, each
// node's clock) and refuses what a real one would refuse (pausing a dead
// node, talking to a frozen one), so tests can assert the nemesis leaves a
// clean cluster behind.
type memCluster struct {
	nodes []string
	// callDelay makes every call take this long, to widen race windows.
	callDelay time.Duration
	netem     bool

	mu     sync.Mutex
	leader string
	// successor, when set, takes over as leader once Primaries has been
	// asked electAfter more times (an election the nemesis waits for).
	successor  string
	electAfter int
	// then are the leaders after the successor, in order, each taking
	// over electEvery looks after the one before it. A leader with the
	// after-commit crash point armed exits as it takes over.
	then       []string
	electEvery int
	generation uint64
	killed     map[string]bool
	// exited holds killed nodes that exited on their own (a crash point):
	// killing one is not an error, as with a real container.
	exited map[string]bool
	paused map[string]bool
	grudge map[string][]string
	// loss maps node -> from -> percent.
	loss  map[string]map[string]float64
	delay map[string][]string
	// offsets and rates are each node's clock state.
	offsets map[string]int64
	rates   map[string]float64
	calls   []string
	// grudges is every grudge set, in order.
	grudges []map[string][]string
	// silence maps node -> nodes it sends nothing to; silences is every
	// silence set, in order.
	silence  map[string][]string
	silences []map[string][]string
	// armed holds "node point" for each crash point armed; a killed node
	// loses its own.
	armed map[string]bool
	// exitOnArm names a node that exits as soon as a crash point is armed
	// on it (as a voter of an election already under way does).
	exitOnArm string
	// failNext makes the next calls of the named method fail, as many
	// times as it says.
	failNext map[string]int
	// recovering maps a node that lost its disk to the number of Status
	// calls it still answers as recovering (-1: for ever).
	recovering map[string]int
	// diskLosses lists "node action cut" for each LoseDisk.
	diskLosses []string
}

func newMemCluster(n int) *memCluster {
	return &memCluster{
		nodes:      nodeNames(n),
		leader:     "n1",
		generation: 1,
		killed:     map[string]bool{},
		exited:     map[string]bool{},
		paused:     map[string]bool{},
		grudge:     map[string][]string{},
		loss:       map[string]map[string]float64{},
		delay:      map[string][]string{},
		offsets:    map[string]int64{},
		rates:      map[string]float64{},
		failNext:   map[string]int{},
		armed:      map[string]bool{},
		recovering: map[string]int{},
	}
}

// catchUpAfter is how many Status calls a node that lost its disk answers
// as recovering.
const catchUpAfter = 3

func (c *memCluster) LoseDisk(ctx context.Context, node, action string, cut int64) error {
	done, err := c.call(ctx, "LoseDisk", node)
	if err != nil {
		return err
	}
	defer done()
	if err := c.up(node); err != nil {
		return err
	}
	c.killed[node] = true
	c.disarm(node)
	if c.recovering[node] >= 0 {
		c.recovering[node] = catchUpAfter
	}
	c.diskLosses = append(c.diskLosses, fmt.Sprintf("%s %s %d", node, action, cut))
	return nil
}

var errInjected = errors.New("injected failure")

// call logs a call, applies the call delay and consumes an injected failure.
// On success it returns with c.mu held and the function that releases it.
func (c *memCluster) call(ctx context.Context, method, node string) (func(), error) {
	if c.callDelay > 0 {
		select {
		case <-time.After(c.callDelay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c.mu.Lock()
	c.calls = append(c.calls, method+" "+node)
	if c.failNext[method] > 0 {
		c.failNext[method]--
		c.mu.Unlock()
		return nil, fmt.Errorf("%s %s: %w", method, node, errInjected)
	}
	return c.mu.Unlock, nil
}

func (c *memCluster) up(node string) error {
	if !slices.Contains(c.nodes, node) {
		return fmt.Errorf("no node %q", node)
	}
	if c.killed[node] {
		return fmt.Errorf("%s is not running", node)
	}
	if c.paused[node] {
		return fmt.Errorf("%s is paused", node)
	}
	return nil
}

func (c *memCluster) Nodes() []string { return slices.Clone(c.nodes) }

func (c *memCluster) Primaries(ctx context.Context) ([]string, error) {
	done, err := c.call(ctx, "Primaries", "")
	if err != nil {
		return nil, err
	}
	defer done()
	c.observe()
	if c.leader == "" || c.up(c.leader) != nil {
		return nil, nil
	}
	return []string{c.leader}, nil
}

// observe counts one look at the cluster; the successor takes over once
// electAfter looks have passed, in a new generation. The caller holds c.mu.
func (c *memCluster) observe() {
	if c.successor == "" {
		return
	}
	if c.electAfter <= 0 {
		c.leader, c.successor = c.successor, ""
		c.generation++
		if len(c.then) > 0 {
			c.successor, c.then, c.electAfter = c.then[0], c.then[1:], c.electEvery+1
		}
		if c.armed[c.leader+" "+sut.CrashAfterCommit] {
			c.killed[c.leader], c.exited[c.leader] = true, true
			c.disarm(c.leader)
		}
	}
	c.electAfter--
}

// disarm drops node's crash points. The caller holds c.mu.
func (c *memCluster) disarm(node string) {
	for _, point := range crashPointsUsed {
		delete(c.armed, node+" "+point)
	}
}

func (c *memCluster) Status(ctx context.Context, node string) (sut.Status, error) {
	done, err := c.call(ctx, "Status", node)
	if err != nil {
		return sut.Status{}, err
	}
	defer done()
	if err := c.up(node); err != nil {
		return sut.Status{}, err
	}
	c.observe()
	st := sut.Status{Node: node, Role: "follower", Generation: c.generation, Leader: c.leader,
		ClockOffsetMillis: c.offsets[node], ClockRate: c.rateOf(node)}
	if left, ok := c.recovering[node]; ok {
		st.Recovering = true
		switch {
		case left == 1:
			delete(c.recovering, node)
		case left > 1:
			c.recovering[node] = left - 1
		}
	}
	if node == c.leader {
		st.Role = "leader"
	}
	return st, nil
}

func (c *memCluster) Kill(ctx context.Context, node string) error {
	done, err := c.call(ctx, "Kill", node)
	if err != nil {
		return err
	}
	defer done()
	if c.exited[node] {
		delete(c.exited, node)
		return nil
	}
	if c.killed[node] {
		return fmt.Errorf("%s is not running", node)
	}
	c.killed[node] = true
	delete(c.paused, node) // the daemon resumes a paused container it kills
	c.disarm(node)         // crash points live in the process
	return nil
}

func (c *memCluster) Start(ctx context.Context, node string) error {
	done, err := c.call(ctx, "Start", node)
	if err != nil {
		return err
	}
	defer done()
	delete(c.killed, node) // starting a running node is a no-op
	delete(c.exited, node)
	return nil
}

func (c *memCluster) Pause(ctx context.Context, node string) error {
	done, err := c.call(ctx, "Pause", node)
	if err != nil {
		return err
	}
	defer done()
	if err := c.up(node); err != nil {
		return err
	}
	c.paused[node] = true
	return nil
}

func (c *memCluster) Resume(ctx context.Context, node string) error {
	done, err := c.call(ctx, "Resume", node)
	if err != nil {
		return err
	}
	defer done()
	if !c.paused[node] {
		return fmt.Errorf("%s is not paused", node)
	}
	delete(c.paused, node)
	return nil
}

func (c *memCluster) SetGrudge(ctx context.Context, grudge map[string][]string) error {
	done, err := c.call(ctx, "SetGrudge", "")
	if err != nil {
		return err
	}
	defer done()
	c.grudge = map[string][]string{}
	for k, v := range grudge {
		c.grudge[k] = slices.Clone(v)
	}
	c.grudges = append(c.grudges, c.grudge)
	return nil
}

func (c *memCluster) SetLoss(ctx context.Context, node string, from []string, percent float64) error {
	done, err := c.call(ctx, "SetLoss", node)
	if err != nil {
		return err
	}
	defer done()
	if c.loss[node] == nil {
		c.loss[node] = map[string]float64{}
	}
	for _, f := range from {
		c.loss[node][f] = percent
	}
	return nil
}

func (c *memCluster) SetDelay(ctx context.Context, node string, to []string, delay, jitter time.Duration) error {
	done, err := c.call(ctx, "SetDelay", node)
	if err != nil {
		return err
	}
	defer done()
	c.delay[node] = slices.Clone(to)
	return nil
}

func (c *memCluster) HealNetwork(ctx context.Context) error {
	done, err := c.call(ctx, "HealNetwork", "")
	if err != nil {
		return err
	}
	defer done()
	c.grudge = map[string][]string{}
	c.silence = map[string][]string{}
	c.loss = map[string]map[string]float64{}
	c.delay = map[string][]string{}
	return nil
}

func (c *memCluster) SetSilence(ctx context.Context, silence map[string][]string) error {
	done, err := c.call(ctx, "SetSilence", "")
	if err != nil {
		return err
	}
	defer done()
	c.silence = map[string][]string{}
	for k, v := range silence {
		c.silence[k] = slices.Clone(v)
	}
	c.silences = append(c.silences, c.silence)
	return nil
}

func (c *memCluster) SetCrashPoint(ctx context.Context, node string, cmd sut.CrashPointCommand) error {
	point, armed := cmd.Point, cmd.Armed
	done, err := c.call(ctx, "SetCrashPoint", fmt.Sprintf("%s %s %v", node, point, armed))
	if err != nil {
		return err
	}
	defer done()
	if err := c.up(node); err != nil {
		return err
	}
	if !slices.Contains(crashPointsUsed, point) {
		return fmt.Errorf("unknown crash point %q", point)
	}
	if armed && node == c.exitOnArm {
		c.killed[node], c.exited[node] = true, true
		return nil
	}
	if armed {
		c.armed[node+" "+point] = true
	} else {
		delete(c.armed, node+" "+point)
	}
	return nil
}

func (c *memCluster) Clock(ctx context.Context, node string, cmd sut.ClockCommand) (sut.Status, error) {
	done, err := c.call(ctx, "Clock", node)
	if err != nil {
		return sut.Status{}, err
	}
	defer done()
	if err := c.up(node); err != nil {
		return sut.Status{}, err
	}
	switch cmd.Action {
	case sut.ClockBump:
		c.offsets[node] += cmd.OffsetMillis
	case sut.ClockStrobe:
		if cmd.DeltaMillis <= 0 || cmd.PeriodMillis <= 0 {
			return sut.Status{}, fmt.Errorf("strobe needs delta and period")
		}
	case sut.ClockRate:
		if cmd.Rate <= 0 {
			return sut.Status{}, fmt.Errorf("rate must be positive")
		}
		c.rates[node] = cmd.Rate
	case sut.ClockReset:
		delete(c.offsets, node)
		delete(c.rates, node)
	default:
		return sut.Status{}, fmt.Errorf("unknown clock action %q", cmd.Action)
	}
	return sut.Status{Node: node, ClockOffsetMillis: c.offsets[node], ClockRate: c.rateOf(node)}, nil
}

func (c *memCluster) rateOf(node string) float64 {
	if r, ok := c.rates[node]; ok {
		return r
	}
	return 1
}

func (c *memCluster) NetemAvailable(context.Context) (bool, error) { return c.netem, nil }

func (c *memCluster) failOnce(method string) { c.failTimes(method, 1) }

func (c *memCluster) failTimes(method string, times int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failNext[method] += times
}

// dirt lists every fault the cluster still has, empty when it is clean.
func (c *memCluster) dirt() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, n := range slices.Sorted(maps.Keys(c.killed)) {
		out = append(out, "killed "+n)
	}
	for _, n := range slices.Sorted(maps.Keys(c.paused)) {
		out = append(out, "paused "+n)
	}
	for _, n := range slices.Sorted(maps.Keys(c.exited)) {
		out = append(out, "exited "+n)
	}
	for _, armed := range slices.Sorted(maps.Keys(c.armed)) {
		out = append(out, "crash point armed: "+armed)
	}
	if len(c.grudge) > 0 {
		out = append(out, fmt.Sprintf("grudge %v", c.grudge))
	}
	if len(c.silence) > 0 {
		out = append(out, fmt.Sprintf("silence %v", c.silence))
	}
	if len(c.loss) > 0 {
		out = append(out, fmt.Sprintf("loss %v", c.loss))
	}
	if len(c.delay) > 0 {
		out = append(out, fmt.Sprintf("delay %v", c.delay))
	}
	for n, off := range c.offsets {
		if off != 0 {
			out = append(out, fmt.Sprintf("clock %s offset %d", n, off))
		}
	}
	for n, r := range c.rates {
		if r != 1 {
			out = append(out, fmt.Sprintf("clock %s rate %g", n, r))
		}
	}
	return out
}

func (c *memCluster) callLog() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}
