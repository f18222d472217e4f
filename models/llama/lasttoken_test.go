package llama

import (
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/floatcmp"
	"github.com/glora/glora/method/glora/gloratest"
	"github.com/glora/glora/tensor"
)

// A classifier whose last layer runs at each row's last token alone gives
// the logits and every trainable tensor the gradient of the whole last
// layer indexed there, to float32 rounding: on rows of one token, some,
// and all T, with grouped-query heads, on the decoder alone and with GLoRA
// layers of random structures in its projections, with and without
// recomputation.
func TestLastTokenLayerKeepsLogitsAndGradients(t *testing.T) {
	run := func(last, rec bool, seed uint64, withGLoRA bool) (logits []float32, grads [][]float32) {
		defer func(o1, o2 bool) { lastOnly, recompute = o1, o2 }(lastOnly, recompute)
		lastOnly, recompute = last, rec
		cfg := Tiny()
		cfg.KVHeads = cfg.Heads / 2
		m, err := New(cfg, rand.New(rand.NewPCG(seed, 1)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewClassifier(m, 3, rand.New(rand.NewPCG(seed, 2)))
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(seed, 9))
		params := c.Params()
		if withGLoRA {
			sn, err := gloratest.Random(m, seed, rng)
			if err != nil {
				t.Fatal(err)
			}
			params = sn.Trainable()
		}
		const B, T = 3, 7
		x := tensor.New(B, T)
		for b, n := range []int{1, 4, T} {
			for i := 0; i < T; i++ {
				x.Data[b*T+i] = PadID
				if i < n {
					x.Data[b*T+i] = float32(rng.IntN(cfg.VocabSize))
				}
			}
		}
		tp := ag.NewTape()
		y := c.Forward(tp, ag.NewVar(x, false), nil)
		if err := tp.Backward(tp.SumAll(tp.Mul(y, y))); err != nil {
			t.Fatal(err)
		}
		for _, p := range params {
			if p.Grad != nil {
				grads = append(grads, slices.Clone(p.Grad.Data))
			}
		}
		return slices.Clone(y.Value.Data), grads
	}
	for seed := uint64(1); seed <= 3; seed++ {
		for _, withGLoRA := range []bool{false, true} {
			for _, rec := range []bool{false, true} {
				wl, wg := run(false, rec, seed, withGLoRA)
				gl, gg := run(true, rec, seed, withGLoRA)
				if d := floatcmp.Paths(gl, wl, gg, wg, 1e-5); d != "" {
					t.Fatalf("seed %d, GLoRA %v, recompute %v: %s", seed, withGLoRA, rec, d)
				}
			}
		}
	}
}

// BenchmarkClassifierLastLayer times a classifier's training step
// (forward and backward, every parameter trainable) on the shipped LM's
// shape (width 192, 4 layers, 6 heads over 2 key/value heads), 8 rows of
// 65–128 tokens, with the last layer at every position (all) and at each
// row's last token alone (last, the default).
func BenchmarkClassifierLastLayer(b *testing.B) {
	cfg := Config{VocabSize: 2048, Dim: 192, Hidden: 512, Layers: 4, Heads: 6, KVHeads: 2, MaxSeq: 128,
		NormEps: 1e-5, RopeTheta: 10000, BOS: 1, EOS: 2, TiedEmbed: true}
	m, err := New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewClassifier(m, 2, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		b.Fatal(err)
	}
	const B, T = 8, 128
	rng := rand.New(rand.NewPCG(5, 6))
	x := tensor.New(B, T)
	for r := 0; r < B; r++ {
		n := 65 + rng.IntN(T-64)
		for i := 0; i < T; i++ {
			x.Data[r*T+i] = PadID
			if i < n {
				x.Data[r*T+i] = float32(rng.IntN(cfg.VocabSize))
			}
		}
	}
	for _, last := range []bool{false, true} {
		b.Run(map[bool]string{false: "all", true: "last"}[last], func(b *testing.B) {
			defer func(old bool) { lastOnly = old }(lastOnly)
			lastOnly = last
			tp := ag.NewTape()
			for i := 0; i < b.N; i++ {
				tp.Reset()
				y := c.Forward(tp, ag.NewVar(x, false), nil)
				if err := tp.Backward(tp.SumAll(tp.Mul(y, y))); err != nil {
					b.Fatal(err)
				}
				for _, p := range c.Params() {
					p.ZeroGrad()
				}
			}
		})
	}
}
