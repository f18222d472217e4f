package data

import (
	"bytes"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// PIL's convert("L") of (0,0,250) is 28 (its fixed point truncates
// 28.9993); rounding 0.299R+0.587G+0.114B in decimal gives 29. The loader
// and Batch's 3 → 1 conversion must both follow PIL.
func TestLumaIsPILs(t *testing.T) {
	for _, c := range []struct{ r, g, b, want uint8 }{
		{255, 0, 0, 76}, {0, 255, 0, 150}, {0, 0, 255, 29}, {0, 0, 250, 28}, {200, 10, 20, 68}, {255, 255, 255, 255},
	} {
		if got := lumaOf(c.r, c.g, c.b); got != c.want {
			t.Errorf("luma(%d,%d,%d) = %d, want %d", c.r, c.g, c.b, got, c.want)
		}
	}
	rgb := &Dataset{Classes: []string{"a"}, C: 3, H: 1, W: 1, Pixels: []uint8{0, 0, 250}, Labels: []int{0}}
	y, err := Batch(rgb, []int{0}, Preprocess{Channels: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if y[0]*255 < 27.99 || y[0]*255 > 28.01 {
		t.Fatalf("Batch's luma of (0,0,250) = %v, want 28", y[0]*255)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "blue.png")
	saveImage(t, path, rgbImage(2, 2, color.RGBA{0, 0, 250, 255}))
	px, info, err := ReadImage(path, 1, 2, 2, Bicubic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if px[0] != 28 || !info.Color || info.Alpha || info.W != 2 || info.H != 2 {
		t.Fatalf("ReadImage: luma %d, info %+v; want 28, colour, opaque, 2×2", px[0], info)
	}
}

// Transparent pixels become white (as a viewer shows them), not black.
func TestReadImageCompositesOnWhite(t *testing.T) {
	dir := t.TempDir()
	im := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	im.Pix = []uint8{10, 20, 30, 0, 100, 0, 0, 128} // fully transparent; half-transparent red
	path := filepath.Join(dir, "a.png")
	saveImage(t, path, im)
	px, info, err := ReadImage(path, 3, 1, 2, Bilinear, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint8{255, onWhite(100, 128), 255, onWhite(0, 128), 255, onWhite(0, 128)}
	if !bytes.Equal(px, want) || !info.Alpha {
		t.Fatalf("RGB on white: %v (alpha %v), want %v", px, info.Alpha, want)
	}
	if onWhite(100, 128) != 177 { // (100·128 + 255·127)/255 = 177.2
		t.Fatalf("onWhite(100,128) = %d", onWhite(100, 128))
	}
	grey, _, err := ReadImage(path, 1, 1, 2, Bilinear, 0)
	if err != nil {
		t.Fatal(err)
	}
	if grey[0] != 255 {
		t.Fatalf("transparent pixel in grey: %d, want 255", grey[0])
	}
}

func TestReadImageErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.jpg", []byte("not a jpeg"))
	missing := filepath.Join(dir, "missing.png")
	for _, p := range []string{bad, missing} {
		if _, _, err := ReadImage(p, 1, 4, 4, Bicubic, 0); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, _, err := ReadImage(bad, 2, 4, 4, Bicubic, 0); err == nil {
		t.Error("2 channels accepted")
	}
}

// A folder of large colour photos loaded for a small grey model keeps only
// the model-size pixels and says once what it did.
func TestLoadFolderConvertsAsItReads(t *testing.T) {
	dir := t.TempDir()
	for i, c := range []color.RGBA{{200, 10, 20, 255}, {10, 200, 20, 255}, {10, 20, 200, 255}} {
		for j := 0; j < 2; j++ {
			name := filepath.Join(dir, []string{"r", "g", "b"}[i], string(rune('a'+j))+".png")
			saveImage(t, name, rgbImage(64+8*j, 48, c))
		}
	}
	var log bytes.Buffer
	d, err := LoadFolder(dir, FolderOptions{H: 8, W: 8, Channels: 1, Interp: Bicubic, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if d.C != 1 || d.H != 8 || d.W != 8 || len(d.Pixels) != 6*64 {
		t.Fatalf("C=%d %dx%d, %d bytes; want 1×8×8, 384 bytes", d.C, d.H, d.W, len(d.Pixels))
	}
	if got := d.Image(0)[0]; got != lumaOf(10, 20, 200) { // classes sorted: b, g, r
		t.Fatalf("pixel %d, want the luma %d", got, lumaOf(10, 20, 200))
	}
	msg := log.String()
	for _, want := range []string{"6 images in 3 classes: 6 colour images converted to grey", "6 images resized from 64×48…72×48 to 8×8 (bicubic; squashed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("log lacks %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "\n"); n != 1 {
		t.Errorf("log has %d lines, want 1:\n%s", n, msg)
	}
	// Grey to RGB by replication, reported too.
	gdir := t.TempDir()
	saveImage(t, filepath.Join(gdir, "x", "a.png"), grayImage(8, 8, 70))
	saveImage(t, filepath.Join(gdir, "y", "a.png"), grayImage(8, 8, 90))
	log.Reset()
	d, err = LoadFolder(gdir, FolderOptions{H: 8, W: 8, Channels: 3, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if im := d.Image(1); im[0] != 90 || im[64] != 90 || im[128] != 90 {
		t.Fatalf("grey → RGB: %d %d %d", im[0], im[64], im[128])
	}
	if !strings.Contains(log.String(), "2 grey images repeated to RGB") || strings.Contains(log.String(), "resized") {
		t.Fatalf("log: %s", log.String())
	}
}

func TestLoadFolderNeedsTwoClasses(t *testing.T) {
	dir := t.TempDir()
	saveImage(t, filepath.Join(dir, "only", "a.png"), grayImage(4, 4, 1))
	os.MkdirAll(filepath.Join(dir, "empty"), 0o755)
	_, err := LoadFolder(dir, FolderOptions{})
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), `only one class folder ("only")`) {
		t.Fatalf("one class: %v", err)
	}
	loose := t.TempDir()
	saveImage(t, filepath.Join(loose, "a.png"), grayImage(4, 4, 1))
	if _, err := LoadFolder(loose, FolderOptions{}); err == nil || !strings.Contains(err.Error(), "no class sub-folders") {
		t.Fatalf("images without class folders: %v", err)
	}
}

func TestLoadFolderLeavesOutEmptyClassFolders(t *testing.T) {
	dir := t.TempDir()
	saveImage(t, filepath.Join(dir, "a", "1.png"), grayImage(4, 4, 1))
	saveImage(t, filepath.Join(dir, "c", "1.png"), grayImage(4, 4, 3))
	os.MkdirAll(filepath.Join(dir, "b"), 0o755)
	writeFile(t, filepath.Join(dir, "b"), "readme.txt", []byte("no images here"))
	var log bytes.Buffer
	d, err := LoadFolder(dir, FolderOptions{Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Classes) != 2 || d.Classes[0] != "a" || d.Classes[1] != "c" || d.Labels[1] != 1 {
		t.Fatalf("classes %v labels %v, want [a c] [0 1]", d.Classes, d.Labels)
	}
	if !strings.Contains(log.String(), `warning: class folder "b" has no .png/.jpg/.jpeg images (left out)`) {
		t.Fatalf("log: %q", log.String())
	}
}
