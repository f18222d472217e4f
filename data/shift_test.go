package data

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestTrigTableIsExact: cosSinQ16 rounds cos and sin to 1/65536; no angle
// of a full turn (in 0.1° steps) lies within 1e-6 of a rounding boundary,
// so a last-bit difference in math.Cos or math.Sin between machines (or an
// FMA) cannot change a generated image.
func TestTrigTableIsExact(t *testing.T) {
	for tenths := -3600; tenths <= 3600; tenths++ {
		a := float64(tenths) * math.Pi / 1800
		for _, v := range []float64{math.Cos(a) * 65536, math.Sin(a) * 65536} {
			if f := v - math.Floor(v); math.Abs(f-0.5) < 1e-6 {
				t.Fatalf("%d tenths of a degree: %v is near a rounding boundary", tenths, v)
			}
		}
	}
	if c, s := cosSinQ16(900); c != 0 || s != 65536 {
		t.Fatalf("90°: %d %d", c, s)
	}
}

func TestBlurKernelIsGaussian(t *testing.T) {
	for x, w := range blurKernel {
		if want := math.Exp(-float64(x*x)/(2*ShiftBlurSigma*ShiftBlurSigma)) * 65536; math.Abs(float64(w)-want) > 0.5 {
			t.Fatalf("blurKernel[%d] = %d, want %.2f", x, w, want)
		}
	}
}

func TestGaussQ(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 200000
	var sum, sq float64
	for range n {
		v := float64(gaussQ(rng, 1000))
		sum += v
		sq += v * v
	}
	mean := sum / n
	std := math.Sqrt(sq/n - mean*mean)
	if math.Abs(mean) > 10 || math.Abs(std-1000) > 10 {
		t.Fatalf("mean %.2f std %.2f, want 0 and 1000", mean, std)
	}
	for _, c := range [][3]int64{{7, 2, 4}, {-7, 2, -3}, {5, 2, 3}, {-5, 2, -2}, {-6, 4, -1}, {0, 3, 0}} {
		if got := divRound(c[0], c[1]); got != c[2] {
			t.Fatalf("divRound(%d, %d) = %d, want %d", c[0], c[1], got, c[2])
		}
	}
}

// tiny is a 3-image 1×8×8 dataset with a bright plus sign off centre.
func tiny() *Dataset {
	d := &Dataset{Name: "tiny", Classes: []string{"a", "b"}, C: 1, H: 8, W: 8,
		Pixels: make([]uint8, 3*64), Labels: []int{0, 1, 0}}
	for i := range 3 {
		im := d.Image(i)
		for k := 1; k < 6; k++ {
			im[3*8+k] = 200
			im[k*8+3] = 200
		}
		im[0] = uint8(10 * i)
	}
	return d
}

func TestApplyShift(t *testing.T) {
	d := tiny()
	orig := append([]uint8(nil), d.Pixels...)
	for _, s := range Shifts {
		a, err := ApplyShift(d, s)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := ApplyShift(d, s)
		if !bytes.Equal(a.Pixels, b.Pixels) {
			t.Fatalf("%s is not deterministic", s)
		}
		if bytes.Equal(a.Pixels, orig) || a.Name != "tiny:"+s || a.Len() != 3 || a.Labels[1] != 1 {
			t.Fatalf("%s: %v, pixels changed %v", s, a, !bytes.Equal(a.Pixels, orig))
		}
	}
	if !bytes.Equal(d.Pixels, orig) {
		t.Fatal("ApplyShift changed its input")
	}
	inv, _ := ApplyShift(d, "invert")
	for i, v := range inv.Pixels {
		if v != 255-orig[i] {
			t.Fatalf("invert: pixel %d is %d, want %d", i, v, 255-orig[i])
		}
	}
	if _, err := ApplyShift(d, "sketch"); err == nil || !strings.Contains(err.Error(), "rotate30") {
		t.Fatalf("unknown shift: %v", err)
	}
	// Blur keeps a constant image constant and the mass of an impulse.
	flat := make([]uint8, 64)
	for i := range flat {
		flat[i] = 77
	}
	blurPlane(flat, 8, 8, make([]int64, 64))
	for _, v := range flat {
		if v != 77 {
			t.Fatalf("blurred constant: %v", flat)
		}
	}
	// Rotation by 0 is the identity; by 90° anticlockwise it moves the
	// pixel right of the centre of a 9×9 image to above it.
	src := make([]uint8, 81)
	src[4*9+6] = 255
	dst := make([]uint8, 81)
	rotatePlane(dst, src, 9, 9, 65536, 0)
	if !bytes.Equal(dst, src) {
		t.Fatal("rotation by 0° is not the identity")
	}
	c, s := cosSinQ16(900)
	rotatePlane(dst, src, 9, 9, c, s)
	if dst[2*9+4] != 255 || dst[4*9+6] != 0 {
		t.Fatalf("90°: %v", dst)
	}
}

// TestMNISTShifts: the shifted specs keep MNIST's training split and
// change only its test images, the same bytes every time.
func TestMNISTShifts(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	tr, te, err := MNIST()
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	for _, s := range Shifts {
		str, ste, err := Resolve("mnist:" + s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(str.Pixels, tr.Pixels) || str.Len() != 60000 {
			t.Fatalf("%s changed the training split", s)
		}
		if ste.Len() != te.Len() || !equalInts(ste.Labels, te.Labels) || ste.Name != "mnist:"+s {
			t.Fatalf("%s: test %v", s, ste)
		}
		changed := 0
		for i := range te.Len() {
			if !bytes.Equal(te.Image(i), ste.Image(i)) {
				changed++
			}
		}
		if changed < te.Len()*95/100 {
			t.Fatalf("%s changed %d of %d test images", s, changed, te.Len())
		}
		if h := hashOf(ste); h != goldenShift[s] {
			t.Errorf("mnist:%s test hash %s, want %s", s, h, goldenShift[s])
		}
	}
}

var goldenShift = map[string]string{"rotate30": "e5f68cd1f13b4cb4", "invert": "fab37e5c26be92ec",
	"noise": "3b9a90e0853f4943", "blur": "b881a8937c05df84"}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
