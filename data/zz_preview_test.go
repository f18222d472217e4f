package data

import (
	"image"
	"image/png"
	"os"
	"testing"
	"time"
)

func savePreview(t *testing.T, d *Dataset, path string, n int) {
	cols := 16
	rows := (n + cols - 1) / cols
	im := image.NewGray(image.Rect(0, 0, cols*(d.W+1), rows*(d.H+1)))
	for i := 0; i < n; i++ {
		x0, y0 := (i%cols)*(d.W+1), (i/cols)*(d.H+1)
		px := d.Image(i)
		for y := 0; y < d.H; y++ {
			for x := 0; x < d.W; x++ {
				im.Pix[(y0+y)*im.Stride+x0+x] = px[y*d.W+x]
			}
		}
	}
	const k = 4
	big := image.NewGray(image.Rect(0, 0, im.Rect.Dx()*k, im.Rect.Dy()*k))
	for y := 0; y < big.Rect.Dy(); y++ {
		for x := 0; x < big.Rect.Dx(); x++ {
			big.Pix[y*big.Stride+x] = im.Pix[(y/k)*im.Stride+x/k]
		}
	}
	f, _ := os.Create(path)
	png.Encode(f, big)
	f.Close()
}

func TestZZPreview(t *testing.T) {
	for _, spec := range []string{"synth:count", "synth:position", "synth:orientation", "mnist:rotate30", "mnist:noise", "mnist:blur", "digits", "emoji"} {
		t0 := time.Now()
		tr, te, err := ResolveWith(spec, ResolveOptions{H: 28, W: 28, Channels: 1, Log: os.Stderr})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v / %v in %v; classes %q counts %v %v", spec, tr, te, time.Since(t0), tr.Classes, tr.ClassCounts(), te.ClassCounts())
		savePreview(t, te, "/tmp/h8x/"+spec+".png", 64)
	}
}
