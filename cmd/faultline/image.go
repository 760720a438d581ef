package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/harness"
)

func newImageCommand() *cobra.Command {
	var sutName string
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the node image FROM scratch (reused when the binaries are unchanged) and print its tag",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := lookupSUT(sutName)
			if err != nil {
				return err
			}
			tag, err := buildImage(cmd.Context(), store)
			if err != nil {
				return &exitError{code: harness.ExitInternal, err: err}
			}
			releaseImage(cmd.Context())
			fmt.Fprintln(os.Stdout, tag)
			return nil
		},
	}
	cmd.Flags().StringVar(&sutName, "sut", harness.DefaultSUT, "store under test: "+strings.Join(sutNames(), " or "))
	return cmd
}
