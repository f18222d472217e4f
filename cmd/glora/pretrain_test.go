package main

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glora/glora/train"
)

func TestBareAugment(t *testing.T) {
	for _, c := range [][2]string{
		{"--augment", "--augment=true"},
		{"--augment --lr 1e-3", "--augment=true --lr 1e-3"},
		{"-augment --out x", "--augment=true --out x"},
		{"--augment crop:1 --out x", "--augment crop:1 --out x"},
		{"--augment=flip", "--augment=flip"},
		{"--out --augment", "--out --augment=true"},
	} {
		if got := strings.Join(bareAugment(strings.Fields(c[0])), " "); got != c[1] {
			t.Errorf("%q → %q, want %q", c[0], got, c[1])
		}
	}
}

func TestAugmentFlag(t *testing.T) {
	for _, c := range []struct {
		in   string
		crop int
		flip bool
		str  string
	}{
		{"true", 2, true, "crop:2,flip"},
		{"false", 0, false, "none"},
		{"none", 0, false, "none"},
		{"crop:1", 1, false, "crop:1"},
		{"crop", 2, false, "crop:2"},
		{"flip", 0, true, "flip"},
		{"crop:3, flip", 3, true, "crop:3,flip"},
	} {
		var o train.Options
		f := &augmentFlag{&o}
		if err := f.Set(c.in); err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if o.PadCrop != c.crop || o.HFlip != c.flip || f.String() != c.str {
			t.Errorf("%q: crop %d flip %v (%s); want %d %v (%s)", c.in, o.PadCrop, o.HFlip, f.String(), c.crop, c.flip, c.str)
		}
	}
	for _, bad := range []string{"crop:0", "crop:x", "rotate", "flip:1"} {
		var o train.Options
		if err := (&augmentFlag{&o}).Set(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// writeFolder writes a two-class image folder (train/ and test/, dark and
// bright 8×8 PNGs) under dir.
func writeFolder(t *testing.T, dir string) {
	t.Helper()
	for _, split := range []string{"train", "test"} {
		for c, name := range []string{"dark", "bright"} {
			d := filepath.Join(dir, split, name)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 8; i++ {
				img := image.NewGray(image.Rect(0, 0, 8, 8))
				for p := range img.Pix {
					img.Pix[p] = uint8(40 + 160*c + (p*7+i*13)%40)
				}
				f, err := os.Create(filepath.Join(d, fmt.Sprintf("%d.png", i)))
				if err != nil {
					t.Fatal(err)
				}
				if err := png.Encode(f, img); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
		}
	}
}

func TestPretrainOnTheWholeTrainingSplit(t *testing.T) {
	dir := t.TempDir()
	writeFolder(t, filepath.Join(dir, "data"))
	out := filepath.Join(dir, "run")
	code, stdout, stderr := runCLI("pretrain", "--model", "vit-micro", "--data", "folder:"+filepath.Join(dir, "data"),
		"--scheme", "full", "--epochs", "2", "--batch", "4", "--augment", "crop:1", "--out", out)
	if code != 0 {
		t.Fatalf("pretrain: code %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "16 train / 0 val images") || !strings.Contains(stdout, "no validation split") {
		t.Fatalf("pretrain output:\n%s", stdout)
	}
	if !strings.Contains(stderr, "epoch 2: train loss") {
		t.Fatalf("pretrain log:\n%s", stderr)
	}
	for _, f := range []string{"best/model.safetensors", "curves.png", "checkpoint/state.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	state, err := os.ReadFile(filepath.Join(out, "checkpoint/state.json"))
	if err != nil || !strings.Contains(string(state), `"pad_crop": 1`) || !strings.Contains(string(state), `"hflip": false`) {
		t.Fatalf("state.json does not record --augment=crop:1 (%v):\n%s", err, state)
	}
}
