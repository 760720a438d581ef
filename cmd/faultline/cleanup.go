package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/docker"
	"github.com/faultline/faultline/harness"
)

func newCleanupCommand() *cobra.Command {
	var runID string
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove containers and networks left by faultline runs",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := docker.Cleanup(cmd.Context(), runID)
			if err != nil {
				return &exitError{code: harness.ExitInternal, err: err}
			}
			fmt.Fprintf(os.Stdout, "removed %d containers and networks\n", n)
			return nil
		},
	}
	cmd.Flags().StringVar(&runID, "run", "", "only this run id (default: every faultline run)")
	return cmd
}
