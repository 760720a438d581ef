package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	"github.com/testcontainers/testcontainers-go"
)

// maxSubnetAttempts bounds the retries when another network grabs the chosen
// subnet between listing the networks and creating ours.
const maxSubnetAttempts = 8

// clientPortSpec is the node's client port as Docker names it.
func (c *Cluster) clientPortSpec() nat.Port {
	return nat.Port(strconv.Itoa(c.opts.Node.ClientPort) + "/tcp")
}

// Setup creates the network and the node containers, then waits (up to
// ReadyTimeout) until every node answers /status and a leader is known. On
// failure it removes whatever it created before returning the error.
func (c *Cluster) Setup(ctx context.Context) (err error) {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	if c.cli != nil {
		return errors.New("setup: cluster already set up")
	}
	cli, err := newClient(ctx)
	if err != nil {
		return err
	}
	c.cli = cli
	defer func() {
		if err != nil {
			if terr := c.teardownLocked(context.WithoutCancel(ctx)); terr != nil {
				err = errors.Join(err, terr)
			}
		}
	}()

	start := time.Now()
	if err := c.createNetwork(ctx); err != nil {
		return err
	}
	if err := c.createContainers(ctx); err != nil {
		return err
	}
	c.logger.Info("containers started", "nodes", len(c.nodes), "subnet", c.subnet, "elapsed", time.Since(start))
	if err := c.waitAllServing(ctx); err != nil {
		return err
	}
	if err := c.waitLeader(ctx); err != nil {
		return err
	}
	c.logger.Info("cluster ready", "elapsed", time.Since(start))
	return nil
}

func (c *Cluster) networkName() string { return "faultline-" + c.opts.RunID }

func (c *Cluster) labels() map[string]string {
	return map[string]string{LabelFaultline: "1", LabelRun: c.opts.RunID}
}

// createNetwork creates the run's bridge network with a fixed subnet. Without
// an explicit subnet it tries free 10.77.x.0/24 subnets until one is accepted.
func (c *Cluster) createNetwork(ctx context.Context) error {
	var candidates []netip.Prefix
	if c.opts.Subnet != "" {
		candidates = []netip.Prefix{netip.MustParsePrefix(c.opts.Subnet).Masked()}
	} else {
		inUse, err := c.subnetsInUse(ctx)
		if err != nil {
			return err
		}
		candidates = candidateSubnets(c.opts.RunID, inUse)
	}
	var lastErr error
	for i, subnet := range candidates {
		if i == maxSubnetAttempts {
			break
		}
		resp, err := c.cli.NetworkCreate(ctx, c.networkName(), network.CreateOptions{
			Driver: "bridge",
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{
				Subnet:  subnet.String(),
				Gateway: gatewayIP(subnet).String(),
			}}},
			Labels: c.labels(),
		})
		if err != nil {
			lastErr = err
			if strings.Contains(err.Error(), "overlap") && c.opts.Subnet == "" {
				continue
			}
			break
		}
		c.subnet, c.networkID = subnet, resp.ID
		for j, n := range c.nodes {
			n.ip = nodeIP(subnet, j)
		}
		return nil
	}
	if lastErr == nil {
		lastErr = errors.New("no free 10.77.x.0/24 subnet")
	}
	return fmt.Errorf("create network %s: %s: remove unused networks (faultline cleanup) or set a subnet", c.networkName(), oneLine(lastErr))
}

