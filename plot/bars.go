package plot

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"unicode/utf8"

	"github.com/glora/glora/internal/atomicfile"
)

// Bars is a grouped bar chart: for each category (e.g. a test set) one bar
// per series (e.g. a method), the series told apart by colour and legend.
// NaN values leave their bar out.
type Bars struct {
	Title, YLabel string
	Categories    []string
	Series        []Series // Y[i] is the bar of Categories[i]; X is unused
}

// WriteBarsPNG draws the chart and writes it to path atomically. The value
// axis starts at 0 unless a value is negative.
func WriteBarsPNG(path string, b Bars) error {
	// The legend sits right of the plot area, so it never hides a bar.
	longest := 0
	for _, s := range b.Series {
		longest = max(longest, utf8.RuneCountInString(s.Name))
	}
	legendW := 0
	if len(b.Series) > 0 {
		legendW = 36 + charW*longest + 20
	}
	imgW := max(2*panelW-160, 120+len(b.Categories)*(12*len(b.Series)+24)) + legendW
	img := image.NewRGBA(image.Rect(0, 0, imgW, panelH+40))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	r := img.Bounds()
	left, right, top, bottom := 60, r.Max.X-15-legendW, 30, r.Max.Y-45
	text(img, (r.Dx()-width(b.Title))/2, 18, b.Title, color.Black)
	text(img, 4, top-8, b.YLabel, color.Black)
	rect(img, left, top, right, bottom, color.Black)
	lo, hi := 0.0, math.Inf(-1)
	for _, s := range b.Series {
		for _, y := range s.Y {
			if !math.IsNaN(y) && !math.IsInf(y, 0) {
				lo, hi = math.Min(lo, y), math.Max(hi, y)
			}
		}
	}
	if math.IsInf(hi, -1) || len(b.Categories) == 0 {
		text(img, left+10, top+20, "no data", color.Black)
	} else {
		if hi <= lo {
			hi = lo + 1
		}
		hi += (hi - lo) * 0.05
		py := func(y float64) int { return bottom - int((y-lo)/(hi-lo)*float64(bottom-top)) }
		grey := color.RGBA{200, 200, 200, 255}
		for _, t := range ticks(lo, hi, 5) {
			y := py(t)
			hline(img, left+1, right-1, y, grey)
			lbl := fmtTick(t)
			text(img, left-5-width(lbl), y+4, lbl, color.Black)
		}
		slot := float64(right-left) / float64(len(b.Categories))
		barW := max(2, int(slot*0.8)/max(len(b.Series), 1))
		for ci, name := range b.Categories {
			x0 := left + int(slot*float64(ci)+slot*0.1)
			for si, s := range b.Series {
				if ci >= len(s.Y) || math.IsNaN(s.Y[ci]) || math.IsInf(s.Y[ci], 0) {
					continue
				}
				c := palette[si%len(palette)]
				xa, ya, yb := x0+si*barW, py(s.Y[ci]), py(0)
				if ya > yb {
					ya, yb = yb, ya
				}
				for y := ya; y <= yb; y++ {
					hline(img, xa, xa+barW-2, y, c)
				}
			}
			cx := left + int(slot*(float64(ci)+0.5))
			text(img, cx-width(name)/2, bottom+15, name, color.Black)
		}
		if legendW > 0 {
			drawLegend(img, b.Series, right+8, top-4, r.Max.X-4, bottom)
		}
	}
	if err := atomicfile.WriteFile(path, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
