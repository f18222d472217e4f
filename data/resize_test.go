package data

import (
	"encoding/json"
	"os"
	"testing"
)

// TestResizeMatchesPIL compares with PIL 9.4's Image.resize of an 8-bit
// image (testdata/pil_resize.json, made with /usr/bin/python3 and
// python3-pil). PIL rounds to 8 bits between its horizontal and vertical
// passes, so values may differ by 1.
func TestResizeMatchesPIL(t *testing.T) {
	raw, err := os.ReadFile("testdata/pil_resize.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		H, W  int
		Src   []uint8
		Cases []struct {
			Interp string
			H, W   int
			Out    []int
		}
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range fx.Cases {
		interp, err := ParseInterp(c.Interp)
		if err != nil {
			t.Fatal(err)
		}
		got := resizeU8(fx.Src, 1, fx.H, fx.W, c.H, c.W, interp)
		worst := 0
		for i, want := range c.Out {
			worst = max(worst, abs(int(got[i])-want))
		}
		if worst > 1 {
			t.Errorf("%s %dx%d: max |diff| %d from PIL\n got %v\nwant %v", c.Interp, c.H, c.W, worst, got, c.Out)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestResizeCropMatchesTimm compares the crop transform with timm's
// evaluation transform done by PIL as torchvision does
// (reference/make_crop_fixture.py); PIL's 8-bit passes allow a difference
// of 1.
func TestResizeCropMatchesTimm(t *testing.T) {
	raw, err := os.ReadFile("testdata/timm_crop.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		H, W   int
		Src    []uint8
		Size   int
		Pct    float64
		Interp string
		Out    []int
	}
	if err := json.Unmarshal(raw, &cases); err != nil || len(cases) == 0 {
		t.Fatalf("%d cases, %v", len(cases), err)
	}
	for _, c := range cases {
		interp, err := ParseInterp(c.Interp)
		if err != nil {
			t.Fatal(err)
		}
		got := resizeCropU8(c.Src, 1, c.H, c.W, c.Size, c.Size, interp, c.Pct)
		worst := 0
		for i, want := range c.Out {
			worst = max(worst, abs(int(got[i])-want))
		}
		if worst > 1 {
			t.Errorf("%dx%d → %d (crop %g, %s): max |diff| %d from timm's transform", c.H, c.W, c.Size, c.Pct, c.Interp, worst)
		}
	}
}
