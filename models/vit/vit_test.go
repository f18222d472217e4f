package vit

import (
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// The MLP's GELU output, recomputed in the backward pass instead of kept,
// gives every parameter the same gradient bit for bit, with drop-path on.
func TestGELURecomputationKeepsGradients(t *testing.T) {
	step := func(recompute bool) [][]float32 {
		defer func(old bool) { recomputeGELU = old }(recomputeGELU)
		recomputeGELU = recompute
		m := microModel(t, 3)
		img := tensor.New(4, m.Cfg.InChans, m.Cfg.ImageSize, m.Cfg.ImageSize)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range img.Data {
			img.Data[i] = float32(rng.NormFloat64())
		}
		tp := ag.NewTape()
		out := m.Forward(tp, ag.NewVar(img, false), rand.New(rand.NewPCG(5, 6)))
		if err := tp.Backward(tp.SumAll(tp.Mul(out, out))); err != nil {
			t.Fatal(err)
		}
		var g [][]float32
		for _, p := range m.Store.Params() {
			if p.Grad == nil {
				t.Fatalf("%s: no gradient", p.Name)
			}
			g = append(g, slices.Clone(p.Grad.Data))
		}
		return g
	}
	want, got := step(false), step(true)
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("parameter %d: gradients differ with the GELU output recomputed", i)
		}
	}
}
