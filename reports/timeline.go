package reports

import (
	"math"
	"strconv"
	"strings"

	"github.com/faultline/faultline/checker"
)

// Geometry of the HTML timeline, in SVG user units (the SVG scales to the
// page width).
const (
	timelineWidth   = 1000.0
	timelineLabelW  = 90.0
	timelineRowH    = 22.0
	timelineBarH    = 16.0
	timelineAxisH   = 20.0
	timelineMaxTick = 10
)

// timeline is an SVG bar chart of the faults: one row per kind, one bar per
// fault, x from 0 to the end of the run.
type timeline struct {
	Width, Height float64
	AxisY, LabelY float64
	Rows          []timelineRow
	Bars          []timelineBar
	Ticks         []timelineTick
}

type timelineRow struct {
	Kind  string
	TextY float64
}

type timelineBar struct {
	X, Y, W, H float64
	Color      string
	Title      string
}

type timelineTick struct {
	X     float64
	Label string
}

// buildTimeline lays out the faults; nil when there are none.
func buildTimeline(faults []FaultInterval, end int64) *timeline {
	if len(faults) == 0 {
		return nil
	}
	rowOf := map[string]int{}
	var rows []timelineRow
	for _, f := range faults {
		if _, ok := rowOf[f.Kind]; !ok {
			rowOf[f.Kind] = len(rows)
			rows = append(rows, timelineRow{Kind: f.Kind, TextY: round1(float64(len(rows))*timelineRowH + timelineRowH*0.7)})
		}
	}
	plotW := timelineWidth - timelineLabelW - 30 // room for the last tick label
	x := func(ns int64) float64 {
		return round1(timelineLabelW + plotW*math.Min(1, math.Max(0, float64(ns)/float64(end))))
	}
	t := &timeline{Width: timelineWidth, Rows: rows}
	t.AxisY = float64(len(rows)) * timelineRowH
	t.LabelY = t.AxisY + timelineAxisH*0.75
	t.Height = t.AxisY + timelineAxisH
	for _, f := range faults {
		stop := end
		if f.Healed() {
			stop = f.End
		}
		x0, x1 := x(f.Start), x(stop)
		title := f.Label()
		if len(f.Targets) > 0 {
			title += " on " + strings.Join(f.Targets, ",")
		}
		if f.Healed() {
			title += ": " + formatSeconds(f.Start) + " to " + formatSeconds(f.End)
		} else {
			title += ": from " + formatSeconds(f.Start) + ", never healed"
		}
		t.Bars = append(t.Bars, timelineBar{
			X: x0, W: math.Max(1, round1(x1-x0)),
			Y:     float64(rowOf[f.Kind])*timelineRowH + (timelineRowH-timelineBarH)/2,
			H:     timelineBarH,
			Color: hexColor(FaultColor(f.Kind)),
			Title: title,
		})
	}
	step := tickStep(float64(end)/1e9, timelineMaxTick)
	for i := 0; float64(i)*step <= float64(end)/1e9+1e-9; i++ {
		s := math.Round(float64(i)*step*1e6) / 1e6
		t.Ticks = append(t.Ticks, timelineTick{X: x(int64(s * 1e9)), Label: strconv.FormatFloat(s, 'f', -1, 64) + " s"})
	}
	return t
}

// tickStep is a round step (1, 2 or 5 times a power of ten) giving at most
// maxTicks ticks over [0, span].
func tickStep(span float64, maxTicks int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(maxTicks)
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= raw {
			return m * pow
		}
	}
	return 10 * pow
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// typedDetails turns checker details given by value into the pointer form
// results.json decodes to, so callers switch on one type per checker.
func typedDetails(d any) any {
	switch v := d.(type) {
	case checker.LinearizabilityDetails:
		return &v
	case checker.SetDetails:
		return &v
	case checker.StatsDetails:
		return &v
	case checker.AvailabilityDetails:
		return &v
	case checker.ConvergenceDetails:
		return &v
	}
	return d
}
