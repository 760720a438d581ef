package campaign

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
)

// sampleKnob is a store's node sampler: one drawn flag.
func sampleKnob(r *rand.Rand) []string { return []string{fmt.Sprintf("--knob=%d", r.Intn(1000))} }

// sampledSpace is the default space of a store with a node sampler.
func sampledSpace() ExploreSpace {
	space := DefaultExploreSpace()
	space.SampleNode = sampleKnob
	return space
}

func drawSequence(seed int64, n int, timeLimitCap time.Duration) []ExploreConfig {
	master := rand.New(rand.NewSource(seed))
	var out []ExploreConfig
	for i := range n {
		out = append(out, DrawConfig(master, sampledSpace(), i, timeLimitCap))
	}
	return out
}

func TestDrawConfigSameSeedSameSequence(t *testing.T) {
	a := drawSequence(42, 50, 0)
	b := drawSequence(42, 50, 0)
	c := drawSequence(43, 50, 0)
	assert.Equal(t, a, b, "the same master seed must give the same configurations")
	assert.NotEqual(t, a, c, "another master seed should give other configurations")

	// A budget cap shortens time limits but must not shift the sequence.
	capped := drawSequence(42, 50, 30*time.Second)
	for i := range a {
		want := a[i]
		want.TimeLimit = min(want.TimeLimit, 30*time.Second)
		assert.Equal(t, want, capped[i], "config %d", i)
	}
}

func TestDrawnConfigsAreValid(t *testing.T) {
	space := DefaultExploreSpace()
	seen := map[string]map[string]bool{"workload": {}, "fault": {}, "nodes": {}, "combo": {}}
	for seed := range int64(20) {
		for i, c := range drawSequence(seed, 50, 0) {
			require.NoError(t, c.Validate(), "seed %d config %d: %s", seed, i, c)
			assert.Equal(t, i, c.Index)
			assert.NotEmpty(t, c.Workload)
			assert.Contains(t, []int{3, 5, 7}, c.Nodes)
			require.Len(t, c.NodeFlags, 1, "the sampler's flags")
			assert.True(t, strings.HasPrefix(c.NodeFlags[0], "--knob="))
			assert.GreaterOrEqual(t, c.TimeLimit, space.MinTimeLimit)
			assert.LessOrEqual(t, c.TimeLimit, space.MaxTimeLimit)
			assert.NotEmpty(t, c.Nemesis, "the default pool draws a non-empty fault combination")
			assert.True(t, slices.IsSorted(kindOrder(c.Nemesis)), "faults in canonical order: %v", c.Nemesis)
			assert.GreaterOrEqual(t, c.Seed, int64(0))

			spec := c.Spec(harness.DefaultSpec())
			require.NoError(t, spec.Validate(), "the run spec of %s", c)
			assert.Equal(t, c.Name(), spec.Name)
			assert.Equal(t, c.NodeFlags, spec.NodeFlags)

			seen["workload"][c.Workload] = true
			seen["nodes"][fmt.Sprint(c.Nodes)] = true
			seen["combo"][strings.Join(c.Nemesis, ",")] = true
			for _, f := range c.Nemesis {
				seen["fault"][f] = true
			}
		}
	}
	// 1000 draws cover every workload, every fault and most combinations.
	assert.Len(t, seen["workload"], len(workloads.Names()))
	assert.Len(t, seen["fault"], len(nemesis.AllKinds))
	assert.Len(t, seen["nodes"], 3)
	assert.Greater(t, len(seen["combo"]), 25, "of the 31 non-empty fault combinations")
}

func kindOrder(faults []string) []int {
	var idx []int
	for _, f := range faults {
		idx = append(idx, slices.Index(nemesis.Kinds, f))
	}
	return idx
}

