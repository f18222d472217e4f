package vit

import (
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/floatcmp"
	"github.com/glora/glora/method/glora/gloratest"
	"github.com/glora/glora/tensor"
)

// The last block computed at the cls token alone gives the logits and every
// parameter the gradient of the whole block indexed at token 0, to float32
// rounding (its products have other shapes, so the kernels may sum in
// another order): a plain model with drop-path (both residual branches
// draw their masks in the same order) and GLoRA layers of random
// structures in every Linear slot, each with and without recomputation.
func TestFirstTokenBlockKeepsOutputAndGradients(t *testing.T) {
	step := func(first, rec bool, seed uint64, adapt bool) (logits []float32, grads [][]float32) {
		defer func(o1, o2 bool) { clsOnly, recompute = o1, o2 }(clsOnly, recompute)
		clsOnly, recompute = first, rec
		m := microModel(t, 3)
		rng := rand.New(rand.NewPCG(seed, 9))
		params := m.Store.Params()
		if adapt {
			sn, err := gloratest.Random(m, seed, rng)
			if err != nil {
				t.Fatal(err)
			}
			params = sn.Trainable()
		} else {
			for _, blk := range m.Blocks {
				blk.dropPath = 0.3
			}
		}
		img := tensor.New(3, m.Cfg.InChans, m.Cfg.ImageSize, m.Cfg.ImageSize)
		for i := range img.Data {
			img.Data[i] = float32(rng.NormFloat64())
		}
		tp := ag.NewTape()
		out := m.Forward(tp, ag.NewVar(img, false), rand.New(rand.NewPCG(5, seed)))
		if err := tp.Backward(tp.SumAll(tp.Mul(out, out))); err != nil {
			t.Fatal(err)
		}
		for _, p := range params {
			if p.Grad != nil {
				grads = append(grads, slices.Clone(p.Grad.Data))
			}
		}
		return slices.Clone(out.Value.Data), grads
	}
	for seed := uint64(1); seed <= 4; seed++ {
		for _, adapt := range []bool{false, true} {
			for _, rec := range []bool{false, true} {
				wl, wg := step(false, rec, seed, adapt)
				gl, gg := step(true, rec, seed, adapt)
				if d := floatcmp.Paths(gl, wl, gg, wg, 1e-5); d != "" {
					t.Fatalf("seed %d, adapted %v, recompute %v: %s", seed, adapt, rec, d)
				}
			}
		}
	}
}

// BenchmarkLastBlock times a training step (forward and backward, every
// parameter trainable) and a forward pass of the shipped backbone's
// architecture at batch 32, with the last block computed at every token
// (all) and at the cls token alone (first, the default). go test
// -bench LastBlock -count 10 and benchstat compare them.
func BenchmarkLastBlock(b *testing.B) {
	cfg, err := Preset("vit-fmnist-arch")
	if err != nil {
		b.Fatal(err)
	}
	cfg.NumClasses = 10
	m, err := New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		b.Fatal(err)
	}
	img := tensor.New(32, cfg.InChans, cfg.ImageSize, cfg.ImageSize)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Data {
		img.Data[i] = float32(rng.NormFloat64())
	}
	x := ag.NewVar(img, false)
	for _, train := range []bool{true, false} {
		for _, first := range []bool{false, true} {
			name := map[bool]string{true: "train", false: "forward"}[train] + "/" + map[bool]string{true: "first", false: "all"}[first]
			b.Run(name, func(b *testing.B) {
				defer func(old bool) { clsOnly = old }(clsOnly)
				clsOnly = first
				tp := ag.NewTape()
				for i := 0; i < b.N; i++ {
					tp.Reset()
					tp.NoGrad = !train
					out := m.Forward(tp, x, nil)
					if train {
						if err := tp.Backward(tp.SumAll(tp.Mul(out, out))); err != nil {
							b.Fatal(err)
						}
						for _, p := range m.Params() {
							p.ZeroGrad()
						}
					}
				}
			})
		}
	}
}
