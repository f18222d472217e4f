// Package plot draws simple line charts (training curves) to PNG, with axes,
// tick labels, a title and a legend, using only the standard library and
// golang.org/x/image's font renderer with the Go Mono font.
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

// Series is one named line: points (X[i], Y[i]).
type Series struct {
	Name string
	X, Y []float64
}

// Panel is one chart: a title, axis labels and its lines. With Markers,
// every point also gets a 5×5 square (for series of one or a few points).
// XTicks, when set, are the x axis's ticks (e.g. 1, 2, 4 on a log2 axis);
// otherwise round values across the data's range.
type Panel struct {
	Title, XLabel string
	Series        []Series
	Markers       bool
	XTicks        []Tick
}

// Tick is an axis tick: its position in data units and its label.
type Tick struct {
	At    float64
	Label string
}

// palette is matplotlib's tab10: a series' colour is palette[i mod 10].
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

const panelW, panelH = 520, 340

// WritePNG draws the panels side by side and writes them to path
// (through a temporary file and a rename, so a reader never sees half a file).
func WritePNG(path string, panels ...Panel) error {
	img := image.NewRGBA(image.Rect(0, 0, panelW*max(len(panels), 1), panelH))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	for i, p := range panels {
		drawPanel(img, image.Rect(i*panelW, 0, (i+1)*panelW, panelH), p)
	}
	if err := atomicfile.WriteFile(path, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// drawPanel draws one panel into r and returns where its legend went and
// how many series pixels the legend covers.
func drawPanel(img *image.RGBA, r image.Rectangle, p Panel) (legend image.Rectangle, hidden int) {
	left, right, top, bottom := r.Min.X+60, r.Max.X-15, r.Min.Y+30, r.Max.Y-45
	text(img, r.Min.X+(r.Dx()-width(p.Title))/2, r.Min.Y+18, p.Title, color.Black)
	text(img, left+(right-left-width(p.XLabel))/2, r.Max.Y-8, p.XLabel, color.Black)
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range p.Series {
		for i := range s.X {
			if i >= len(s.Y) || math.IsNaN(s.Y[i]) || math.IsInf(s.Y[i], 0) {
				continue
			}
			xmin, xmax = math.Min(xmin, s.X[i]), math.Max(xmax, s.X[i])
			ymin, ymax = math.Min(ymin, s.Y[i]), math.Max(ymax, s.Y[i])
		}
	}
	grey := color.RGBA{200, 200, 200, 255}
	rect(img, left, top, right, bottom, color.Black)
	if math.IsInf(xmin, 1) {
		text(img, left+10, top+20, "no data", color.Black)
		return image.Rectangle{}, 0
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	if ymax == ymin {
		ymax, ymin = ymax+0.5, ymin-0.5
	}
	pad := (ymax - ymin) * 0.05
	ymin, ymax = ymin-pad, ymax+pad
	if p.Markers { // keep the markers at the ends inside the frame
		xpad := (xmax - xmin) * 0.04
		xmin, xmax = xmin-xpad, xmax+xpad
	}
	px := func(x float64) int { return left + int((x-xmin)/(xmax-xmin)*float64(right-left)) }
	py := func(y float64) int { return bottom - int((y-ymin)/(ymax-ymin)*float64(bottom-top)) }
	for _, t := range ticks(ymin, ymax, 5) {
		y := py(t)
		hline(img, left+1, right-1, y, grey)
		lbl := fmtTick(t)
		text(img, left-5-width(lbl), y+4, lbl, color.Black)
	}
	xt := p.XTicks
	if len(xt) == 0 {
		for _, t := range ticks(xmin, xmax, 6) {
			xt = append(xt, Tick{t, fmtTick(t)})
		}
	}
	for _, t := range xt {
		if t.At < xmin || t.At > xmax {
			continue
		}
		x := px(t.At)
		vline(img, x, top+1, bottom-1, grey)
		text(img, x-width(t.Label)/2, bottom+15, t.Label, color.Black)
	}
	for si, s := range p.Series {
		c := palette[si%len(palette)]
		prevOK := false
		var x0, y0 int
		for i := range s.X {
			if i >= len(s.Y) || math.IsNaN(s.Y[i]) || math.IsInf(s.Y[i], 0) {
				prevOK = false
				continue
			}
			x1, y1 := px(s.X[i]), py(s.Y[i])
			if p.Markers {
				for d := -2; d <= 2; d++ {
					hline(img, x1-2, x1+2, y1+d, c)
				}
			}
			if prevOK {
				line(img, x0, y0, x1, y1, c)
			} else if len(s.X) == 1 || (i+1 < len(s.X) && (i+1 >= len(s.Y) || math.IsNaN(s.Y[i+1]))) {
				rect(img, x1-1, y1-1, x1+1, y1+1, c)
			}
			x0, y0, prevOK = x1, y1, true
		}
	}
	return drawLegend(img, p.Series, left, top, right, bottom)
}

// drawLegend puts the legend, on a white box, in the corner of the plot
// area that hides the fewest pixels of the drawn series, and returns its
// box and the number of series pixels it covers.
func drawLegend(img *image.RGBA, series []Series, left, top, right, bottom int) (image.Rectangle, int) {
	if len(series) == 0 {
		return image.Rectangle{}, 0
	}
	longest := 0
	for _, s := range series {
		longest = max(longest, utf8.RuneCountInString(s.Name))
	}
	w, h := 36+charW*longest, 8+14*len(series)
	corners := [][2]int{{right - 4 - w, top + 4}, {left + 4, top + 4}, {right - 4 - w, bottom - 4 - h}, {left + 4, bottom - 4 - h}}
	best, bestHidden := 0, -1
	for i, c := range corners {
		hidden := 0
		for y := c[1]; y < c[1]+h; y++ {
			for x := c[0]; x < c[0]+w; x++ {
				if isSeriesColour(img.RGBAAt(x, y)) {
					hidden++
				}
			}
		}
		if bestHidden < 0 || hidden < bestHidden {
			best, bestHidden = i, hidden
		}
	}
	x0, y0 := corners[best][0], corners[best][1]
	for y := y0; y < y0+h; y++ {
		hline(img, x0, x0+w-1, y, color.White)
	}
	rect(img, x0, y0, x0+w-1, y0+h-1, color.RGBA{200, 200, 200, 255})
	for si, s := range series {
		c := palette[si%len(palette)]
		ly := y0 + 16 + 14*si
		hline(img, x0+6, x0+26, ly-4, c)
		hline(img, x0+6, x0+26, ly-3, c)
		text(img, x0+31, ly, s.Name, color.Black)
	}
	return image.Rect(x0, y0, x0+w, y0+h), bestHidden
}

func isSeriesColour(c color.RGBA) bool {
	for _, p := range palette {
		if c == p {
			return true
		}
	}
	return false
}

// ticks returns about n round values covering [lo, hi].
func ticks(lo, hi float64, n int) []float64 {
	span := hi - lo
	step := math.Pow(10, math.Floor(math.Log10(span/float64(n))))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= float64(n) {
			step *= m
			break
		}
	}
	var out []float64
	for t := math.Ceil(lo/step) * step; t <= hi+1e-9*span; t += step {
		out = append(out, t)
	}
	return out
}

func fmtTick(v float64) string {
	if v == 0 {
		return "0"
	}
	a := math.Abs(v)
	switch {
	case a >= 1e4 || a < 1e-3:
		return fmt.Sprintf("%.0e", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		s := fmt.Sprintf("%.3g", v)
		return s
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.Color) {
	for y := y0; y <= y1; y++ {
		img.Set(x, y, c)
	}
}

func rect(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	hline(img, x0, x1, y0, c)
	hline(img, x0, x1, y1, c)
	vline(img, x0, y0, y1, c)
	vline(img, x1, y0, y1, c)
}

// line draws a 2-pixel-thick segment (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		img.Set(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
