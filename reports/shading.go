package reports

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// faultColors are the shading colours by fault kind; unknown kinds get grey.
// They are drawn translucent so points under a window stay visible.
var faultColors = map[string]color.NRGBA{
	"partition": {R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"kill":      {R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	"pause":     {R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	"clock":     {R: 0xe3, G: 0x9b, B: 0x00, A: 0xff},
	"loss":      {R: 0x17, G: 0xbe, B: 0xcf, A: 0xff},
	"delay":     {R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	// The targeted kinds: darker shades of the faults they build on.
	"stale-leader":  {R: 0x0b, G: 0x3c, B: 0x6b, A: 0xff},
	"skewed-leader": {R: 0x8a, G: 0x5d, B: 0x00, A: 0xff},
	"voter-crash":   {R: 0x8b, G: 0x1a, B: 0x1a, A: 0xff},
	"figure-8":      {R: 0x4a, G: 0x0e, B: 0x4e, A: 0xff},
}

// faultShadeAlpha is the opacity of a fault window's fill.
const faultShadeAlpha = 0x38

// FaultColor is the solid colour of a fault kind, shared by the plots and
// the HTML timeline so a kind looks the same everywhere.
func FaultColor(kind string) color.NRGBA {
	if c, ok := faultColors[kind]; ok {
		return c
	}
	return color.NRGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}
}

func shade(kind string) color.NRGBA {
	c := FaultColor(kind)
	c.A = faultShadeAlpha
	return c
}

// faultShading is a plot.Plotter that draws each fault window as a
// translucent rectangle over the full height of the data area, with the
// fault's label along the top. Kinds get their own label row so that
// overlapping faults of different kinds stay readable. The x axis is
// seconds since the run started.
type faultShading struct {
	faults []FaultInterval
	// endSeconds is where a fault that was never healed stops being drawn.
	endSeconds float64
}

var _ plot.Plotter = faultShading{}

// Plot implements plot.Plotter.
func (s faultShading) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	rows := map[string]int{}
	labelEnd := map[int]vg.Length{}
	sty := p.Legend.TextStyle
	sty.Font.Size = vg.Points(8)
	sty.XAlign = draw.XLeft
	sty.YAlign = draw.YTop
	lineHeight := sty.Height("M") * 1.2
	for _, f := range s.faults {
		end := s.endSeconds
		if f.Healed() {
			end = float64(f.End) / 1e9
		}
		x0 := clampLength(trX(float64(f.Start)/1e9), c.Min.X, c.Max.X)
		x1 := clampLength(trX(end), c.Min.X, c.Max.X)
		if x1-x0 < 1 {
			// Keep very short faults visible as a thin band.
			x1 = min(x0+1, c.Max.X)
		}
		c.FillPolygon(shade(f.Kind), []vg.Point{
			{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y},
		})
		row, ok := rows[f.Kind]
		if !ok {
			row = len(rows)
			rows[f.Kind] = row
		}
		label := f.Label()
		tx := x0 + vg.Points(2)
		if tx < labelEnd[row] || tx+sty.Width(label) > c.Max.X {
			continue
		}
		sty.Color = darken(FaultColor(f.Kind))
		c.FillText(sty, vg.Point{X: tx, Y: c.Max.Y - vg.Points(2) - lineHeight*vg.Length(row)}, label)
		labelEnd[row] = tx + sty.Width(label) + vg.Points(4)
	}
}

func clampLength(v, lo, hi vg.Length) vg.Length {
	if math.IsNaN(float64(v)) {
		return lo
	}
	return max(lo, min(v, hi))
}

func darken(c color.NRGBA) color.NRGBA {
	return color.NRGBA{R: c.R / 2, G: c.G / 2, B: c.B / 2, A: 0xff}
}

// swatch is a legend thumbnail: a filled rectangle.
type swatch struct{ fill color.Color }

// Thumbnail implements plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.fill, []vg.Point{
		{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y},
	})
}

// addFaultLegend adds one swatch per fault kind present.
func addFaultLegend(l *plot.Legend, faults []FaultInterval) {
	seen := map[string]bool{}
	for _, f := range faults {
		if seen[f.Kind] {
			continue
		}
		seen[f.Kind] = true
		l.Add(f.Kind, swatch{fill: color.NRGBA{R: shade(f.Kind).R, G: shade(f.Kind).G, B: shade(f.Kind).B, A: 0x70}})
	}
}
