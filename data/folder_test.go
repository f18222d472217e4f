package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func saveImage(t *testing.T, path string, im image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".png") {
		err = png.Encode(f, im)
	} else {
		err = jpeg.Encode(f, im, &jpeg.Options{Quality: 100})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func grayImage(w, h int, v uint8) *image.Gray {
	im := image.NewGray(image.Rect(0, 0, w, h))
	for i := range im.Pix {
		im.Pix[i] = v
	}
	return im
}

func rgbImage(w, h int, c color.RGBA) *image.RGBA {
	im := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			im.SetRGBA(x, y, c)
		}
	}
	return im
}

func TestLoadFolderGray(t *testing.T) {
	dir := t.TempDir()
	// Two classes, sizes differ, constant images survive resizing exactly.
	saveImage(t, filepath.Join(dir, "cat", "a.png"), grayImage(8, 8, 10))
	saveImage(t, filepath.Join(dir, "cat", "b.png"), grayImage(5, 7, 20))
	saveImage(t, filepath.Join(dir, "dog", "c.png"), grayImage(16, 12, 30))
	writeFile(t, filepath.Join(dir, "dog"), "notes.txt", []byte("ignored"))
	d, err := LoadFolder(dir, FolderOptions{H: 6, W: 4})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 3 || d.C != 1 || d.H != 6 || d.W != 4 {
		t.Fatalf("N=%d C=%d H=%d W=%d", d.Len(), d.C, d.H, d.W)
	}
	if len(d.Classes) != 2 || d.Classes[0] != "cat" || d.Classes[1] != "dog" {
		t.Fatalf("classes %v", d.Classes)
	}
	wantLabel := []int{0, 0, 1}
	wantValue := []uint8{10, 20, 30}
	for i := 0; i < 3; i++ {
		if d.Labels[i] != wantLabel[i] {
			t.Errorf("label %d = %d", i, d.Labels[i])
		}
		for _, v := range d.Image(i) {
			if v != wantValue[i] {
				t.Fatalf("image %d has pixel %d, want %d", i, v, wantValue[i])
			}
		}
	}
}

