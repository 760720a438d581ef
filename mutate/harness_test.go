package mutate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSweepArgs(t *testing.T) {
	base := Sweep{Workload: "set", FirstSeed: 1, LastSeed: 50, Budget: 20 * time.Second, Workers: 2}
	tests := []struct {
		name        string
		sweep       func(Sweep) Sweep
		stopAtFirst bool
		want        []string
	}{
		{"defaults", func(s Sweep) Sweep { return s }, false,
			[]string{"sim", "--workload", "set", "--seeds", "1-50", "--budget", "20s", "--workers", "2", "--store", "S", "--keep", "failing", "--digests"}},
		{"nemesis, fixed configuration, first failure", func(s Sweep) Sweep {
			s.Nemesis, s.FixedConfig = "partition,kill", true
			return s
		}, true,
			[]string{"sim", "--workload", "set", "--seeds", "1-50", "--budget", "20s", "--workers", "2", "--store", "S", "--keep", "failing", "--digests",
				"--nemesis", "partition,kill", "--explore=false", "--stop-at-first"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.sweep(base).args("S", tt.stopAtFirst))
		})
	}
}
