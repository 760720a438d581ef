package reports

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/faultline/faultline/history"
)

// Plot geometry. 11 x 4 inches at vgimg's 96 dpi is a 1056 x 384 PNG, wide
// enough to read a minute-long run, with a strip on the right for the legend.
const (
	plotWidth       = 11 * vg.Inch
	plotHeight      = 4 * vg.Inch
	legendWidth     = 1.7 * vg.Inch
	targetTimeSlots = 60
)

// Colours of results, shared with the HTML.
var resultColors = map[history.Type]color.NRGBA{
	history.OK:   {R: 0x2c, G: 0xa0, B: 0x2c, A: 0xc0},
	history.Fail: {R: 0xd6, G: 0x27, B: 0x28, A: 0xc0},
	history.Info: {R: 0xff, G: 0x8c, B: 0x00, A: 0xc0},
}

// glyphFor shapes a point by operation function.
func glyphFor(f string) draw.GlyphDrawer {
	switch f {
	case history.FRead:
		return draw.CircleGlyph{}
	case history.FWrite:
		return draw.TriangleGlyph{}
	case history.FCAS:
		return draw.SquareGlyph{}
	case history.FAppend:
		return draw.PlusGlyph{}
	}
	return draw.CrossGlyph{}
}

// dashesFor styles a line by operation function.
func dashesFor(f string) []vg.Length {
	switch f {
	case history.FRead:
		return nil
	case history.FWrite:
		return []vg.Length{vg.Points(6), vg.Points(3)}
	case history.FCAS:
		return []vg.Length{vg.Points(2), vg.Points(2)}
	}
	return []vg.Length{vg.Points(8), vg.Points(2), vg.Points(2), vg.Points(2)}
}

// figure is a plot with its legend drawn beside it rather than over the data.
type figure struct {
	plot   *plot.Plot
	legend plot.Legend
}

func newFigure(title, yLabel string, endSeconds float64, faults []FaultInterval) *figure {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "time since start (s)"
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	p.Add(faultShading{faults: faults, endSeconds: endSeconds})
	leg := plot.NewLegend()
	leg.Top = true
	leg.Left = true
	leg.TextStyle.Font.Size = vg.Points(9)
	fig := &figure{plot: p, legend: leg}
	addFaultLegend(&fig.legend, faults)
	return fig
}

// setTimeAxis fixes the x axis to the whole run so every plot lines up.
func (f *figure) setTimeAxis(endSeconds float64) {
	f.plot.X.Min = 0
	f.plot.X.Max = endSeconds
}

// setLogY makes the y axis logarithmic over whole decades covering [lo, hi].
func (f *figure) setLogY(lo, hi float64) {
	if !(lo > 0) || math.IsInf(lo, 0) {
		lo = 0.1
	}
	if !(hi > lo) || math.IsInf(hi, 0) {
		hi = lo * 10
	}
	f.plot.Y.Scale = plot.LogScale{}
	f.plot.Y.Tick.Marker = decadeTicks{}
	f.plot.Y.Min = math.Pow(10, math.Floor(math.Log10(lo)))
	f.plot.Y.Max = math.Pow(10, math.Ceil(math.Log10(hi)))
	if f.plot.Y.Max <= f.plot.Y.Min {
		f.plot.Y.Max = f.plot.Y.Min * 10
	}
}

// save writes the figure to path; the format is the file extension (png, svg).
func (f *figure) save(path string) (err error) {
	format := filepath.Ext(path)
	if format == "" {
		return fmt.Errorf("save plot %s: no extension", path)
	}
	c, err := draw.NewFormattedCanvas(plotWidth, plotHeight, format[1:])
	if err != nil {
		return fmt.Errorf("save plot %s: %w", path, err)
	}
	dc := draw.New(c)
	f.plot.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
	f.legend.Draw(draw.Crop(dc, plotWidth-legendWidth+vg.Points(6), 0, 0, -vg.Points(24)))
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("save plot: %w", err)
	}
	defer func() {
		if cerr := out.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("save plot %s: %w", path, cerr)
		}
	}()
	if _, err := c.WriteTo(out); err != nil {
		return fmt.Errorf("save plot %s: %w", path, err)
	}
	return nil
}

// decadeTicks labels every power of ten in range and marks 2..9 times each
// as minor ticks. (plot.LogTicks starts its labels at the decade above a
// minimum below 1, leaving 0.1 unlabelled.)
type decadeTicks struct{}

// Ticks implements plot.Ticker.
func (decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		decade := math.Pow(10, e)
		if decade >= lo*(1-1e-9) && decade <= hi*(1+1e-9) {
			ticks = append(ticks, plot.Tick{Value: decade, Label: strconv.FormatFloat(decade, 'g', -1, 64)})
		}
		for m := 2.0; m < 10; m++ {
			if v := m * decade; v > lo && v < hi {
				ticks = append(ticks, plot.Tick{Value: v})
			}
		}
	}
	return ticks
}

