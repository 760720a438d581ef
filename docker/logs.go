package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// CollectLogs writes each node's container output (stdout and stderr, as
// `docker logs` shows it, across restarts) to dir/<node>.log.
func (c *Cluster) CollectLogs(ctx context.Context, dir string) error {
	if c.cli == nil {
		return fmt.Errorf("collect logs: %w", errNotSetUp)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("collect logs: %w", err)
	}
	var errs []error
	for _, n := range c.nodes {
		if n.containerID == "" {
			continue
		}
		if err := c.writeLog(ctx, n, filepath.Join(dir, n.name+".log")); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) writeLog(ctx context.Context, n *node, path string) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("logs of %s: %w", n.name, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("logs of %s: %w", n.name, cerr)
		}
	}()
	if _, err := f.Write(n.priorLogs); err != nil {
		return fmt.Errorf("logs of %s: %w", n.name, err)
	}
	return c.copyLog(ctx, n, f)
}

// copyLog copies the output of the node's current container to w.
func (c *Cluster) copyLog(ctx context.Context, n *node, w io.Writer) error {
	rc, err := c.cli.ContainerLogs(ctx, n.containerID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return fmt.Errorf("logs of %s: %w", n.name, err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(w, w, rc); err != nil {
		return fmt.Errorf("logs of %s: %w", n.name, err)
	}
	return nil
}

// lastLogLine returns the node's last line of output, for error messages.
func (c *Cluster) lastLogLine(ctx context.Context, n *node) string {
	rc, err := c.cli.ContainerLogs(ctx, n.containerID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "5"})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return lines[len(lines)-1]
}