func (c *Cluster) subnetsInUse(ctx context.Context) ([]netip.Prefix, error) {
	networks, err := c.cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list docker networks: %w", err)
	}
	var out []netip.Prefix
	for _, nw := range networks {
		for _, cfg := range nw.IPAM.Config {
			if p, err := netip.ParsePrefix(cfg.Subnet); err == nil {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// members lists every node with its address, for the store's command line.
func (c *Cluster) members() []Member {
	out := make([]Member, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = Member{Name: n.name, IP: n.ip}
	}
	return out
}

func (c *Cluster) nodeCommand(n *node) []string {
	return c.opts.Node.Command(n.name, c.members())
}

// createContainers creates and starts all node containers concurrently
// through testcontainers-go.
func (c *Cluster) createContainers(ctx context.Context) error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { errs[i] = c.createContainer(ctx, n, true) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// createContainer creates the node's container and, with start, starts it
// and reads its host port (Start does that for a container created stopped).
func (c *Cluster) createContainer(ctx context.Context, n *node, start bool) error {
	labels := c.labels()
	labels[LabelNode] = n.name
	netName := c.networkName()
	ip := n.ip.String()
	req := testcontainers.ContainerRequest{
		Image:          c.opts.Image,
		Name:           n.containerName,
		Cmd:            c.nodeCommand(n),
		ExposedPorts:   []string{string(c.clientPortSpec())},
		Networks:       []string{netName},
		NetworkAliases: map[string][]string{netName: {n.name}},
		Labels:         labels,
		// Files (a cluster secret, say) are copied in after the container
		// is created and before it starts, so they never show in docker
		// inspect, docker ps or the node's /proc/1/cmdline.
		Files:          c.containerFiles(),
		ConfigModifier: func(cfg *container.Config) { cfg.Hostname = n.name },
		HostConfigModifier: func(hc *container.HostConfig) {
			// NET_ADMIN lets faultline-agent change nftables in the
			// container's own network namespace; nothing else is granted.
			hc.CapAdd = append(hc.CapAdd, "NET_ADMIN")
			hc.PortBindings = nat.PortMap{c.clientPortSpec(): {{HostIP: "127.0.0.1"}}}
		},
		EndpointSettingsModifier: func(endpoints map[string]*network.EndpointSettings) {
			if es, ok := endpoints[netName]; ok {
				es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ip}
			}
		},
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req,
		Started:          start,
		Logger:           tcLogger{c.logger},
	})
	if ctr != nil {
		n.containerID = ctr.GetContainerID()
	}
	if err != nil {
		return fmt.Errorf("start container %s: %s", n.containerName, oneLine(err))
	}
	if !start {
		return nil
	}
	return c.refreshEndpoint(ctx, n)
}

// containerFiles are the node spec's files as testcontainers-go copies them.
func (c *Cluster) containerFiles() []testcontainers.ContainerFile {
	var out []testcontainers.ContainerFile
	for _, f := range c.opts.Node.Files {
		out = append(out, testcontainers.ContainerFile{Reader: bytes.NewReader(f.Content), ContainerFilePath: f.Path, FileMode: f.Mode})
	}
	return out
}

// refreshEndpoint reads the node's mapped client port from Docker; it
// changes every time the container starts.
func (c *Cluster) refreshEndpoint(ctx context.Context, n *node) error {
	info, err := c.cli.ContainerInspect(ctx, n.containerID)
	if err != nil {
		return fmt.Errorf("inspect container %s: %w", n.containerName, err)
	}
	if info.NetworkSettings == nil {
		return fmt.Errorf("inspect container %s: no network settings", n.containerName)
	}
	for _, b := range info.NetworkSettings.Ports[c.clientPortSpec()] {
		if b.HostPort != "" && (b.HostIP == "127.0.0.1" || b.HostIP == "") {
			c.mu.Lock()
			n.endpoint = "http://127.0.0.1:" + b.HostPort
			c.mu.Unlock()
			return nil
		}
	}
	return fmt.Errorf("container %s has no host port for %s (is it running?)", n.containerName, c.clientPortSpec())
}

func (c *Cluster) waitAllServing(ctx context.Context) error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { errs[i] = c.waitServing(ctx, n) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitServing polls the node's /status until it answers, the container
// exits, or ReadyTimeout passes.
func (c *Cluster) waitServing(ctx context.Context, n *node) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReadyTimeout)
	defer cancel()
	ticker := time.NewTicker(readyPollInterval)
	defer ticker.Stop()
	var lastErr error
	for attempt := 0; ; attempt++ {
		if _, err := c.Status(ctx, n.name); err == nil {
			return nil
		} else {
			lastErr = err
		}
		if attempt%10 == 9 {
			if exited, detail := c.exited(ctx, n); exited {
				return fmt.Errorf("node %s exited before serving: %s", n.name, detail)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not serving /status after %s: %s", n.name, c.opts.ReadyTimeout, oneLine(lastErr))
		case <-ticker.C:
		}
	}
}

// exited reports whether the node's container stopped, with its exit code
// and the last line it logged.
func (c *Cluster) exited(ctx context.Context, n *node) (bool, string) {
	info, err := c.cli.ContainerInspect(ctx, n.containerID)
	if err != nil || info.State == nil || info.State.Running {
		return false, ""
	}
	return true, fmt.Sprintf("exit code %d, last log line: %q", info.State.ExitCode, c.lastLogLine(ctx, n))
}

// waitLeader polls until some node claims leadership.
func (c *Cluster) waitLeader(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReadyTimeout)
	defer cancel()
	ticker := time.NewTicker(readyPollInterval)
	defer ticker.Stop()
	for {
		leaders, err := c.Primaries(ctx)
		if err == nil && len(leaders) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no leader elected within %s", c.opts.ReadyTimeout)
		case <-ticker.C:
		}
	}
}

// tcLogger sends testcontainers-go's log lines to slog at debug level.
type tcLogger struct {
	logger interface{ Debug(string, ...any) }
}

func (l tcLogger) Printf(format string, args ...any) {
	l.logger.Debug(fmt.Sprintf(format, args...), "component", "testcontainers")
}
