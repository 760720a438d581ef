package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/faultline/faultline/sut"
)

// clockTimeout bounds one POST /admin/clock.
const clockTimeout = 5 * time.Second

// Kill sends SIGKILL to the node's container and waits until its process is
// gone. The container (and /data in its writable layer) is kept for Start. A
// paused node is unpaused first, because Docker refuses to kill a frozen
// container; its process may run for the few milliseconds in between. A node
// whose process already exited (killed, or crashed) is left as it is.
func (c *Cluster) Kill(ctx context.Context, name string) error {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	n, err := c.setUpNode(name)
	if err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	info, err := c.cli.ContainerInspect(ctx, n.containerID)
	if err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	if info.State == nil || !info.State.Running {
		// Already dead (killed before, or crashed on its own).
		c.setState(n, stateKilled)
		return nil
	}
	if info.State.Paused {
		if err := c.cli.ContainerUnpause(ctx, n.containerID); err != nil {
			return fmt.Errorf("kill %s: unpause first: %w", name, err)
		}
		c.setState(n, stateRunning)
	}
	waitC, errC := c.cli.ContainerWait(ctx, n.containerID, container.WaitConditionNotRunning)
	if err := c.cli.ContainerKill(ctx, n.containerID, "KILL"); err != nil {
		// It may have exited on its own since the inspect (a crash point).
		if again, ierr := c.cli.ContainerInspect(ctx, n.containerID); ierr == nil && (again.State == nil || !again.State.Running) {
			c.setState(n, stateKilled)
			return nil
		}
		return fmt.Errorf("kill %s: %w", name, err)
	}
	select {
	case <-waitC:
	case err := <-errC:
		return fmt.Errorf("kill %s: wait for exit: %w", name, err)
	}
	c.setState(n, stateKilled)
	return nil
}

// Start starts a stopped node's container again (killed, or exited on its
// own), re-reads its host port, re-applies the network faults that should
// hold for it (the new process has a fresh network namespace) and waits until
// it serves /status; a running node is only waited for. There is a
// window of milliseconds between the process starting and its rules being in
// place; symmetric grudges are already enforced by the peers during it.
func (c *Cluster) Start(ctx context.Context, name string) error {
	n, err := c.startContainer(ctx, name)
	if err != nil {
		return err
	}
	// Waited for without faultMu: nodes started together (all of them,
	// after a kill of every node) come up together, which a store that
	// serves only once it has a quorum (etcd) needs.
	if err := c.waitServing(ctx, n); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	return nil
}

// startContainer is Start up to the wait: the container started, its port
// read and its network faults re-applied.
func (c *Cluster) startContainer(ctx context.Context, name string) (*node, error) {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	n, err := c.setUpNode(name)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	info, err := c.cli.ContainerInspect(ctx, n.containerID)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if info.State != nil && info.State.Paused {
		return nil, fmt.Errorf("start %s: node is paused; resume it instead", name)
	}
	if info.State == nil || !info.State.Running {
		if err := c.cli.ContainerStart(ctx, n.containerID, container.StartOptions{}); err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		c.setState(n, stateRunning)
		if err := c.refreshEndpoint(ctx, n); err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		// The new process has a fresh network namespace: nothing to heal.
		n.rulesStale = false
		if c.hasRules(name) {
			if err := c.applyRules(ctx, n); err != nil {
				n.rulesStale = true
				return nil, fmt.Errorf("start %s: re-apply network faults: %w", name, err)
			}
		}
	}
	return n, nil
}

// Pause freezes every process of the node with `docker pause` (the cgroup
// freezer). Unlike SIGSTOP, which a parent or a runtime can observe (and a
// process can be woken from with SIGCONT by anyone), a frozen process cannot
// see, handle or undo the freeze; to its peers it simply stops answering.
func (c *Cluster) Pause(ctx context.Context, name string) error {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	n, err := c.setUpNode(name)
	if err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	switch c.state(n) {
	case statePaused:
		return nil
	case stateKilled:
		return fmt.Errorf("pause %s: node is killed; start it first", name)
	}
	if err := c.cli.ContainerPause(ctx, n.containerID); err != nil {
		return fmt.Errorf("pause %s: %w", name, err)
	}
	c.setState(n, statePaused)
	return nil
}