// minLatencyMillis is the floor of latencies on a log axis (1 µs).
const minLatencyMillis = 0.001

// latencyFigure plots every completed client op: x its invoke time, y its
// latency on a log scale, colour its result and shape its function.
func latencyFigure(pairs []history.Pair, faults []FaultInterval, endSeconds float64) (*figure, error) {
	fig := newFigure("Latency of every operation", "latency (ms, log scale)", endSeconds, faults)
	type series struct {
		f string
		t history.Type
	}
	points := map[series]plotter.XYs{}
	var fs = map[string]bool{}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pairs {
		l, ok := Latency(p)
		if !ok || p.Invoke.IsNemesis() {
			continue
		}
		ms := max(float64(l)/1e6, minLatencyMillis)
		lo, hi = min(lo, ms), max(hi, ms)
		s := series{p.Invoke.F, p.Completion.Type}
		fs[p.Invoke.F] = true
		points[s] = append(points[s], plotter.XY{X: float64(p.Invoke.Time) / 1e9, Y: ms})
	}
	// Results are the outer loop so that the rarer fail and info points are
	// drawn over the ok ones rather than hidden under them.
	for _, t := range []history.Type{history.OK, history.Fail, history.Info} {
		for _, f := range sortedFunctions(fs) {
			xys := points[series{f, t}]
			if len(xys) == 0 {
				continue
			}
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, fmt.Errorf("latency plot %s %s: %w", f, t, err)
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: resultColors[t], Shape: glyphFor(f), Radius: vg.Points(2)}
			fig.plot.Add(sc)
			fig.legend.Add(f+" "+string(t), sc)
		}
	}
	fig.setTimeAxis(endSeconds)
	fig.setLogY(lo, hi)
	return fig, nil
}

// timeSlot picks a window length for rate and quantile plots: the first of
// a list of round durations that splits the run into at most targetTimeSlots.
func timeSlot(endNanos int64) int64 {
	const ms = int64(1e6)
	for _, d := range []int64{100 * ms, 250 * ms, 500 * ms, 1000 * ms, 2000 * ms, 5000 * ms,
		10000 * ms, 30000 * ms, 60000 * ms, 300000 * ms} {
		if endNanos/d < targetTimeSlots {
			return d
		}
	}
	return max(1, endNanos/targetTimeSlots)
}

// QuantileSlot is the latency quantiles of the operations invoked in one
// time window [Start, Start+slot).
type QuantileSlot struct {
	Start int64
	Quantiles
}

// LatencyOverTime groups completed client ops by invoke time into windows of
// slotNanos and computes each window's quantiles. Empty windows are skipped.
func LatencyOverTime(pairs []history.Pair, slotNanos int64) []QuantileSlot {
	buckets := map[int64][]int64{}
	var maxSlot int64 = -1
	for _, p := range pairs {
		l, ok := Latency(p)
		if !ok || p.Invoke.IsNemesis() {
			continue
		}
		s := p.Invoke.Time / slotNanos
		buckets[s] = append(buckets[s], l)
		maxSlot = max(maxSlot, s)
	}
	var out []QuantileSlot
	for s := int64(0); s <= maxSlot; s++ {
		if ls := buckets[s]; len(ls) > 0 {
			out = append(out, QuantileSlot{Start: s * slotNanos, Quantiles: QuantilesOf(ls)})
		}
	}
	return out
}

func quantileFigure(pairs []history.Pair, faults []FaultInterval, endNanos int64) (*figure, error) {
	endSeconds := float64(endNanos) / 1e9
	slot := timeSlot(endNanos)
	fig := newFigure(fmt.Sprintf("Latency quantiles per %s window (all completed operations)", formatSlot(slot)),
		"latency (ms, log scale)", endSeconds, faults)
	slots := LatencyOverTime(pairs, slot)
	lines := []struct {
		name string
		get  func(Quantiles) float64
		clr  color.Color
	}{
		{"p50", func(q Quantiles) float64 { return float64(q.P50) }, color.NRGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}},
		{"p95", func(q Quantiles) float64 { return float64(q.P95) }, color.NRGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}},
		{"p99", func(q Quantiles) float64 { return float64(q.P99) }, color.NRGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}},
		{"max", func(q Quantiles) float64 { return float64(q.Max) }, color.NRGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}},
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, ln := range lines {
		if len(slots) == 0 {
			break
		}
		xys := make(plotter.XYs, len(slots))
		for i, s := range slots {
			ms := max(ln.get(s.Quantiles)/1e6, minLatencyMillis)
			lo, hi = min(lo, ms), max(hi, ms)
			xys[i] = plotter.XY{X: float64(s.Start+slot/2) / 1e9, Y: ms}
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("quantile plot %s: %w", ln.name, err)
		}
		l.Color, l.Width = ln.clr, vg.Points(1.2)
		pts.Color, pts.Radius, pts.Shape = ln.clr, vg.Points(1.5), draw.CircleGlyph{}
		fig.plot.Add(l, pts)
		fig.legend.Add(ln.name, l, pts)
	}
	fig.setTimeAxis(endSeconds)
	fig.setLogY(lo, hi)
	return fig, nil
}

