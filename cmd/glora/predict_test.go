package main

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/glora/glora/data"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/train"
)

// saveTinyModel writes a fresh model of preset with len(labels) classes
// named labels (nil: 2 classes, no names) to dir.
func saveTinyModel(t *testing.T, dir, preset string, labels []string) {
	t.Helper()
	cfg, err := vit.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NumClasses = max(len(labels), 2)
	m, err := vit.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	ck := vit.NewCheckpoint(preset, cfg)
	ck.Labels = labels
	if err := vit.Save(m, dir, ck, ""); err != nil {
		t.Fatal(err)
	}
}

func savePNG(t *testing.T, path string, im image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, im); err != nil {
		t.Fatal(err)
	}
}

// predictLine is one line of predict --json.
type predictLine struct {
	File string `json:"file"`
	Top  []struct {
		Label string  `json:"label"`
		Index int     `json:"index"`
		Prob  float64 `json:"prob"`
	} `json:"top"`
}

func TestPredictFolderJSON(t *testing.T) {
	dir := t.TempDir()
	writeFolder(t, filepath.Join(dir, "data"))             // 32 grey 8×8 PNGs
	for _, f := range []string{"notes.txt", ".DS_Store"} { // a file that is not an image, and a hidden one
		if err := os.WriteFile(filepath.Join(dir, "data", f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	model := filepath.Join(dir, "model")
	saveTinyModel(t, model, "vit-micro-rgb", []string{"dark", "bright"})
	code, stdout, stderr := runCLI("predict", "--model", model, "--top", "5", "--json", filepath.Join(dir, "data"))
	if code != 0 {
		t.Fatalf("predict: code %d\n%s%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 32 {
		t.Fatalf("%d lines on stdout, want one per image (32):\n%s", len(lines), stdout)
	}
	for _, l := range lines {
		var p predictLine
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if !strings.HasSuffix(p.File, ".png") || len(p.Top) != 2 { // --top 5 of 2 classes
			t.Fatalf("line %q: want the file and both classes", l)
		}
		sum := 0.0
		for i, c := range p.Top {
			if c.Label != []string{"dark", "bright"}[c.Index] || (i > 0 && c.Prob > p.Top[i-1].Prob) {
				t.Fatalf("line %q: labels or order wrong", l)
			}
			sum += c.Prob
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Fatalf("line %q: probabilities sum to %v", l, sum)
		}
	}
	if want := "ignored 1 file that is not .png, .jpg or .jpeg (.txt 1)"; !strings.Contains(stderr, want) {
		t.Fatalf("stderr does not say %q:\n%s", want, stderr)
	}
	// The grey images were repeated to RGB and resized, as the loader does.
	if !strings.Contains(stderr, "32 grey images repeated to RGB") || !strings.Contains(stderr, "resized from 8×8 to 16×16 (bicubic; squashed") {
		t.Fatalf("stderr lacks the conversion report:\n%s", stderr)
	}
}

// predict reads an image exactly as the folder loader does: the model sees
// the same input, so the same probabilities as a one-image forward pass on
// the loaded dataset.
func TestPredictSharesTheLoadersInput(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	saveTinyModel(t, model, "vit-micro", []string{"a", "b"})
	for i, c := range []color.RGBA{{200, 30, 60, 255}, {20, 90, 250, 128}} {
		im := image.NewRGBA(image.Rect(0, 0, 37, 23))
		for p := 0; p < len(im.Pix); p += 4 {
			im.Pix[p], im.Pix[p+1], im.Pix[p+2], im.Pix[p+3] = c.R^uint8(p), c.G, c.B, c.A
		}
		savePNG(t, filepath.Join(dir, "data", []string{"a", "b"}[i], "x.png"), im)
	}
	m, _, err := vit.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	in := train.InputOptions(m.Cfg, nil)
	full, err := data.LoadFolder(filepath.Join(dir, "data"), data.FolderOptions{H: in.H, W: in.W, Channels: in.Channels, Interp: in.Interp})
	if err != nil {
		t.Fatal(err)
	}
	want, err := classify(m, in, []string{"a", "b"}, full.Pixels)
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("predict", "--model", model, "--json", filepath.Join(dir, "data"))
	if code != 0 {
		t.Fatalf("predict: %s%s", stdout, stderr)
	}
	for i, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var p predictLine
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Fatal(err)
		}
		if got := p.Top[0].Prob; got != slices.Max(want[i]) {
			t.Fatalf("image %d: predict's top probability %v, the loader's input gives %v", i, got, slices.Max(want[i]))
		}
	}
}

func TestPredictWithoutNamesAndDefaultModel(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "shoe.png")
	savePNG(t, img, image.NewGray(image.Rect(0, 0, 28, 28)))
	// The shipped backbone names Fashion-MNIST's classes.
	code, stdout, stderr := runCLI("predict", "--top", "2", img)
	if code != 0 {
		t.Fatalf("predict: %s%s", stdout, stderr)
	}
	line := strings.TrimSpace(stdout)
	if !strings.HasPrefix(line, img+": ") || strings.Count(line, ",") != 1 {
		t.Fatalf("stdout %q: want %q and two classes", stdout, img+": …")
	}
	named := false
	for _, n := range data.FashionMNISTClasses {
		named = named || strings.HasPrefix(line, img+": "+n+" ")
	}
	if !named {
		t.Fatalf("stdout %q does not name a Fashion-MNIST class", stdout)
	}
	// A preset has no names: indices.
	code, stdout, stderr = runCLI("predict", "--model", "vit-micro", "--json", "--top", "1", img)
	if code != 0 {
		t.Fatalf("predict: %s%s", stdout, stderr)
	}
	var p predictLine
	if err := json.Unmarshal([]byte(stdout), &p); err != nil || len(p.Top) != 1 || p.Top[0].Label == "" {
		t.Fatalf("stdout %q (%v)", stdout, err)
	}
	if p.Top[0].Label != strconv.Itoa(p.Top[0].Index) || !strings.Contains(stderr, "printing class indices") {
		t.Fatalf("label %q for index %d; stderr %s", p.Top[0].Label, p.Top[0].Index, stderr)
	}
}

func TestPredictBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "imgs", "good.png")
	savePNG(t, good, image.NewGray(image.Rect(0, 0, 16, 16)))
	bad := filepath.Join(dir, "imgs", "bad.png")
	if err := os.WriteFile(bad, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("predict", "--model", "vit-micro", "--json", filepath.Join(dir, "imgs"))
	if code == 0 || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "1 of 2 images could not be read") {
		t.Fatalf("bad image: code %d, stderr:\n%s", code, stderr)
	}
	var p predictLine
	if err := json.Unmarshal([]byte(stdout), &p); err != nil || p.File != good {
		t.Fatalf("the good image was not predicted: stdout %q (%v)", stdout, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"predict"}, "name at least one image"},
		{[]string{"predict", filepath.Join(dir, "missing.png")}, filepath.Join(dir, "missing.png")},
		{[]string{"predict", "--top", "0", good}, "--top must be ≥ 1"},
		{[]string{"predict", t.TempDir()}, "holds no .png/.jpg/.jpeg images"},
	} {
		code, out, e := runCLI(tc.args...)
		if code == 0 || !strings.Contains(e, tc.want) || out != "" {
			t.Errorf("%v: code %d, stdout %q, stderr %q; want an error naming %q", tc.args, code, out, e, tc.want)
		}
	}
}
