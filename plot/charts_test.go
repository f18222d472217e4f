package plot

import (
	"image/png"
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
