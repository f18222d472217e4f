package plot

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"github.com/glora/glora/internal/atomicfile"
)

// Point is one marker of a scatter plot; Group (≥ 0) picks its colour on a
// scale from the first group (light) to the last (dark).
type Point struct {
	X, Y  float64
	Group int
}

// Scatter is a scatter plot: markers coloured by group, with an optional
// highlighted point (e.g. the search's best candidate).
type Scatter struct {
	Title, XLabel, YLabel string
	GroupName             string // legend word for the groups, e.g. "generation"
	Points                []Point
	Highlight             *Point
}

// WriteScatterPNG draws the scatter plot and writes it to path atomically.
func WriteScatterPNG(path string, s Scatter) error {
	img := image.NewRGBA(image.Rect(0, 0, 2*panelW-160, panelH+40))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	r := img.Bounds()
	left, right, top, bottom := 70, r.Max.X-110, 30, r.Max.Y-45
	text(img, (r.Dx()-width(s.Title))/2, 18, s.Title, color.Black)
	text(img, left+(right-left-width(s.XLabel))/2, r.Max.Y-8, s.XLabel, color.Black)
	text(img, 4, top-8, s.YLabel, color.Black)
	rect(img, left, top, right, bottom, color.Black)
	if len(s.Points) == 0 {
		text(img, left+10, top+20, "no data", color.Black)
	} else {
		xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
		gmax := 0
		for _, p := range s.Points {
			xmin, xmax = math.Min(xmin, p.X), math.Max(xmax, p.X)
			ymin, ymax = math.Min(ymin, p.Y), math.Max(ymax, p.Y)
			gmax = max(gmax, p.Group)
		}
		if xmax == xmin {
			xmax, xmin = xmax+0.5, xmin-0.5
		}
		if ymax == ymin {
			ymax, ymin = ymax+0.005, ymin-0.005
		}
		padX, padY := (xmax-xmin)*0.04, (ymax-ymin)*0.06
		xmin, xmax, ymin, ymax = xmin-padX, xmax+padX, ymin-padY, ymax+padY
		px := func(x float64) int { return left + int((x-xmin)/(xmax-xmin)*float64(right-left)) }
		py := func(y float64) int { return bottom - int((y-ymin)/(ymax-ymin)*float64(bottom-top)) }
		grey := color.RGBA{210, 210, 210, 255}
		for _, t := range ticks(ymin, ymax, 5) {
			hline(img, left+1, right-1, py(t), grey)
			lbl := fmtTick(t)
			text(img, left-5-width(lbl), py(t)+4, lbl, color.Black)
		}
		for _, t := range ticks(xmin, xmax, 6) {
			vline(img, px(t), top+1, bottom-1, grey)
			lbl := fmtTick(t)
			text(img, px(t)-width(lbl)/2, bottom+15, lbl, color.Black)
		}
		shade := func(g int) color.RGBA {
			f := 0.0
			if gmax > 0 {
				f = float64(g) / float64(gmax)
			}
			// light orange (early) → dark blue (late)
			return color.RGBA{uint8(253 - f*220), uint8(174 - f*100), uint8(97 + f*60), 255}
		}
		for _, p := range s.Points {
			x, y := px(p.X), py(p.Y)
			c := shade(p.Group)
			for dx := -2; dx <= 2; dx++ {
				for dy := -2; dy <= 2; dy++ {
					if dx*dx+dy*dy <= 5 {
						img.Set(x+dx, y+dy, c)
					}
				}
			}
		}
		if h := s.Highlight; h != nil {
			x, y := px(h.X), py(h.Y)
			rect(img, x-5, y-5, x+5, y+5, color.RGBA{214, 39, 40, 255})
			rect(img, x-6, y-6, x+6, y+6, color.RGBA{214, 39, 40, 255})
		}
		// the colour scale
		text(img, right+10, top+12, s.GroupName, color.Black)
		for i := 0; i <= 4; i++ {
			g := int(math.Round(float64(gmax) * float64(i) / 4))
			c := shade(g)
			y := top + 30 + i*18
			draw.Draw(img, image.Rect(right+12, y-8, right+24, y+2), image.NewUniform(c), image.Point{}, draw.Src)
			text(img, right+30, y, fmt.Sprint(g), color.Black)
		}
		if s.Highlight != nil {
			y := top + 30 + 5*18 + 10
			rect(img, right+12, y-8, right+22, y+2, color.RGBA{214, 39, 40, 255})
			text(img, right+30, y, "best", color.Black)
		}
	}
	if err := atomicfile.WriteFile(path, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
