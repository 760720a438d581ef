package campaign

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/harness"
)

func TestSuiteExitCode(t *testing.T) {
	tests := []struct {
		codes []int
		want  int
	}{
		{nil, harness.ExitInternal},
		{[]int{0, 0}, 0},
		{[]int{0, 2}, 2},
		{[]int{2, 1, 0}, 1},
		{[]int{1, 255}, 255},
		{[]int{255, 254}, 254},
	}
	for _, tt := range tests {
		var rs []SuiteResult
		for _, c := range tt.codes {
			rs = append(rs, SuiteResult{Outcome: harness.Outcome{ExitCode: c}})
		}
		assert.Equal(t, tt.want, SuiteExitCode(rs), "codes %v", tt.codes)
	}
}

func TestParseNemesisMatrix(t *testing.T) {
	assert.Equal(t, []string{"partition", "kill,pause", "all"}, ParseNemesisMatrix("partition;kill,pause all"))
	assert.Empty(t, ParseNemesisMatrix("  "))
}
