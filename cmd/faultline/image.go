package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/harness"
)

func newImageCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "image",
		Short: "Build the node image FROM scratch (reused when the binaries are unchanged) and print its tag",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tag, err := buildImage(cmd.Context())
			if err != nil {
				return &exitError{code: harness.ExitInternal, err: err}
			}
			releaseImage(cmd.Context())
			fmt.Fprintln(os.Stdout, tag)
			return nil
		},
	}
}
