package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
)

// Teardown removes the run's containers and network. It is idempotent and
// uses a fresh context (bounded by its own timeout), so it works even when the
// run's context has been cancelled.
func (c *Cluster) Teardown(ctx context.Context) error {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	return c.teardownLocked(context.WithoutCancel(ctx))
}

func (c *Cluster) teardownLocked(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, teardownTimeout)
	defer cancel()
	start := time.Now()
	removed, err := Cleanup(ctx, c.opts.RunID)
	c.http.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("teardown run %s: %w", c.opts.RunID, err)
	}
	c.logger.Info("cluster removed", "removed", removed, "elapsed", time.Since(start))
	return nil
}

// Cleanup removes every container and network labelled as faultline's, only
// those of one run when runID is not empty, and returns how many it removed.
// Paused containers are resumed first so they can be removed.
func Cleanup(ctx context.Context, runID string) (int, error) {
	cli, err := newClient(ctx)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	args := filters.NewArgs(filters.Arg("label", LabelFaultline+"=1"))
	if runID != "" {
		args.Add("label", LabelRun+"="+runID)
	}
	containers, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		return 0, fmt.Errorf("cleanup: list containers: %w", err)
	}
	removed := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for _, ctr := range containers {
		wg.Go(func() {
			if ctr.State == container.StatePaused {
				_ = cli.ContainerUnpause(ctx, ctr.ID)
			}
			err := cli.ContainerRemove(ctx, ctr.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				removed++
			case !isNotFound(err):
				errs = append(errs, fmt.Errorf("remove container %s: %w", strings.Join(ctr.Names, ","), err))
			}
		})
	}
	wg.Wait()
	networks, err := cli.NetworkList(ctx, network.ListOptions{Filters: args})
	if err != nil {
		return removed, errors.Join(append(errs, fmt.Errorf("cleanup: list networks: %w", err))...)
	}
	for _, nw := range networks {
		if err := cli.NetworkRemove(ctx, nw.ID); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", nw.Name, err))
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}
