package data

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func constDataset(c, h, w int, vals ...uint8) *Dataset {
	n := len(vals)
	pix := make([]uint8, n*c*h*w)
	for i, v := range vals {
		for p := 0; p < c*h*w; p++ {
			pix[i*c*h*w+p] = v
		}
	}
	return &Dataset{Name: "const", Classes: []string{"a"}, C: c, H: h, W: w, Pixels: pix, Labels: make([]int, n)}
}

func TestResizeConstantStaysConstant(t *testing.T) {
	ds := constDataset(1, 28, 28, 0, 77, 255)
	for _, interp := range []Interp{Bilinear, Bicubic} {
		for _, size := range [][2]int{{32, 32}, {224, 224}, {7, 13}, {28, 28}, {1, 1}} {
			x, err := Batch(ds, []int{0, 1, 2}, Preprocess{Height: size[0], Width: size[1], Interp: interp}, nil)
			if err != nil {
				t.Fatal(err)
			}
			per := size[0] * size[1]
			for i, want := range []float64{0, 77.0 / 255, 1} {
				for _, v := range x[i*per : (i+1)*per] {
					if !near(float64(v), want, 1e-5) {
						t.Fatalf("%v %v: image %d has %v, want %v", interp, size, i, v, want)
					}
				}
			}
		}
	}
}

