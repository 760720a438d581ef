package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/campaign"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/sut/kvnode"
)

// Every entry of the zoo `faultline bugs` runs is one the harness accepts:
// its unsafe and correct runs are valid specs whose node flags kvnode's
// adapter accepts, and only the unsafe run turns a switch on.
func TestBugCatalogueEntriesRun(t *testing.T) {
	store := storesUnderTest[kvnode.Name]
	require.NotEmpty(t, store.bugs)
	for _, b := range store.bugs {
		t.Run(b.Name, func(t *testing.T) {
			require.NoError(t, campaign.ValidateBug(b))
			for _, unsafe := range []bool{true, false} {
				spec, err := campaign.BugSpec(b, bugsBaseSpec(), unsafe, 42)
				require.NoError(t, err)
				require.NoError(t, spec.Validate())
				require.NoError(t, store.validateFlags(spec.NodeFlags))
				cfg, err := kvnode.ParseConfig(spec.NodeFlags)
				require.NoError(t, err)
				if unsafe {
					assert.Equal(t, []string{b.Name}, cfg.Unsafe)
				} else {
					assert.Empty(t, cfg.Unsafe)
				}
			}
		})
	}
}

func TestNodeFlagsAreCheckedByTheStore(t *testing.T) {
	kv := storesUnderTest[kvnode.Name]
	err := kv.validateFlags([]string{"--unsafe=heisenbug"})
	require.Error(t, err)
	assert.True(t, harness.IsUsage(err))
	assert.Contains(t, err.Error(), "--node-flags")
	assert.NoError(t, kv.validateFlags([]string{"--read-mode", "lease", "--log-level=debug"}))
	assert.NoError(t, storesUnderTest["etcd"].validateFlags([]string{"--unsafe=heisenbug"}), "etcd's flags are etcd's own")
}