// Resume thaws a paused node and applies network rules that changed while it
// was frozen. Resuming a running node does nothing.
func (c *Cluster) Resume(ctx context.Context, name string) error {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	n, err := c.setUpNode(name)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if c.state(n) != statePaused {
		return nil
	}
	if err := c.cli.ContainerUnpause(ctx, n.containerID); err != nil {
		return fmt.Errorf("resume %s: %w", name, err)
	}
	c.setState(n, stateRunning)
	if n.rulesStale {
		if err := c.waitThawed(ctx, n); err != nil {
			return fmt.Errorf("resume %s: %w", name, err)
		}
		if err := c.applyRules(ctx, n); err != nil {
			n.rulesStale = true
			return fmt.Errorf("resume %s: apply network faults set while paused: %w", name, err)
		}
	}
	return nil
}

// waitThawed waits until the daemon itself records the container as running.
// `docker unpause` returns once the freezer is thawed, but the daemon marks
// the container unpaused only when it handles containerd's resume event, and
// until then it refuses an exec into it ("is paused, unpause the container
// before exec").
func (c *Cluster) waitThawed(ctx context.Context, n *node) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.cli.ContainerInspect(ctx, n.containerID)
		if err != nil {
			return fmt.Errorf("inspect after unpause: %w", err)
		}
		if info.State == nil || !info.State.Paused {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the daemon still reports the container paused 10s after unpause")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// SetGrudge replaces the partition: grudge[x] lists the nodes whose packets x
// drops (input only; see cmd/faultline-agent). Nodes absent from the map drop
// nothing. Only nodes whose grudge changed are touched, concurrently.
func (c *Cluster) SetGrudge(ctx context.Context, grudge map[string][]string) error {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	return c.replaceLinks(ctx, "grudge", &c.grudge, grudge)
}

// SetSilence replaces the outbound half of the partition: silence[x] lists
// the nodes x sends nothing to. It cuts a paused node off from the side of
// its peers, which can run the agent while it cannot. Only nodes whose
// silence changed are touched, concurrently.
func (c *Cluster) SetSilence(ctx context.Context, silence map[string][]string) error {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	return c.replaceLinks(ctx, "silence", &c.silence, silence)
}

// replaceLinks makes *current (the grudge or the silence: node -> peers)
// equal links and applies the partition rules of every node whose entry
// changed. The caller holds faultMu.
func (c *Cluster) replaceLinks(ctx context.Context, what string, current *map[string][]string, links map[string][]string) error {
	if c.cli == nil {
		return fmt.Errorf("set %s: %w", what, errNotSetUp)
	}
	next := make(map[string][]string, len(links))
	for name, peers := range links {
		if _, err := c.node(name); err != nil {
			return fmt.Errorf("set %s: %w", what, err)
		}
		if _, err := c.ips(peers); err != nil {
			return fmt.Errorf("set %s of %s: %w", what, name, err)
		}
		if len(peers) > 0 {
			next[name] = slices.Sorted(slices.Values(peers))
		}
	}
	var changed []*node
	for _, n := range c.nodes {
		if n.rulesStale || !slices.Equal((*current)[n.name], next[n.name]) {
			changed = append(changed, n)
		}
	}
	*current = next
	// A stale node, or one left with no fault at all, gets its whole rule
	// set; the others only their partition rules (both directions).
	return c.onNodes(ctx, changed, func(n *node) error {
		if n.rulesStale || !c.hasRules(n.name) {
			return c.applyRules(ctx, n)
		}
		return c.applyGrudge(ctx, n)
	})
}

// applyGrudge replaces the node's partition rules: the grudge (inbound) and
// the silence (outbound).
func (c *Cluster) applyGrudge(ctx context.Context, n *node) error {
	from, _ := c.ips(c.grudge[n.name])
	to, _ := c.ips(c.silence[n.name])
	return c.execAgentCheck(ctx, n, "grudge", "--drop-from", strings.Join(from, ","), "--drop-to", strings.Join(to, ","))
}

// SetLoss makes node drop percent% (0..100) of the packets it receives from
// the nodes in from, replacing its previous loss setting; 0 removes it.
func (c *Cluster) SetLoss(ctx context.Context, name string, from []string, percent float64) error {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	n, err := c.setUpNode(name)
	if err != nil {
		return fmt.Errorf("set loss: %w", err)
	}
	if percent < 0 || percent > 100 {
		return fmt.Errorf("set loss on %s: percent %v not in [0, 100]", name, percent)
	}
	if _, err := c.ips(from); err != nil {
		return fmt.Errorf("set loss on %s: %w", name, err)
	}
	if percent == 0 || len(from) == 0 {
		delete(c.loss, name)
	} else {
		c.loss[name] = lossSpec{from: slices.Clone(from), percent: percent}
	}
	return c.onNodes(ctx, []*node{n}, func(n *node) error {
		if n.rulesStale {
			return c.applyRules(ctx, n)
		}
		return c.applyLoss(ctx, n)
	})
}

// HealNetwork removes all partitions and packet loss: faultline's nftables
// table is deleted on every running node; paused nodes are healed on resume
// and killed nodes come back with a fresh network namespace.
func (c *Cluster) HealNetwork(ctx context.Context) error {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	if c.cli == nil {
		return fmt.Errorf("heal network: %w", errNotSetUp)
	}
	c.grudge = map[string][]string{}
	c.silence = map[string][]string{}
	c.loss = map[string]lossSpec{}
	// With nothing desired, applyRules deletes the table (and clears the
	// node's stale mark).
	return c.onNodes(ctx, c.nodes, func(n *node) error { return c.applyRules(ctx, n) })
}

// Clock sends a clock command to the node's fault-hook endpoint and returns
// its status afterwards. The host clock is never touched.
func (c *Cluster) Clock(ctx context.Context, name string, cmd sut.ClockCommand) (sut.Status, error) {
	if _, err := c.setUpNode(name); err != nil {
		return sut.Status{}, fmt.Errorf("clock: %w", err)
	}
	if c.opts.Node.Clock == nil {
		return sut.Status{}, fmt.Errorf("clock on %s: %s: %w", name, c.opts.Node.Store, ErrNoHook)
	}
	ctx, cancel := context.WithTimeout(ctx, clockTimeout)
	defer cancel()
	st, err := c.opts.Node.Clock(ctx, c.Endpoint(name), cmd)
	if err != nil {
		return sut.Status{}, fmt.Errorf("clock %s on %s: %w", cmd.Action, name, err)
	}
	return st, nil
}

// SetCrashPoint arms or disarms a crash point on the node (POST
// /admin/crash-point; the nodes run with --enable-fault-hooks).
func (c *Cluster) SetCrashPoint(ctx context.Context, name string, cmd sut.CrashPointCommand) error {
	if _, err := c.setUpNode(name); err != nil {
		return fmt.Errorf("crash point: %w", err)
	}
	if c.opts.Node.CrashPoint == nil {
		return fmt.Errorf("crash point on %s: %s: %w", name, c.opts.Node.Store, ErrNoHook)
	}
	ctx, cancel := context.WithTimeout(ctx, clockTimeout)
	defer cancel()
	if err := c.opts.Node.CrashPoint(ctx, c.Endpoint(name), cmd); err != nil {
		return fmt.Errorf("crash point %s on %s: %w", cmd.Point, name, err)
	}
	return nil
}

// NetemAvailable reports whether the kernel offers the netem qdisc, probed
// once by faultline-agent inside a running node.
func (c *Cluster) NetemAvailable(ctx context.Context) (bool, error) {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	if c.cli == nil {
		return false, fmt.Errorf("netem probe: %w", errNotSetUp)
	}
	if c.netemProbed != nil {
		return *c.netemProbed, nil
	}
	probe, err := c.probe(ctx)
	if err != nil {
		return false, err
	}
	c.netemProbed = &probe.Netem
	return probe.Netem, nil
}

// ProbeResult is what faultline-agent probe reports from inside a node.
type ProbeResult struct {
	Nftables    bool   `json:"nftables"`
	Netem       bool   `json:"netem"`
	NftablesErr string `json:"nftables_error,omitempty"`
	NetemErr    string `json:"netem_error,omitempty"`
}

// Probe runs faultline-agent probe in a running node: whether nftables
// changes are accepted there and whether the kernel offers netem, with the
// reason when not.
func (c *Cluster) Probe(ctx context.Context) (ProbeResult, error) {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	if c.cli == nil {
		return ProbeResult{}, fmt.Errorf("probe: %w", errNotSetUp)
	}
	return c.probe(ctx)
}

func (c *Cluster) probe(ctx context.Context) (ProbeResult, error) {
	for _, n := range c.nodes {
		if c.state(n) != stateRunning {
			continue
		}
		out, err := c.execAgent(ctx, n, "probe")
		if err != nil {
			return ProbeResult{}, fmt.Errorf("probe on %s: %w", n.name, err)
		}
		if out.exitCode != 0 {
			return ProbeResult{}, fmt.Errorf("probe on %s: %s", n.name, out.stderr)
		}
		var res ProbeResult
		if err := json.Unmarshal([]byte(out.stdout), &res); err != nil {
			return ProbeResult{}, fmt.Errorf("probe on %s: decode %q: %w", n.name, out.stdout, err)
		}
		return res, nil
	}
	return ProbeResult{}, fmt.Errorf("probe: no running node")
}

// CanConnect reports whether a TCP connection from node from to node to's
// port succeeds within timeout, attempted inside from's network namespace.
func (c *Cluster) CanConnect(ctx context.Context, from, to string, port int, timeout time.Duration) (bool, error) {
	src, err := c.setUpNode(from)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	dst, err := c.node(to)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	addr := dst.ip.String() + ":" + strconv.Itoa(port)
	out, err := c.execAgent(ctx, src, "connect", "--addr", addr, "--timeout", timeout.String())
	if err != nil {
		return false, fmt.Errorf("connect %s -> %s: %w", from, to, err)
	}
	switch out.exitCode {
	case 0:
		return true, nil
	case 1:
		return false, nil
	default:
		return false, fmt.Errorf("connect %s -> %s: %s", from, to, out.stderr)
	}
}

// onNodes runs apply on each running node concurrently; paused nodes are
// marked stale (applied on Resume) and killed nodes skipped (applied on
// Start). A node whose apply failed is marked stale too, so the next change
// re-applies its whole rule set instead of assuming the last one took.
func (c *Cluster) onNodes(ctx context.Context, nodes []*node, apply func(*node) error) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		switch c.state(n) {
		case statePaused:
			n.rulesStale = true
			continue
		case stateKilled:
			continue
		}
		wg.Go(func() { errs[i] = apply(n) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			nodes[i].rulesStale = true
		}
	}
	return joinErrors(errs)
}

// hasRules reports whether any network fault should hold on the node.
func (c *Cluster) hasRules(name string) bool {
	_, lossy := c.loss[name]
	return len(c.grudge[name]) > 0 || len(c.silence[name]) > 0 || lossy
}

// applyRules makes the node's nftables state equal the desired grudge and
// loss (heal when there is none).
func (c *Cluster) applyRules(ctx context.Context, n *node) error {
	n.rulesStale = false
	if !c.hasRules(n.name) {
		return c.execAgentCheck(ctx, n, "heal")
	}
	if err := c.applyGrudge(ctx, n); err != nil {
		return err
	}
	return c.applyLoss(ctx, n)
}

func (c *Cluster) applyLoss(ctx context.Context, n *node) error {
	spec := c.loss[n.name]
	ips, _ := c.ips(spec.from)
	return c.execAgentCheck(ctx, n, "loss", "--from", strings.Join(ips, ","),
		"--percent", strconv.FormatFloat(spec.percent, 'f', -1, 64))
}

// ips maps node names to their addresses.
func (c *Cluster) ips(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, name := range names {
		n, err := c.node(name)
		if err != nil {
			return nil, err
		}
		out = append(out, n.ip.String())
	}
	return out, nil
}