func TestLoadFolderRGBAndJPEG(t *testing.T) {
	dir := t.TempDir()
	saveImage(t, filepath.Join(dir, "red", "r.png"), rgbImage(4, 4, color.RGBA{200, 10, 20, 255}))
	saveImage(t, filepath.Join(dir, "red", "r2.jpg"), rgbImage(9, 9, color.RGBA{200, 10, 20, 255}))
	saveImage(t, filepath.Join(dir, "gray", "g.jpeg"), grayImage(4, 4, 90))
	d, err := LoadFolder(dir, FolderOptions{}) // size of the first file: gray/g.jpeg, 4×4
	if err != nil {
		t.Fatal(err)
	}
	if d.C != 3 || d.H != 4 || d.W != 4 || d.Len() != 3 {
		t.Fatalf("C=%d %dx%d N=%d", d.C, d.H, d.W, d.Len())
	}
	hw := 16
	g := d.Image(0) // gray repeated
	if g[0] != 90 || g[hw] != 90 || g[2*hw] != 90 {
		t.Fatalf("gray jpeg → %d %d %d", g[0], g[hw], g[2*hw])
	}
	for i := 1; i < 3; i++ {
		im := d.Image(i)
		for c, want := range []int{200, 10, 20} {
			if got := int(im[c*hw+5]); got < want-3 || got > want+3 { // JPEG is lossy
				t.Fatalf("image %d channel %d = %d, want ≈ %d", i, c, got, want)
			}
		}
	}
	// Forcing one channel takes the luma.
	d1, err := LoadFolder(dir, FolderOptions{Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := (200*299 + 10*587 + 20*114 + 500) / 1000
	if int(d1.Image(2)[0]) != want {
		t.Fatalf("luma %d, want %d", d1.Image(2)[0], want)
	}
	if got := int(d1.Image(1)[5]); got < want-3 || got > want+3 { // JPEG: its Y plane
		t.Fatalf("JPEG luma %d, want ≈ %d", got, want)
	}
}

func TestLoadFolderErrors(t *testing.T) {
	dir := t.TempDir()
	saveImage(t, filepath.Join(dir, "a", "ok.png"), grayImage(3, 3, 1))
	saveImage(t, filepath.Join(dir, "b", "ok.png"), grayImage(3, 3, 2))
	bad := writeFile(t, filepath.Join(dir, "a"), "bad.png", []byte("not a png"))
	if _, err := LoadFolder(dir, FolderOptions{}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("corrupt image: %v", err)
	}
	if _, err := LoadFolder(t.TempDir(), FolderOptions{}); err == nil {
		t.Fatal("empty folder: no error")
	}
	os.Remove(bad)
	if _, err := LoadFolder(dir, FolderOptions{Classes: []string{"b"}}); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("unknown class folder: %v", err)
	}
}

func TestResolveFolder(t *testing.T) {
	root := t.TempDir()
	for _, split := range []string{"train", "test"} {
		for c, name := range []string{"x", "y"} {
			for i := 0; i < 3; i++ {
				saveImage(t, filepath.Join(root, split, name, string(rune('a'+i))+".png"), grayImage(6, 6, uint8(c*100)))
			}
		}
	}
	// The test split has a class folder missing: labels must still agree.
	os.RemoveAll(filepath.Join(root, "test", "x"))
	tr, te, err := ResolveWith("folder:"+root, ResolveOptions{H: 4, W: 4})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 6 || te.Len() != 3 || te.H != 4 || len(te.Classes) != 2 {
		t.Fatalf("train %d test %d (H=%d, classes %v)", tr.Len(), te.Len(), te.H, te.Classes)
	}
	for _, l := range te.Labels {
		if l != 1 {
			t.Fatalf("test label %d, want 1 (class y)", l)
		}
	}

	// Only class folders: 20% stratified held out.
	flat := t.TempDir()
	for c, name := range []string{"p", "q"} {
		for i := 0; i < 10; i++ {
			saveImage(t, filepath.Join(flat, name, string(rune('a'+i))+".png"), grayImage(5, 5, uint8(c)))
		}
	}
	tr, te, err = Resolve("folder:" + flat)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 16 || te.Len() != 4 {
		t.Fatalf("train %d test %d, want 16/4", tr.Len(), te.Len())
	}
	if c := te.ClassCounts(); c[0] != 2 || c[1] != 2 {
		t.Fatalf("test class counts %v, want [2 2]", c)
	}
}

// As torchvision's ImageFolder: images in sub-folders of a class folder
// belong to it, a class folder may be a link, and a link cycle is read
// once; the log says what was read.
func TestLoadFolderNestedAndLinked(t *testing.T) {
	root, other := t.TempDir(), t.TempDir()
	saveImage(t, filepath.Join(root, "a", "1.png"), grayImage(4, 4, 10))
	saveImage(t, filepath.Join(root, "a", "deeper", "2.png"), grayImage(4, 4, 20))
	saveImage(t, filepath.Join(root, "a", "deeper", "still", "3.png"), grayImage(4, 4, 30))
	saveImage(t, filepath.Join(root, "a", ".hidden", "4.png"), grayImage(4, 4, 40))
	saveImage(t, filepath.Join(other, "b", "1.png"), grayImage(4, 4, 200))
	if err := os.Symlink(filepath.Join(other, "b"), filepath.Join(root, "b")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if err := os.Symlink(filepath.Join(root, "a"), filepath.Join(root, "a", "deeper", "loop")); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	d, err := LoadFolder(root, FolderOptions{Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 4 || !slices.Equal(d.Classes, []string{"a", "b"}) || !slices.Equal(d.Labels, []int{0, 0, 0, 1}) {
		t.Fatalf("%d images, classes %v, labels %v; want 3 of a (nested, the loop read once, the hidden one left out) and 1 of b (a link)", d.Len(), d.Classes, d.Labels)
	}
	if !strings.Contains(log.String(), "4 images in 2 classes (2 in sub-folders of the class folders)") {
		t.Errorf("log: %s", log.String())
	}
}

// Files of the class folders that are not images are left out, and the
// log says how many, by extension (hidden files are not counted).
func TestLoadFolderCountsIgnoredFiles(t *testing.T) {
	root := t.TempDir()
	saveImage(t, filepath.Join(root, "a", "1.png"), grayImage(4, 4, 10))
	saveImage(t, filepath.Join(root, "b", "1.PNG"), grayImage(4, 4, 200))
	for _, f := range []string{"a/notes.txt", "a/deeper/x.gif", "b/README", "b/.DS_Store"} {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("not an image"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	d, err := LoadFolder(root, FolderOptions{Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	want := "2 images in 2 classes; ignored 3 files that are not .png, .jpg or .jpeg (.gif 1, .txt 1, no extension 1)"
	if d.Len() != 2 || !strings.Contains(log.String(), want) {
		t.Fatalf("%d images; log %q, want it to say %q", d.Len(), log.String(), want)
	}
}