func TestExploreConfigValidateRejects(t *testing.T) {
	good := drawSequence(1, 1, 0)[0]
	require.NoError(t, good.Validate())
	tests := []struct {
		name    string
		change  func(*ExploreConfig)
		wantErr string
	}{
		{"even cluster", func(c *ExploreConfig) { c.Nodes = 4 }, "nodes 4"},
		{"no workload", func(c *ExploreConfig) { c.Workload = "" }, "workload"},
		{"unknown fault", func(c *ExploreConfig) { c.Nemesis = []string{"meteor"} }, "meteor"},
		{"duplicate fault", func(c *ExploreConfig) { c.Nemesis = []string{"kill", "kill"} }, "twice"},
		{"short nemesis interval", func(c *ExploreConfig) { c.NemesisInterval = time.Second }, "nemesis interval"},
		{"negative seed", func(c *ExploreConfig) { c.Seed = -1 }, "seed"},
		{"no time", func(c *ExploreConfig) { c.TimeLimit = 0 }, "time limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			err := c.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestExploreConfigSpecAndCommand(t *testing.T) {
	c := ExploreConfig{
		Workload: "register", Nemesis: []string{"partition", "kill"}, Nodes: 5,
		NodeFlags:       []string{"--election-timeout=1.2s", "--heartbeat-interval=100ms", "--snapshot-entries=250", "--segment-bytes=65536"},
		NemesisInterval: 3500 * time.Millisecond,
		TimeLimit:       45 * time.Second, Seed: 12345,
	}
	require.NoError(t, c.Validate())
	base := harness.DefaultSpec()
	base.NodeFlags = []string{"--log-level=debug"}
	base.Store = "/tmp/nightly store"
	s := c.Spec(base)
	require.NoError(t, s.Validate())
	assert.Equal(t, "register-partition+kill", s.Name)
	assert.Equal(t, []string{"--log-level=debug", "--election-timeout=1.2s", "--heartbeat-interval=100ms",
		"--snapshot-entries=250", "--segment-bytes=65536"}, s.NodeFlags, "drawn flags come last, so they win")
	assert.Equal(t, []string{"--log-level=debug"}, base.NodeFlags, "the base spec is not modified")

	cmd := s.Command()
	for _, want := range []string{
		"faultline test", "--workload register", "--nemesis partition,kill", "--nodes 5", "--seed 12345",
		"--time-limit 45s", "--nemesis-interval 3.5s",
		"--node-flags='--log-level=debug --election-timeout=1.2s --heartbeat-interval=100ms --snapshot-entries=250 --segment-bytes=65536'",
	} {
		assert.Contains(t, cmd, want)
	}
	assert.NotContains(t, cmd, "--request-timeout", "defaults are left out")
	assert.NotContains(t, cmd, "--name", "the default name is left out")
	assert.NotContains(t, cmd, "--store", "where results go is the reader's choice")
}

func TestExploreSpaceNarrowed(t *testing.T) {
	space := ExploreSpace{Workloads: []string{"set"}, Faults: []string{"kill"}}
	require.NoError(t, space.Validate())
	master := rand.New(rand.NewSource(5))
	for i := range 20 {
		c := DrawConfig(master, space, i, 0)
		assert.Equal(t, "set", c.Workload)
		assert.Equal(t, []string{"kill"}, c.Nemesis)
	}
	none := ExploreSpace{NoFaults: true}
	c := DrawConfig(rand.New(rand.NewSource(5)), none, 0, 0)
	assert.Empty(t, c.Nemesis)
	assert.Equal(t, c.Workload+"-none", c.Name())

	assert.Error(t, ExploreSpace{Workloads: []string{"bank"}}.Validate())
	assert.Error(t, ExploreSpace{Faults: []string{"meteor"}}.Validate())
	assert.Error(t, ExploreSpace{MinTimeLimit: time.Minute, MaxTimeLimit: time.Second}.Validate())
}

// A store without a node sampler draws no node flags, and its runs keep the
// base spec's flags; the rest of the sequence is the same as with one.
func TestDrawConfigWithoutNodeSampler(t *testing.T) {
	master := rand.New(rand.NewSource(42))
	base := harness.DefaultSpec()
	base.NodeFlags = []string{"--snapshot-count=1000"}
	with := drawSequence(42, 20, 0)
	for i := range 20 {
		c := DrawConfig(master, DefaultExploreSpace(), i, 0)
		require.NoError(t, c.Validate())
		assert.Nil(t, c.NodeFlags)
		assert.Equal(t, []string{"--snapshot-count=1000"}, c.Spec(base).NodeFlags)
		assert.NotContains(t, c.String(), "--knob")
		if i == 0 {
			assert.Equal(t, with[0].Workload, c.Workload, "the sampler's draws come after the workload's")
			assert.Equal(t, with[0].Nemesis, c.Nemesis)
			assert.Equal(t, with[0].Nodes, c.Nodes)
		}
	}
}