// TestBilinearMatchesTorch: upsampling [0, 100] (1×2) to width 4 with
// half-pixel centres gives [0, 25, 75, 100], as torch's
// interpolate(mode="bilinear", align_corners=False) and PIL do.
func TestBilinearMatchesTorch(t *testing.T) {
	ds := &Dataset{Classes: []string{"a"}, C: 1, H: 1, W: 2, Pixels: []uint8{0, 100}, Labels: []int{0}}
	x, err := Batch(ds, []int{0}, Preprocess{Height: 1, Width: 4, Std: []float32{1.0 / 255}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{0, 25, 75, 100} {
		if !near(float64(x[i]), want, 1e-3) {
			t.Fatalf("x = %v, want [0 25 75 100]", x)
		}
	}
	// Bicubic (a = -0.5) of a step overshoots, then is clamped to [0,255].
	ds2 := &Dataset{Classes: []string{"a"}, C: 1, H: 1, W: 4, Pixels: []uint8{0, 0, 255, 255}, Labels: []int{0}}
	y, err := Batch(ds2, []int{0}, Preprocess{Height: 1, Width: 8, Interp: Bicubic}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if y[0] != 0 || !near(float64(y[7]), 1, 1e-6) || !(y[3] > 0 && y[3] < 0.5) || !(y[4] > 0.5 && y[4] < 1) {
		t.Fatalf("bicubic step %v", y)
	}
	for _, v := range y {
		if v < 0 || v > 1 {
			t.Fatalf("bicubic value %v outside [0,1] after clamping", v)
		}
	}
}

func TestResizeWeightsSumToOne(t *testing.T) {
	for _, interp := range []Interp{Bilinear, Bicubic} {
		for _, sz := range [][2]int{{28, 224}, {224, 28}, {5, 3}, {3, 5}, {1, 9}, {9, 1}} {
			w := resizeWeights(sz[0], sz[1], interp)
			for i := 0; i < sz[1]; i++ {
				s := 0.0
				for k := 0; k < w.count[i]; k++ {
					s += float64(w.w[i*w.taps+k])
				}
				if w.start[i] < 0 || w.start[i]+w.count[i] > sz[0] || !near(s, 1, 1e-5) {
					t.Fatalf("%v %v: output %d taps [%d,+%d) sum %v", interp, sz, i, w.start[i], w.count[i], s)
				}
			}
		}
	}
}

func TestNormaliseAndChannels(t *testing.T) {
	ds := constDataset(1, 4, 4, 51) // 51/255 = 0.2
	opts := Preprocess{Channels: 3, Height: 4, Width: 4, Mean: ImageNetMean, Std: ImageNetStd}
	x, err := Batch(ds, []int{0}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(x) != 3*16 {
		t.Fatalf("len %d, want 48", len(x))
	}
	for c := 0; c < 3; c++ {
		want := (0.2 - float64(ImageNetMean[c])) / float64(ImageNetStd[c])
		for _, v := range x[c*16 : (c+1)*16] {
			if !near(float64(v), want, 1e-5) {
				t.Fatalf("channel %d: %v, want %v", c, v, want)
			}
		}
	}
	// RGB → 1 channel: luma, then a scalar mean/std.
	rgb := &Dataset{Classes: []string{"a"}, C: 3, H: 1, W: 1, Pixels: []uint8{255, 0, 0}, Labels: []int{0}}
	y, err := Batch(rgb, []int{0}, Preprocess{Channels: 1, Mean: []float32{0.5}, Std: []float32{0.5}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (76.0/255 - 0.5) / 0.5; len(y) != 1 || !near(float64(y[0]), want, 1e-5) {
		t.Fatalf("luma of red → %v, want %v", y, want)
	}
	for _, bad := range []Preprocess{
		{Std: []float32{0}}, {Mean: []float32{1, 2}}, {Channels: 2}, {PadCrop: 1}, {Interp: 9}, {Height: -1},
	} {
		if _, err := Batch(ds, []int{0}, bad, nil); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if _, err := Batch(ds, []int{1}, Preprocess{}, nil); err == nil {
		t.Error("index out of range: no error")
	}
}

func TestAugment(t *testing.T) {
	// 1×3×3 image with distinct pixels 1…9.
	img := []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9}
	dst := make([]uint8, 9)
	augmentInto(dst, img, 1, 3, 3, augment{dx: 1, dy: -1})
	// dst(y,x) = img(y-1, x+1), zero outside.
	want := []uint8{0, 0, 0, 2, 3, 0, 5, 6, 0}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("shift: %v, want %v", dst, want)
		}
	}
	augmentInto(dst, img, 1, 3, 3, augment{flip: true})
	want = []uint8{3, 2, 1, 6, 5, 4, 9, 8, 7}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("flip: %v, want %v", dst, want)
		}
	}
	// Batch with augmentation is reproducible from the seed and changes data.
	ds := &Dataset{Classes: []string{"a"}, C: 1, H: 3, W: 3, Pixels: img, Labels: []int{0}}
	run := func(seed uint64) []float32 {
		idx := make([]int, 16)
		x, err := Batch(ds, idx, Preprocess{PadCrop: 1, HFlip: true, Rand: rand.New(rand.NewPCG(seed, 0))}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	a, b := run(1), run(1)
	differs := false
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different augmentation")
		}
		if !near(float64(a[i]), float64(img[i%9])/255, 1e-6) {
			differs = true
		}
	}
	if !differs {
		t.Fatal("augmentation left all 16 copies unchanged")
	}
}

func TestBatchReusesDst(t *testing.T) {
	ds := constDataset(1, 28, 28, 1, 2)
	buf := make([]float32, 0, 10000)
	x, err := Batch(ds, []int{0, 1}, Preprocess{Height: 32, Width: 32}, buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(x) != 2*32*32 || &x[0] != &buf[:1][0] {
		t.Fatal("dst not reused")
	}
}

func BenchmarkBatch256Gray28To32x3(b *testing.B) {
	ds := synthetic(256, 10, false)
	ds.H, ds.W = 28, 28
	ds.Pixels = make([]uint8, 256*28*28)
	for i := range ds.Pixels {
		ds.Pixels[i] = uint8(i * 7)
	}
	idx := make([]int, 256)
	for i := range idx {
		idx[i] = i
	}
	for _, interp := range []Interp{Bilinear, Bicubic} {
		b.Run(interp.String(), func(b *testing.B) {
			opts := Preprocess{Channels: 3, Height: 32, Width: 32, Interp: interp, Mean: ImageNetMean, Std: ImageNetStd}
			var dst []float32
			for b.Loop() {
				var err error
				if dst, err = Batch(ds, idx, opts, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("224", func(b *testing.B) {
		opts := Preprocess{Channels: 3, Height: 224, Width: 224, Interp: Bicubic, Mean: ImageNetMean, Std: ImageNetStd}
		var dst []float32
		for b.Loop() {
			var err error
			if dst, err = Batch(ds, idx[:32], opts, dst); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// With CropPct, Batch resizes as timm's evaluation transform: the same
// pixels as the loaders' uint8 path (resizeCropU8), within rounding; an
// image already at the model's size is taken as it is.
func TestBatchCrop(t *testing.T) {
	const h, w = 37, 53
	px := make([]uint8, h*w)
	for y := range h {
		for x := range w {
			px[y*w+x] = uint8(128 + 60*math.Sin(float64(x)/3) + 50*math.Cos(float64(y)/4))
		}
	}
	ds, err := FromArrays("one", []string{"a"}, 1, h, w, px, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Batch(ds, []int{0}, Preprocess{Height: 24, Width: 24, Interp: Bicubic, CropPct: 0.9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := resizeCropU8(px, 1, h, w, 24, 24, Bicubic, 0.9)
	for i := range want {
		if d := math.Abs(float64(got[i])*255 - float64(want[i])); d > 0.51 {
			t.Fatalf("pixel %d: %v, the loaders' path %d", i, got[i]*255, want[i])
		}
	}
	same, err := Batch(ds, []int{0}, Preprocess{Height: h, Width: w, Interp: Bicubic, CropPct: 0.9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range px {
		if same[i]*255 != float32(px[i]) && math.Abs(float64(same[i])*255-float64(px[i])) > 1e-3 {
			t.Fatalf("an image at the model's size was changed: pixel %d %v, was %d", i, same[i]*255, px[i])
		}
	}
}
