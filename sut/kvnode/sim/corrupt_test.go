package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
)

// TestCorruptSectorRefusedOrCut: a damaged sector of the newest segment is
// either damage inside the log, which the node refuses to start on with the
// corrupt-WAL error (and rejoins once its data dir is removed), or looks
// like a torn write and is cut off; both happen over a few seeds, every
// damaged node catches up, and the runs are valid. Which one a seed draws
// depends on where the damage lands, so the seeds run until both happened
// (about one damaged node in five looks like a torn write).
func TestCorruptSectorRefusedOrCut(t *testing.T) {
	var refused, cut int
	for seed := int64(0); seed < 6 || (refused == 0 || cut == 0) && seed < 30; seed++ {
		res, err := Run(Config{Seed: seed, Duration: 10 * time.Second, Faults: []string{FaultCorruptSector}})
		require.NoError(t, err, "seed %d", seed)
		require.Equal(t, checker.Valid, res.Results.Verdict, "seed %d: %s", seed, res.Results.Reason)
		for _, op := range res.History {
			if !op.IsNemesis() || op.Type != history.OK || op.F != history.FStop || op.Fault.Kind != FaultCorruptSector {
				continue
			}
			f := op.Fault
			for _, n := range f.Targets {
				assert.Contains(t, f.Params, "recovery_ms."+n, "seed %d: %s caught up", seed, n)
				why, ok := f.Params["refused_start."+n]
				if !ok {
					cut++
					continue
				}
				refused++
				assert.Contains(t, why, "corrupt write-ahead log")
				assert.False(t, strings.Contains(why, ";"), "the operator's advice is left out of the parameter")
				assert.Equal(t, "true", f.Params["operator_wiped."+n])
			}
		}
	}
	assert.Positive(t, refused, "damage inside the log")
	assert.Positive(t, cut, "damage that looks like a torn write")
}