// RateSlot is the number of client op completions of one function and
// result in one time window.
type RateSlot struct {
	F      string
	Result history.Type
	// Counts[i] is the completions in [i*slot, (i+1)*slot).
	Counts []int
}

// Throughput counts completions by function and result per time window of
// slotNanos, by completion time, over [0, endNanos]. Series with no
// completion at all are omitted.
func Throughput(pairs []history.Pair, slotNanos, endNanos int64) []RateSlot {
	n := int(endNanos/slotNanos) + 1
	type key struct {
		f string
		t history.Type
	}
	counts := map[key][]int{}
	fs := map[string]bool{}
	for _, p := range pairs {
		if p.Completion == nil || p.Invoke.IsNemesis() {
			continue
		}
		k := key{p.Invoke.F, p.Completion.Type}
		if counts[k] == nil {
			counts[k] = make([]int, n)
		}
		i := min(int(p.Completion.Time/slotNanos), n-1)
		counts[k][i]++
		fs[p.Invoke.F] = true
	}
	var out []RateSlot
	for _, f := range sortedFunctions(fs) {
		for _, t := range []history.Type{history.OK, history.Fail, history.Info} {
			if c := counts[key{f, t}]; c != nil {
				out = append(out, RateSlot{F: f, Result: t, Counts: c})
			}
		}
	}
	return out
}

func throughputFigure(pairs []history.Pair, faults []FaultInterval, endNanos int64) (*figure, error) {
	endSeconds := float64(endNanos) / 1e9
	slot := timeSlot(endNanos)
	fig := newFigure(fmt.Sprintf("Throughput per %s window by operation and result", formatSlot(slot)),
		"completions per second", endSeconds, faults)
	var hi float64
	for _, s := range Throughput(pairs, slot, endNanos) {
		xys := make(plotter.XYs, len(s.Counts))
		for i, c := range s.Counts {
			rate := float64(c) / (float64(slot) / 1e9)
			hi = max(hi, rate)
			xys[i] = plotter.XY{X: float64(int64(i)*slot+slot/2) / 1e9, Y: rate}
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("throughput plot %s %s: %w", s.F, s.Result, err)
		}
		c := resultColors[s.Result]
		c.A = 0xff
		l.Color, l.Width, l.Dashes = c, vg.Points(1.3), dashesFor(s.F)
		fig.plot.Add(l)
		fig.legend.Add(s.F+" "+string(s.Result), l)
	}
	fig.setTimeAxis(endSeconds)
	fig.plot.Y.Min = 0
	fig.plot.Y.Max = max(1, hi*1.1)
	return fig, nil
}

// nodeColors colour nodes in the clock plot.
var nodeColors = []color.NRGBA{
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, {R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, {R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, {R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff}, {R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
}

func clockFigure(series []ClockSeries, faults []FaultInterval, endSeconds float64) (*figure, error) {
	fig := newFigure("Clock offset of each node", "offset (ms)", endSeconds, faults)
	lo, hi := 0.0, 0.0
	for i, s := range series {
		var xys plotter.XYs
		for j, pt := range s.Points {
			x, y := float64(pt.Time)/1e9, float64(pt.OffsetMillis)
			if j > 0 {
				xys = append(xys, plotter.XY{X: x, Y: xys[len(xys)-1].Y})
			}
			xys = append(xys, plotter.XY{X: x, Y: y})
			lo, hi = min(lo, y), max(hi, y)
		}
		xys = append(xys, plotter.XY{X: endSeconds, Y: xys[len(xys)-1].Y})
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("clock plot %s: %w", s.Node, err)
		}
		l.Color, l.Width = nodeColors[i%len(nodeColors)], vg.Points(1.5)
		fig.plot.Add(l)
		fig.legend.Add(s.Node, l)
	}
	fig.setTimeAxis(endSeconds)
	pad := max(1, (hi-lo)*0.1)
	fig.plot.Y.Min, fig.plot.Y.Max = lo-pad, hi+pad
	return fig, nil
}

func formatSlot(ns int64) string {
	if ns < 1e9 {
		return fmt.Sprintf("%d ms", ns/1e6)
	}
	return fmt.Sprintf("%d s", ns/1e9)
}
