package nn

import (
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
)

// naiveConvTokens is a direct Conv2d (stride = kernel = p, no padding) in
// float64, its output (B,D,Ho,Wo) flattened and transposed to (B,Ho·Wo,D).
func naiveConvTokens(img, w, bias []float32, b, cin, h, wd, dim, p int) []float64 {
	ho, wo := h/p, wd/p
	conv := make([]float64, b*dim*ho*wo) // (B,D,Ho,Wo)
	for bi := 0; bi < b; bi++ {
		for o := 0; o < dim; o++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					var s float64
					if bias != nil {
						s = float64(bias[o])
					}
					for c := 0; c < cin; c++ {
						for ky := 0; ky < p; ky++ {
							for kx := 0; kx < p; kx++ {
								iy, ix := oy*p+ky, ox*p+kx
								s += float64(w[((o*cin+c)*p+ky)*p+kx]) * float64(img[((bi*cin+c)*h+iy)*wd+ix])
							}
						}
					}
					conv[((bi*dim+o)*ho+oy)*wo+ox] = s
				}
			}
		}
	}
	out := make([]float64, len(conv))
	for bi := 0; bi < b; bi++ {
		for o := 0; o < dim; o++ {
			for n := 0; n < ho*wo; n++ {
				out[(bi*ho*wo+n)*dim+o] = conv[(bi*dim+o)*ho*wo+n]
			}
		}
	}
	return out
}

func TestPatchEmbedForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 6))
	const b, cin, h, wd, dim, p = 2, 3, 8, 12, 5, 4
	img := randVar(rng, false, 1, b, cin, h, wd)
	w := randVar(rng, false, 1, dim, cin, p, p)
	bias := randVar(rng, false, 1, dim)
	tp := ag.NewTape()
	y := PatchEmbed(tp, img, w, bias, p)
	if tp.Err() != nil {
		t.Fatal(tp.Err())
	}
	if s := y.Value.Shape; len(s) != 3 || s[0] != b || s[1] != (h/p)*(wd/p) || s[2] != dim {
		t.Fatalf("shape %v", s)
	}
	checkClose(t, "patchembed", y.Value.Data, naiveConvTokens(img.Value.Data, w.Value.Data, bias.Value.Data, b, cin, h, wd, dim, p), 1e-5, 1e-4)
	y = PatchEmbed(tp, img, w, nil, p)
	checkClose(t, "patchembed no bias", y.Value.Data, naiveConvTokens(img.Value.Data, w.Value.Data, nil, b, cin, h, wd, dim, p), 1e-5, 1e-4)
}

// PatchEmbedEach hands over, chunk by chunk, the rows PatchEmbed makes, to
// the bit, with and without a bias (200 images of 6 patches: chunks of 171
// and 29 images); it refuses an operand that needs a gradient on a tape
// that records, and accepts one on a tape that does not.
func TestPatchEmbedEach(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 6))
	const b, cin, h, wd, dim, p = 200, 3, 8, 12, 5, 4
	img := randVar(rng, false, 1, b, cin, h, wd)
	w := randVar(rng, false, 1, dim, cin, p, p)
	for _, bias := range []*ag.Var{randVar(rng, false, 1, dim), nil} {
		tp := ag.NewTape()
		want := PatchEmbed(tp, img, w, bias, p).Value.Data
		got := make([]float32, len(want))
		next, calls := 0, 0
		err := PatchEmbedEach(tp, img, w, bias, p, func(b0, b1 int, y []float32) {
			if b0 != next || b1 <= b0 || len(y) != (b1-b0)*6*dim {
				t.Fatalf("chunk [%d, %d) of %d floats after image %d", b0, b1, len(y), next)
			}
			copy(got[b0*6*dim:], y)
			next, calls = b1, calls+1
		})
		if err != nil || next != b || calls < 2 {
			t.Fatalf("err %v, %d images in %d chunks", err, next, calls)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("bias %v: element %d: %g, want %g", bias != nil, i, got[i], want[i])
			}
		}
	}
	// more patches an image than a chunk's rows: one image at a time
	bigImg, bigW := randVar(rng, false, 1, 3, 1, 33, 33), randVar(rng, false, 1, 2, 1, 1, 1)
	tp := ag.NewTape()
	want := PatchEmbed(tp, bigImg, bigW, nil, 1).Value.Data
	var got []float32
	if err := PatchEmbedEach(tp, bigImg, bigW, nil, 1, func(b0, b1 int, y []float32) {
		if b1 != b0+1 {
			t.Fatalf("1089 patches an image: a chunk of images [%d, %d)", b0, b1)
		}
		got = append(got, y...)
	}); err != nil || !slices.Equal(got, want) {
		t.Fatalf("1089 patches an image: err %v, the tokens differ", err)
	}
	wg := randVar(rng, true, 1, dim, cin, p, p)
	if err := PatchEmbedEach(ag.NewTape(), img, wg, nil, p, func(int, int, []float32) {}); err == nil {
		t.Fatal("a weight that needs a gradient was accepted on a recording tape")
	}
	tp = ag.NewTape()
	tp.NoGrad = true
	if err := PatchEmbedEach(tp, img, wg, nil, p, func(int, int, []float32) {}); err != nil {
		t.Fatalf("without gradients: %v", err)
	}
	if err := PatchEmbedEach(ag.NewTape(), img, w, nil, 5, func(int, int, []float32) {}); err == nil {
		t.Fatal("a patch size that does not divide the image was accepted")
	}
}

func TestPatchEmbedGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 6))
	img := randVar(rng, true, 1, 2, 2, 4, 6)
	w := randVar(rng, true, 1, 3, 2, 2, 2)
	bias := randVar(rng, true, 1, 3)
	gradCheck(t, "patchembed", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
		return PatchEmbed(tp, in[0], in[1], in[2], 2)
	}, img, w, bias)
}

func TestPatchEmbedShapeErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	img := randVar(rng, true, 1, 1, 3, 8, 8)
	for _, c := range []struct {
		name  string
		w, b  *ag.Var
		patch int
	}{
		{"H not divisible", randVar(rng, true, 1, 4, 3, 3, 3), nil, 3},
		{"kernel vs patch", randVar(rng, true, 1, 4, 3, 2, 2), nil, 4},
		{"channels", randVar(rng, true, 1, 4, 1, 4, 4), nil, 4},
		{"bias", randVar(rng, true, 1, 4, 3, 4, 4), randVar(rng, true, 1, 5), 4},
		{"patch 0", randVar(rng, true, 1, 4, 3, 4, 4), nil, 0},
	} {
		tp := ag.NewTape()
		PatchEmbed(tp, img, c.w, c.b, c.patch)
		wantShapeErr(t, c.name, tp)
	}
	tp := ag.NewTape()
	PatchEmbed(tp, randVar(rng, true, 1, 3, 8, 8), randVar(rng, true, 1, 4, 3, 4, 4), nil, 4)
	wantShapeErr(t, "image rank", tp)
}
