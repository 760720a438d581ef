package reports

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildTimeline(t *testing.T) {
	assert.Nil(t, buildTimeline(nil, 100))
	sec := int64(time.Second)
	faults := []FaultInterval{
		{Kind: "partition", Shape: "halves", Targets: []string{"n1"}, Start: 0, End: 5 * sec},
		{Kind: "kill", Start: 2 * sec, End: 4 * sec},
		{Kind: "partition", Start: 6 * sec, End: math.MaxInt64},
	}
	tl := buildTimeline(faults, 10*sec)
	require.NotNil(t, tl)
	assert.Equal(t, []timelineRow{{Kind: "partition", TextY: 15.4}, {Kind: "kill", TextY: 37.4}}, tl.Rows)
	require.Len(t, tl.Bars, 3)
	plotW := timelineWidth - timelineLabelW - 30
	assert.Equal(t, timelineLabelW, tl.Bars[0].X)
	assert.InDelta(t, plotW/2, tl.Bars[0].W, 0.1)
	assert.Equal(t, tl.Bars[0].Y, tl.Bars[2].Y, "same kind, same row")
	assert.Greater(t, tl.Bars[1].Y, tl.Bars[0].Y)
	assert.InDelta(t, timelineLabelW+plotW, tl.Bars[2].X+tl.Bars[2].W, 0.1, "an unhealed fault runs to the end")
	assert.Equal(t, "partition halves on n1: 0.000 s to 5.000 s", tl.Bars[0].Title)
	assert.Equal(t, "partition: from 6.000 s, never healed", tl.Bars[2].Title)
	require.NotEmpty(t, tl.Ticks)
	assert.Equal(t, "0 s", tl.Ticks[0].Label)
	assert.Equal(t, "10 s", tl.Ticks[len(tl.Ticks)-1].Label)
	assert.LessOrEqual(t, len(tl.Ticks), timelineMaxTick+1)

	short := buildTimeline(faults[:1], int64(700*time.Millisecond))
	assert.Equal(t, "0.3 s", short.Ticks[3].Label, "no float noise in labels")
}

func TestTickStep(t *testing.T) {
	for _, tt := range []struct{ span, want float64 }{{10, 1}, {30, 5}, {60, 10}, {0.5, 0.05}, {0, 1}, {1000, 100}} {
		assert.InDelta(t, tt.want, tickStep(tt.span, 10), 1e-9, "span %v", tt.span)
	}
}
