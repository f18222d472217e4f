package vit

import (
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// A frozen patch embedding written image chunk by image chunk into the
// token tensor (nn.PatchEmbedEach) gives the same floats as PatchEmbed and
// embedTokens: the logits of a forward pass without gradients, and the
// logits and every gradient of a training step that tunes the cls token,
// the position embedding and the blocks but not the patch embedding. 70
// images of 16 patches are two chunks (64 and 6 images).
func TestFrozenPatchTokensKeepFloats(t *testing.T) {
	for _, train := range []bool{false, true} {
		run := func(each bool) (logits []float32, grads [][]float32) {
			defer func(o bool) { eachTokens = o }(eachTokens)
			eachTokens = each
			cfg, err := Preset("vit-micro-rgb")
			if err != nil {
				t.Fatal(err)
			}
			m, err := New(cfg, rand.New(rand.NewPCG(3, 1)))
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(3, 2))
			for _, v := range m.Store.Params() {
				for i := range v.Value.Data {
					v.Value.Data[i] = float32(rng.NormFloat64())
				}
			}
			m.PatchW.RequiresGrad, m.PatchB.RequiresGrad = false, false
			img := tensor.New(70, cfg.InChans, cfg.ImageSize, cfg.ImageSize)
			for i := range img.Data {
				img.Data[i] = float32(rng.NormFloat64())
			}
			tp := ag.NewTape()
			tp.NoGrad = !train
			out := m.Forward(tp, ag.NewVar(img, false), nil)
			if err := tp.Err(); err != nil {
				t.Fatal(err)
			}
			if train {
				if err := tp.Backward(tp.SumAll(tp.Mul(out, out))); err != nil {
					t.Fatal(err)
				}
				for _, p := range m.Store.Params() {
					if p.Grad != nil {
						grads = append(grads, slices.Clone(p.Grad.Data))
					}
				}
				if len(grads) == 0 || m.Cls.Grad == nil || m.Pos.Grad == nil || m.PatchW.Grad != nil {
					t.Fatalf("training: %d gradients, cls %v, pos %v, patch weight %v",
						len(grads), m.Cls.Grad != nil, m.Pos.Grad != nil, m.PatchW.Grad != nil)
				}
			}
			return slices.Clone(out.Value.Data), grads
		}
		wl, wg := run(false)
		gl, gg := run(true)
		if !slices.Equal(gl, wl) {
			t.Fatalf("training %v: logits differ", train)
		}
		if len(gg) != len(wg) {
			t.Fatalf("training %v: %d gradients, want %d", train, len(gg), len(wg))
		}
		for i := range wg {
			if !slices.Equal(gg[i], wg[i]) {
				t.Fatalf("training %v: gradient %d differs", train, i)
			}
		}
	}
}
