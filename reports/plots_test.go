package reports

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

// Expected PNG size: plotWidth x plotHeight at vgimg's default 96 dpi.
const (
	pngWidth  = 1056
	pngHeight = 384
)

type pixelStats struct {
	distinct int
	nonWhite float64 // fraction of pixels that are not white
	// partitionTint counts pixels of the partition shading over white
	// (bluish: blue clearly above red).
	partitionTint int
}

func decodePNG(t *testing.T, path string) (image.Image, pixelStats) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err, "decode %s", path)
	colours := map[[4]uint32]bool{}
	var st pixelStats
	b := img.Bounds()
	nonWhite := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, bl, a}] = true
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				nonWhite++
			}
			if bl > r+0x1800 && g > r+0x0800 && bl > 0xc000 {
				st.partitionTint++
			}
		}
	}
	st.distinct = len(colours)
	st.nonWhite = float64(nonWhite) / float64(b.Dx()*b.Dy())
	return img, st
}

func TestPlotsAreDrawn(t *testing.T) {
	h := syntheticHistory(t)
	pairs := h.ClientPairs()
	faults := FaultIntervals(h)
	end := runEnd(h)
	endSeconds := float64(end) / 1e9
	dir := t.TempDir()

	lat, err := latencyFigure(pairs, faults, endSeconds)
	require.NoError(t, err)
	q, err := quantileFigure(pairs, faults, end)
	require.NoError(t, err)
	tp, err := throughputFigure(pairs, faults, end)
	require.NoError(t, err)
	clk, err := clockFigure(ClockOffsets(h), faults, endSeconds)
	require.NoError(t, err)
	latNoFaults, err := latencyFigure(pairs, nil, endSeconds)
	require.NoError(t, err)

	figures := map[string]*figure{"latency": lat, "quantiles": q, "throughput": tp, "clock": clk, "latency-no-faults": latNoFaults}
	stats := map[string]pixelStats{}
	for name, fig := range figures {
		path := filepath.Join(dir, name+".png")
		require.NoError(t, fig.save(path), name)
		img, st := decodePNG(t, path)
		assert.Equal(t, image.Rect(0, 0, pngWidth, pngHeight), img.Bounds(), name)
		assert.Greater(t, st.distinct, 50, "%s has too few colours to be a plot", name)
		assert.Greater(t, st.nonWhite, 0.03, "%s is nearly blank", name)
		stats[name] = st
	}
	// The shading is there: the partition's tint covers a band of the plot
	// (5 s of 30 s over the data area) and is absent without faults.
	assert.Greater(t, stats["latency"].partitionTint, 10_000)
	assert.Less(t, stats["latency-no-faults"].partitionTint, 500)

	require.NoError(t, lat.save(filepath.Join(dir, "latency.svg")))
	svg, err := os.ReadFile(filepath.Join(dir, "latency.svg"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(strings.TrimSpace(string(svg)), "<?xml") || strings.Contains(string(svg[:200]), "<svg"))
	assert.Contains(t, string(svg), "partition halves", "fault label in the SVG")
}

func TestPlotsOfEmptyRun(t *testing.T) {
	h := opsHistory(t, inv(0, 0, history.FRead))
	dir := t.TempDir()
	lat, err := latencyFigure(h.ClientPairs(), nil, 1e-9)
	require.NoError(t, err)
	require.NoError(t, lat.save(filepath.Join(dir, "latency.png")))
	q, err := quantileFigure(h.ClientPairs(), nil, 1)
	require.NoError(t, err)
	require.NoError(t, q.save(filepath.Join(dir, "q.png")))
	tp, err := throughputFigure(h.ClientPairs(), nil, 1)
	require.NoError(t, err)
	require.NoError(t, tp.save(filepath.Join(dir, "t.png")))
	_, st := decodePNG(t, filepath.Join(dir, "latency.png"))
	assert.Greater(t, st.nonWhite, 0.005, "axes and title are drawn even with no data")
}

func TestDecadeTicks(t *testing.T) {
	var labels []string
	minor := 0
	for _, tk := range (decadeTicks{}).Ticks(0.1, 1000) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		} else {
			minor++
		}
	}
	assert.Equal(t, []string{"0.1", "1", "10", "100", "1000"}, labels)
	assert.Equal(t, 4*8, minor)
	labels = nil
	for _, tk := range (decadeTicks{}).Ticks(0.001, 0.01) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	assert.Equal(t, []string{"0.001", "0.01"}, labels)
}
