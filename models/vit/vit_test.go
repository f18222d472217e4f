package vit

import (
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/method/glora/gloratest"
	"github.com/glora/glora/tensor"
)

// The LayerNorm and GELU outputs, recomputed in the backward pass instead
// of kept, and the residual branches' outputs, discarded, give every
// parameter the same gradient bit for bit (a backward that read a
// discarded value would find no data and fail).
func TestRecomputationKeepsGradients(t *testing.T) {
	step := func(on bool) [][]float32 {
		defer func(old bool) { recompute = old }(recompute)
		recompute = on
		m := microModel(t, 3)
		for _, blk := range m.Blocks {
			blk.dropPath = 0.3 // the residual branches go through DropPath too
		}
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

// The same with GLoRA layers in every Linear slot (their backward reads
// the recomputed inputs too), for several random structures: every
// support tensor's gradient is the same bit for bit.
func TestRecomputationKeepsGLoRAGradients(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		step := func(on bool) [][]float32 {
			defer func(old bool) { recompute = old }(recompute)
			recompute = on
			m := microModel(t, 3)
			rng := rand.New(rand.NewPCG(seed, 9))
			sn, err := gloratest.Random(m, seed, rng)
			if err != nil {
				t.Fatal(err)
			}
			img := tensor.New(3, m.Cfg.InChans, m.Cfg.ImageSize, m.Cfg.ImageSize)
			for i := range img.Data {
				img.Data[i] = float32(rng.NormFloat64())
			}
			tp := ag.NewTape()
			out := m.Forward(tp, ag.NewVar(img, false), nil)
			if err := tp.Backward(tp.SumAll(tp.Mul(out, out))); err != nil {
				t.Fatal(err)
			}
			var g [][]float32
			for _, p := range sn.Trainable() {
				if p.Grad != nil {
					g = append(g, slices.Clone(p.Grad.Data))
				}
			}
			return g
		}
		want, got := step(false), step(true)
		if len(want) == 0 || len(got) != len(want) {
			t.Fatalf("seed %d: %d and %d support gradients", seed, len(got), len(want))
		}
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("seed %d, support tensor %d: gradients differ with the activations recomputed", seed, i)
			}
		}
	}
}

// A clone holds the same values and computes the same logits, and
// changing it leaves the original alone.
func TestClone(t *testing.T) {
	cfg, err := Preset("vit-micro")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DropPath = 0.1
	m, err := New(cfg, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	m.Store.Freeze("blocks.0.**")
	c, err := m.Clone()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range m.Store.Params() {
		w, ok := c.Store.Get(v.Name)
		if !ok || !slices.Equal(v.Value.Data, w.Value.Data) || v.RequiresGrad != w.RequiresGrad || &v.Value.Data[0] == &w.Value.Data[0] {
			t.Fatalf("%s: not an equal, separate copy", v.Name)
		}
	}
	x := ag.NewVar(tensor.New(2, cfg.InChans, cfg.ImageSize, cfg.ImageSize), false)
	for i := range x.Value.Data {
		x.Value.Data[i] = float32(i%7) / 7
	}
	logits := func(mm *Model) []float32 {
		tp := ag.NewTape()
		tp.NoGrad = true
		return slices.Clone(mm.Forward(tp, x, nil).Value.Data)
	}
	if !slices.Equal(logits(m), logits(c)) {
		t.Fatal("the clone's logits differ")
	}
	c.Head.W.Value.Data[0] += 1
	if m.Head.W.Value.Data[0] == c.Head.W.Value.Data[0] {
		t.Fatal("changing the clone changed the original")
	}
}
