package vit

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
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
				if !close(gl, wl, peak(wl)) {
					t.Fatalf("seed %d, adapted %v, recompute %v: logits %v, want %v", seed, adapt, rec, gl, wl)
				}
				if len(wg) == 0 || len(gg) != len(wg) {
					t.Fatalf("seed %d, adapted %v: %d and %d gradients", seed, adapt, len(gg), len(wg))
				}
				var scale float64 // a gradient whose terms cancel to about 0 is compared at the largest one's scale
				for _, g := range wg {
					scale = max(scale, peak(g))
				}
				for i := range wg {
					if !close(gg[i], wg[i], scale) {
						t.Fatalf("seed %d, adapted %v, recompute %v, parameter %d: gradients differ: %v, want %v", seed, adapt, rec, i, gg[i], wg[i])
					}
				}
			}
		}
	}
}

// close reports whether got is want to within 1e-5·scale, element by
// element.
func close(got, want []float32, scale float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if math.Abs(float64(got[i])-float64(want[i])) > 1e-5*scale {
			return false
		}
	}
	return true
}

// peak is the largest magnitude in x.
func peak(x []float32) float64 {
	var p float64
	for _, v := range x {
		p = max(p, math.Abs(float64(v)))
	}
	return p
}
