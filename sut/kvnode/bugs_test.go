package kvnode

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/node/server"
)

// The catalogue and the node's own list of unsafe switches name the same
// switches: a switch without an entry, or an entry without a switch, fails.
func TestBugCatalogueCoversEveryUnsafeSwitch(t *testing.T) {
	switches := server.UnsafeNames()
	require.GreaterOrEqual(t, len(switches), 7, "the issue asks for at least seven switches")
	var names []string
	for _, b := range Bugs() {
		names = append(names, b.Name)
	}
	assert.ElementsMatch(t, switches, names, "one catalogue entry per unsafe switch of node/server")
}

func TestBugCatalogueFlagsAreKvnodes(t *testing.T) {
	for _, b := range Bugs() {
		t.Run(b.Name, func(t *testing.T) {
			node, err := ParseConfig(b.NodeFlags)
			require.NoError(t, err, "the flags of both runs")
			assert.Empty(t, node.Unsafe, "the correct node runs without unsafe switches")
			assert.Empty(t, node.Other, "every flag of the catalogue is a typed one")

			unsafe, err := ParseConfig(append(append([]string{}, b.NodeFlags...), b.UnsafeFlags...))
			require.NoError(t, err)
			assert.Equal(t, []string{b.Name}, unsafe.Unsafe, "the unsafe runs turn on exactly the entry's switch")
			unsafe.Unsafe = nil
			assert.Equal(t, node, unsafe, "and change nothing else")

			assert.NotEmpty(t, b.Why)
			assert.NotEmpty(t, b.Nemesis, "every bug needs faults to show")
		})
	}
}

// Bugs hands out copies: a caller that edits an entry's flags does not edit
// the catalogue.
func TestBugsReturnsCopies(t *testing.T) {
	a := Bugs()
	a[0].UnsafeFlags[0] = "--unsafe=changed"
	a[0].Name = "changed"
	b := Bugs()
	assert.Equal(t, server.UnsafeStaleRead, b[0].Name)
	assert.Equal(t, []string{"--unsafe=" + server.UnsafeStaleRead}, b[0].UnsafeFlags)
}
