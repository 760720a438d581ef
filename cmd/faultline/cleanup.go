package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/docker"
	"github.com/faultline/faultline/harness"
)

func newCleanupCommand() *cobra.Command {
	var opts docker.CleanupOptions
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove containers, networks and old node images left by faultline runs",
		Long: `cleanup removes the containers and networks (labelled faultline=1) of runs that no
faultline process on this host is running any more: a harness that was killed, or a
cluster kept with --keep-cluster. Runs that a faultline test, suite or bugs process on
this host is still running are left alone and listed, so cleanup is safe while other
runs go on; --force removes them too (their harness then fails). Runs started from
another host cannot be seen to be live and are removed.

Then, if no other faultline process on this host holds a node image, it removes the
faultline-node image tags no container uses, except the three most recently built or
reused (a test, suite or bugs run does the same when it is the last to finish).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.RunID != "" && !docker.ValidRunID(opts.RunID) {
				return harness.Usagef("--run %q is not a run id: copy it from 'docker ps --filter label=faultline=1' (label faultline.run)", opts.RunID)
			}
			res, err := docker.CleanupUnused(cmd.Context(), opts)
			if err != nil {
				return &exitError{code: harness.ExitInternal, err: err}
			}
			fmt.Fprintf(os.Stdout, "removed %d containers and networks\n", res.Removed)
			if len(res.LiveRuns) > 0 {
				fmt.Fprintf(os.Stdout, "left %d live runs (%s): a faultline process on this host is running them; let them finish, or pass --force\n",
					len(res.LiveRuns), strings.Join(res.LiveRuns, ", "))
			}
			n, err := docker.PruneImages(cmd.Context())
			switch {
			case errors.Is(err, docker.ErrImagesInUse):
				fmt.Fprintln(os.Stdout, "left node images: another faultline process is using one")
			case err != nil:
				return &exitError{code: harness.ExitInternal, err: fmt.Errorf("remove old node images: %w", err)}
			default:
				fmt.Fprintf(os.Stdout, "removed %d old node images\n", n)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.RunID, "run", "", "only this run id (default: every faultline run)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "also remove runs a faultline process on this host is still running")
	return cmd
}
