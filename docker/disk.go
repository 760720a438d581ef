package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/docker/docker/api/types/container"
)

// Disk-loss modes of LoseDisk.
const (
	// DiskWipe replaces the node's container with a new one of the same
	// name, address and command: its data dir starts empty, as on a
	// machine whose disk was replaced.
	DiskWipe = "wipe"
	// DiskTornTail cuts bytes off the end of the node's newest log file and
	// leaves a partial record there, as a disk that lost writes it had
	// reported durable: the node finds a torn tail and has lost entries it
	// acknowledged.
	DiskTornTail = "torn-tail"
)

// LoseDisk kills the node and takes its disk away (mode DiskWipe) or the end
// of its newest log file, cutBytes long (DiskTornTail). The node is left
// stopped: Start brings it back. The output of a replaced container is kept
// and comes first in CollectLogs.
func (c *Cluster) LoseDisk(ctx context.Context, name, mode string, cutBytes int64) error {
	if mode == DiskTornTail && c.opts.Node.LogFileSuffix == "" {
		return fmt.Errorf("lose disk of %s: %s names no log files to tear", name, c.opts.Node.Store)
	}
	if mode != DiskWipe && mode != DiskTornTail {
		return fmt.Errorf("lose disk of %s: unknown mode %q (use %s or %s)", name, mode, DiskWipe, DiskTornTail)
	}
	if err := c.Kill(ctx, name); err != nil {
		return fmt.Errorf("lose disk: %w", err)
	}
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	n, err := c.setUpNode(name)
	if err != nil {
		return fmt.Errorf("lose disk: %w", err)
	}
	if mode == DiskWipe {
		return c.replaceContainer(ctx, n)
	}
	return c.tearLogTail(ctx, n, cutBytes)
}

// replaceContainer keeps the stopped container's output, removes it and
// creates (without starting) a new one with the same name and address.
func (c *Cluster) replaceContainer(ctx context.Context, n *node) error {
	var out bytes.Buffer
	if err := c.copyLog(ctx, n, &out); err != nil {
		return fmt.Errorf("wipe %s: keep its output: %w", n.name, err)
	}
	if err := c.cli.ContainerRemove(ctx, n.containerID, container.RemoveOptions{Force: true}); err != nil {
		return fmt.Errorf("wipe %s: remove container: %w", n.name, err)
	}
	n.priorLogs = append(n.priorLogs, out.Bytes()...)
	n.priorLogs = append(n.priorLogs, fmt.Sprintf("----- %s: disk wiped, container replaced -----\n", n.name)...)
	if err := c.createContainer(ctx, n, false); err != nil {
		return fmt.Errorf("wipe %s: %w", n.name, err)
	}
	c.setState(n, stateKilled)
	return nil
}

// tearLogTail cuts cutBytes off the newest log file in the stopped
// container's data dir (at least one byte, at most all but one) and appends
// a partial record (bytes no valid record starts with), so the node sees a
// torn write wherever the cut landed and cannot mistake the shorter log for
// a whole one.
func (c *Cluster) tearLogTail(ctx context.Context, n *node, cutBytes int64) error {
	rc, _, err := c.cli.CopyFromContainer(ctx, n.containerID, c.opts.Node.DataDir)
	if err != nil {
		return fmt.Errorf("tear log tail of %s: read %s: %w", n.name, c.opts.Node.DataDir, err)
	}
	defer rc.Close()
	var newest *tar.Header
	var content []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("tear log tail of %s: read %s: %w", n.name, c.opts.Node.DataDir, err)
		}
		if h.Typeflag != tar.TypeReg || !strings.HasSuffix(h.Name, c.opts.Node.LogFileSuffix) || h.Size < 2 {
			continue
		}
		if newest != nil && (h.ModTime.Before(newest.ModTime) || h.ModTime.Equal(newest.ModTime) && h.Name < newest.Name) {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("tear log tail of %s: read %s: %w", n.name, h.Name, err)
		}
		newest, content = h, data
	}
	if newest == nil {
		return fmt.Errorf("tear log tail of %s: no %s file in %s", n.name, c.opts.Node.LogFileSuffix, c.opts.Node.DataDir)
	}
	cut := min(max(cutBytes, 1), int64(len(content))-1)
	torn := append(content[:int64(len(content))-cut:int64(len(content))-cut], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	h := *newest
	h.Name = path.Base(newest.Name)
	h.Size = int64(len(torn))
	if err := tw.WriteHeader(&h); err != nil {
		return fmt.Errorf("tear log tail of %s: %w", n.name, err)
	}
	if _, err := tw.Write(torn); err != nil {
		return fmt.Errorf("tear log tail of %s: %w", n.name, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("tear log tail of %s: %w", n.name, err)
	}
	if err := c.cli.CopyToContainer(ctx, n.containerID, c.opts.Node.DataDir, &buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("tear log tail of %s: write %s: %w", n.name, h.Name, err)
	}
	c.logger.Debug("tore log tail", "node", n.name, "file", h.Name, "cut_bytes", cut, "size", len(content))
	return nil
}
