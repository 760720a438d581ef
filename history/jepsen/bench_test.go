package jepsen_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history/jepsen"
)

// BenchmarkCheckKnossosHistories reads each recorded Jepsen history under
// history/testdata/jepsen and checks it for linearizability, the work that
// knossos did to publish its verdict. The README's table quotes these
// figures: go test -run ^$ -bench CheckKnossos ./history/jepsen/
func BenchmarkCheckKnossosHistories(b *testing.B) {
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "jepsen", "*.edn"))
	require.NoError(b, err)
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".edn")
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				imp, err := jepsen.ReadFile(path, jepsen.WorkloadRegister)
				require.NoError(b, err)
				res := checker.Run(context.Background(), checker.Input{History: imp.History, CheckTimeout: time.Minute},
					checker.Linearizability{Model: checker.ModelRegister})
				if res.Verdict == checker.Unknown {
					b.Fatalf("%s: %s", name, res.Reason)
				}
			}
		})
	}
}
