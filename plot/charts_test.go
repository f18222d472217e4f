package plot

import (
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func decodeSize(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}

func TestConfusionAndScatterPNGs(t *testing.T) {
	dir := t.TempDir()
	cm := Confusion{Title: "confusion", Labels: []string{"T-shirt/top", "Trouser", "Pullover"},
		Counts: [][]int{{90, 3, 7}, {1, 99, 0}, {12, 0, 88}}}
	p := filepath.Join(dir, "cm.png")
	if err := WriteConfusionPNG(p, cm); err != nil {
		t.Fatal(err)
	}
	if w, h := decodeSize(t, p); w < 100 || h < 100 {
		t.Fatalf("confusion image %d×%d", w, h)
	}
	if err := WriteConfusionPNG(filepath.Join(dir, "empty.png"), Confusion{}); err == nil {
		t.Fatal("empty matrix accepted")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var pts []Point
	for i := 0; i < 200; i++ {
		pts = append(pts, Point{X: rng.Float64() * 1e5, Y: 0.8 + 0.1*rng.Float64(), Group: i / 20})
	}
	p = filepath.Join(dir, "search.png")
	if err := WriteScatterPNG(p, Scatter{Title: "search", XLabel: "parameters", YLabel: "val acc", GroupName: "generation",
		Points: pts, Highlight: &pts[7]}); err != nil {
		t.Fatal(err)
	}
	if w, h := decodeSize(t, p); w < 300 || h < 200 {
		t.Fatalf("scatter image %d×%d", w, h)
	}
}

// TestBarsPNG checks that each bar is drawn in its series' colour, to its
// height, and that a NaN leaves its bar out.
func TestBarsPNG(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bars.png")
	b := Bars{Title: "shift", YLabel: "test acc", Categories: []string{"clean", "rotate30"},
		Series: []Series{{Name: "lora", Y: []float64{0.9, 0.5}}, {Name: "linear", Y: []float64{math.NaN(), 0.25}}}}
	if err := WriteBarsPNG(p, b); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// Count each series' pixels in each category's half of the image.
	count := func(c color.RGBA, x0, x1 int) int {
		n := 0
		for y := 0; y < img.Bounds().Dy(); y++ {
			for x := x0; x < x1; x++ {
				if color.RGBAModel.Convert(img.At(x, y)).(color.RGBA) == c {
					n++
				}
			}
		}
		return n
	}
	w := img.Bounds().Dx()
	mid := 60 + (w-75)/2
	lora0, lora1 := count(palette[0], 60, mid), count(palette[0], mid, w)
	lin0, lin1 := count(palette[1], 60, mid), count(palette[1], mid, w)
	if lora0 == 0 || lora1 == 0 || lin1 == 0 {
		t.Fatalf("bars missing: lora %d, %d; linear %d", lora0, lora1, lin1)
	}
	// lin0 holds only the legend's swatch (if the legend sits there), never a bar.
	if lin0 > 60 {
		t.Fatalf("the NaN bar was drawn: %d pixels", lin0)
	}
	// 0.9 against 0.5: the taller bar has about 1.8× the pixels (legend swatches aside).
	if r := float64(lora0) / float64(lora1); r < 1.5 || r > 2.1 {
		t.Fatalf("bar heights 0.9 and 0.5 drew %d and %d pixels (ratio %.2f)", lora0, lora1, r)
	}
	if err := WriteBarsPNG(filepath.Join(t.TempDir(), "empty.png"), Bars{}); err != nil {
		t.Fatal(err)
	}
}
