package plot

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"unicode/utf8"

	"github.com/glora/glora/internal/atomicfile"
)

// Confusion is a confusion matrix to draw: Counts[t][p] images of true
// class t predicted as p, with the classes' names (indices when nil).
type Confusion struct {
	Title  string
	Labels []string
	Counts [][]int
}

// WriteConfusionPNG draws the matrix as a heat map (each row shaded by
// its share of the row's images, the count written in each cell when it
// fits, the true class down the side, the prediction along the top) and
// writes it to path atomically.
func WriteConfusionPNG(path string, cm Confusion) error {
	n := len(cm.Counts)
	if n == 0 {
		return fmt.Errorf("plot: %s: empty confusion matrix", path)
	}
	cols := len(cm.Counts[0])
	label := func(i int) string {
		if i < len(cm.Labels) && cm.Labels[i] != "" {
			return clip(cm.Labels[i], 14)
		}
		return fmt.Sprint(i)
	}
	longest := 1
	for i := 0; i < max(n, cols); i++ {
		longest = max(longest, utf8.RuneCountInString(label(i)))
	}
	cell := max(14, min(48, 640/max(n, cols)))
	left, top := max(20+charW*longest+10, 90), 60+13*longest
	w, h := left+cell*cols+20, top+cell*n+40
	img := image.NewRGBA(image.Rect(0, 0, max(w, width(cm.Title)+40), h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text(img, 10, 18, cm.Title, color.Black)
	text(img, left, 36, "predicted (columns)", color.Black)
	text(img, 4, top-8, "true (rows)", color.Black)
	for t := 0; t < n; t++ {
		text(img, left-width(label(t))-6, top+t*cell+cell/2+4, label(t), color.Black)
		total := 0
		for _, v := range cm.Counts[t] {
			total += v
		}
		for p := 0; p < cols; p++ {
			v := cm.Counts[t][p]
			frac := 0.0
			if total > 0 {
				frac = float64(v) / float64(total)
			}
			// white → dark blue
			c := color.RGBA{uint8(255 - frac*224), uint8(255 - frac*178), uint8(255 - frac*75), 255}
			r := image.Rect(left+p*cell, top+t*cell, left+(p+1)*cell, top+(t+1)*cell)
			draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
			if s := fmt.Sprint(v); v > 0 && width(s) < cell-2 {
				tc := color.Color(color.Black)
				if frac > 0.5 {
					tc = color.White
				}
				text(img, r.Min.X+(cell-width(s))/2, r.Min.Y+cell/2+4, s, tc)
			}
		}
	}
	// column labels: one character per line, above each column
	for p := 0; p < cols; p++ {
		s := label(p)
		for i, ch := range []rune(s) {
			text(img, left+p*cell+cell/2-3, top-8-13*(len([]rune(s))-1-i), string(ch), color.Black)
		}
	}
	rect(img, left, top, left+cell*cols, top+cell*n, color.Black)
	if err := atomicfile.WriteFile(path, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
