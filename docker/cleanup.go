package docker

import (
	"context"
	"errors"
	"fmt"
	"sort"
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
	if err != nil {
		return fmt.Errorf("teardown run %s: %w", c.opts.RunID, err)
	}
	c.logger.Info("cluster removed", "removed", removed, "elapsed", time.Since(start))
	return nil
}

// Cleanup removes every container and network labelled as faultline's, only
// those of one run when runID is not empty, and returns how many it removed.
// It does not ask whether a run is live: Teardown uses it for its own run.
// Paused containers are resumed first so they can be removed.
func Cleanup(ctx context.Context, runID string) (int, error) {
	removed, _, err := cleanup(ctx, runID, func(string) bool { return false })
	return removed, err
}

// CleanupOptions selects what CleanupUnused removes.
type CleanupOptions struct {
	// RunID limits it to one run; empty: every faultline run.
	RunID string
	// Force also removes runs that are live on this host (HoldRun).
	Force bool
}

// CleanupResult is what CleanupUnused did.
type CleanupResult struct {
	// Removed counts containers and networks.
	Removed int
	// LiveRuns are the runs left alone because a process on this host
	// holds them, sorted.
	LiveRuns []string
}

// CleanupUnused removes the containers and networks faultline runs left
// behind: those of runs no process on this host holds (see HoldRun), so a
// cleanup started while other runs are going leaves them alone. Runs started
// from another host cannot be seen to be live and are removed. With Force,
// live runs are removed too (their harness then fails).
func CleanupUnused(ctx context.Context, opts CleanupOptions) (CleanupResult, error) {
	if opts.RunID != "" {
		if err := checkRunID(opts.RunID); err != nil {
			return CleanupResult{}, err
		}
	}
	live := map[string]bool{}
	skip := func(run string) bool {
		if opts.Force || run == "" {
			return false
		}
		isLive, seen := live[run]
		if !seen {
			isLive = runLive(run)
			live[run] = isLive
		}
		return isLive
	}
	removed, skipped, err := cleanup(ctx, opts.RunID, skip)
	return CleanupResult{Removed: removed, LiveRuns: skipped}, err
}

// cleanup removes the labelled containers and networks of runID (empty:
// every run) except those of runs skip picks, which it returns sorted.
func cleanup(ctx context.Context, runID string, skip func(run string) bool) (int, []string, error) {
	cli, err := newClient(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer cli.Close()
	args := filters.NewArgs(filters.Arg("label", LabelFaultline+"=1"))
	if runID != "" {
		args.Add("label", LabelRun+"="+runID)
	}
	containers, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		return 0, nil, fmt.Errorf("cleanup: list containers: %w", err)
	}
	skipped := map[string]bool{}
	removed := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for _, ctr := range containers {
		if run := ctr.Labels[LabelRun]; skip(run) {
			skipped[run] = true
			continue
		}
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
		return removed, sortedRuns(skipped), errors.Join(append(errs, fmt.Errorf("cleanup: list networks: %w", err))...)
	}
	for _, nw := range networks {
		if run := nw.Labels[LabelRun]; skip(run) {
			skipped[run] = true
			continue
		}
		if err := cli.NetworkRemove(ctx, nw.ID); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", nw.Name, err))
			continue
		}
		removed++
	}
	return removed, sortedRuns(skipped), errors.Join(errs...)
}

func sortedRuns(set map[string]bool) []string {
	runs := make([]string, 0, len(set))
	for run := range set {
		runs = append(runs, run)
	}
	sort.Strings(runs)
	return runs
}
