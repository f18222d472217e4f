package vit

import (
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// The LayerNorm and GELU outputs, recomputed in the backward pass instead
// of kept, give every parameter the same gradient bit for bit.
func TestRecomputationKeepsGradients(t *testing.T) {
	step := func(on bool) [][]float32 {
		defer func(old bool) { recompute = old }(recompute)
		recompute = on
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
			t.Fatalf("parameter %d: gradients differ with the activations recomputed", i)
		}
	}
}
