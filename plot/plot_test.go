package plot

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestWritePNGDrawsLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "curves.png")
	xs := []float64{0, 1, 2, 3, 4}
	err := WritePNG(path,
		Panel{Title: "loss", XLabel: "epoch", Series: []Series{{Name: "train", X: xs, Y: []float64{2, 1.2, 0.8, 0.6, 0.5}}}},
		Panel{Title: "accuracy", XLabel: "epoch", Series: []Series{{Name: "val", X: xs, Y: []float64{0.5, 0.7, 0.8, 0.85, 0.9}}}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if w := img.Bounds().Dx(); w != 2*panelW {
		t.Fatalf("width %d, want %d", w, 2*panelW)
	}
	// the first series' colour must appear (a line was drawn)
	want := palette[0]
	found := false
	for y := 0; y < img.Bounds().Dy() && !found; y++ {
		for x := 0; x < img.Bounds().Dx(); x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(b>>8) == want.B {
				found = true
				break
			}
		}
	}
	if !found {
		t.Fatal("no pixel of the series colour: the line was not drawn")
	}
}

func TestTicksAreRoundAndCover(t *testing.T) {
	ts := ticks(0.13, 0.97, 5)
	if len(ts) < 3 || ts[0] < 0.13 || ts[len(ts)-1] > 0.97 {
		t.Fatalf("ticks %v", ts)
	}
	for _, v := range ts {
		if r := v * 10; r != float64(int(r+0.5)) && r-float64(int(r)) > 1e-9 && float64(int(r+0.5))-r > 1e-9 {
			t.Fatalf("tick %v is not round", v)
		}
	}
}

func TestWritePNGBadPath(t *testing.T) {
	if err := WritePNG(filepath.Join(t.TempDir(), "missing", "x.png")); err == nil {
		t.Fatal("want an error for a missing directory")
	}
}

// The legend goes to a corner the curves leave free: top right for a
// falling loss, elsewhere for a rising accuracy that ends top right.
func TestLegendAvoidsTheCurves(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	for _, c := range []struct {
		name     string
		y        []float64
		topRight bool
	}{
		{"falling", []float64{0.9, 0.7, 0.6, 0.5, 0.45, 0.4, 0.38, 0.37}, true},
		{"rising", []float64{0.86, 0.87, 0.875, 0.88, 0.89, 0.9, 0.905, 0.91}, false},
	} {
		r := image.Rect(0, 0, panelW, panelH)
		img := image.NewRGBA(r)
		for i := range img.Pix {
			img.Pix[i] = 255
		}
		lg, hidden := drawPanel(img, r, Panel{Title: c.name, Series: []Series{
			{Name: "train", X: xs, Y: c.y}, {Name: "validation", X: xs, Y: c.y[1:]}}})
		if hidden != 0 {
			t.Errorf("%s: the legend covers %d pixels of the curves", c.name, hidden)
		}
		if atTopRight := lg.Min.Y < panelH/2 && lg.Min.X > panelW/2; atTopRight != c.topRight {
			t.Errorf("%s: legend at %v, want top right %v", c.name, lg, c.topRight)
		}
	}
}
