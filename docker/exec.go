package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

type execOutput struct {
	stdout, stderr string
	exitCode       int
}

// execAgent runs /faultline-agent with args inside the node's container
// (its network namespace) and returns its output and exit code. The image
// has no shell, so the agent is executed directly.
func (c *Cluster) execAgent(ctx context.Context, n *node, args ...string) (execOutput, error) {
	cmd := append([]string{"/" + AgentBinary}, args...)
	created, err := c.cli.ContainerExecCreate(ctx, n.containerID, container.ExecOptions{
		Cmd: cmd, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return execOutput{}, fmt.Errorf("exec %s in %s: %w", strings.Join(cmd, " "), n.name, err)
	}
	attached, err := c.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return execOutput{}, fmt.Errorf("exec %s in %s: attach: %w", strings.Join(cmd, " "), n.name, err)
	}
	defer attached.Close()
	stop := context.AfterFunc(ctx, attached.Close) // unblock the read on cancellation
	defer stop()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, attached.Reader); err != nil {
		return execOutput{}, fmt.Errorf("exec %s in %s: read output: %w", strings.Join(cmd, " "), n.name, errors.Join(err, ctx.Err()))
	}
	inspect, err := c.cli.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return execOutput{}, fmt.Errorf("exec %s in %s: inspect: %w", strings.Join(cmd, " "), n.name, err)
	}
	return execOutput{
		stdout:   strings.TrimSpace(stdout.String()),
		stderr:   strings.TrimSpace(stderr.String()),
		exitCode: inspect.ExitCode,
	}, nil
}

// execAgentCheck runs the agent and turns a non-zero exit into an error
// carrying the agent's one-line message.
func (c *Cluster) execAgentCheck(ctx context.Context, n *node, args ...string) error {
	out, err := c.execAgent(ctx, n, args...)
	if err != nil {
		return err
	}
	if out.exitCode != 0 {
		return fmt.Errorf("%s on %s: exit code %d: %s", args[0], n.name, out.exitCode, out.stderr)
	}
	return nil
}

func joinErrors(errs []error) error { return errors.Join(errs...) }
