package docker

import (
	"sort"

	"github.com/containerd/errdefs"
)

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func isNotFound(err error) bool { return errdefs.IsNotFound(err) }
