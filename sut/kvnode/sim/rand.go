package sim

import mathrand "math/rand"

// rand1Rand is math/rand's generator, which the workload generators and the
// replication core take.
type rand1Rand = mathrand.Rand

func newRand1(seed int64) *rand1Rand { return mathrand.New(mathrand.NewSource(seed)) }
