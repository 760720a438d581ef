package mutate

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

// Equivalence is the written argument that a mutant changes nothing any
// client or checker can observe, so a harness that misses it has not
// missed a bug. Site repeats the mutant's title for a reader of the file.
type Equivalence struct {
	Site     string `json:"site"`
	Argument string `json:"argument"`
}

//go:embed equivalent.json
var equivalentJSON []byte

// Equivalents are the checked-in arguments, by mutant id
// (mutate/equivalent.json). A campaign still runs these mutants: one the
// harness catches was not equivalent, and the output says so.
func Equivalents() (map[string]Equivalence, error) {
	return parseEquivalents(equivalentJSON)
}

func parseEquivalents(b []byte) (map[string]Equivalence, error) {
	m := map[string]Equivalence{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("mutate/equivalent.json: %w", err)
	}
	for id, e := range m {
		if e.Argument == "" {
			return nil, fmt.Errorf("mutate/equivalent.json: mutant %s has no argument: say why no client or checker can see it", id)
		}
	}
	return m, nil
}
