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

// classifierPaths runs a classifier of seed (grouped-query heads; with
// withGLoRA, GLoRA layers of random structures in its projections) on
// rows of lens tokens, padded to the longest, and returns its logits and
// the gradients of its trainable tensors, for a loss that weighs the
// logits unequally (a row put in another row's place changes them).
func classifierPaths(t *testing.T, seed uint64, withGLoRA bool, lens []int) (logits []float32, grads [][]float32) {
	t.Helper()
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
	x := paddedBatch(rng, lens, cfg.VocabSize)
	tp := ag.NewTape()
	y := c.Forward(tp, ag.NewVar(x, false), nil)
	w := tensor.New(y.Value.Shape...)
	for i := range w.Data {
		w.Data[i] = float32(i%7) - 3
	}
	if err := tp.Backward(tp.SumAll(tp.Mul(tp.Mul(y, y), tp.Wrap(w)))); err != nil {
		t.Fatal(err)
	}
	for _, p := range params {
		if p.Grad != nil {
			grads = append(grads, slices.Clone(p.Grad.Data))
		}
	}
	return slices.Clone(y.Value.Data), grads
}

// A classifier whose last layer runs at each row's last token alone gives
// the logits and every trainable tensor the gradient of the whole last
// layer indexed there, to float32 rounding: on rows of one token, some,
// and all T, with grouped-query heads, on the decoder alone and with GLoRA
// layers of random structures in its projections, with and without
// recomputation.
func TestLastTokenLayerKeepsLogitsAndGradients(t *testing.T) {
	run := func(last, rec bool, seed uint64, withGLoRA bool) ([]float32, [][]float32) {
		defer func(o1, o2 bool) { lastOnly, recompute = o1, o2 }(lastOnly, recompute)
		lastOnly, recompute = last, rec
		return classifierPaths(t, seed, withGLoRA, []int{1, 4, 7})
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

// benchClassifier is a classifier of 2 classes on a decoder of the shipped
// LM's shape (width 192, 4 layers, 6 heads over 2 key/value heads, 128
// positions), random weights, and a batch of rows of lens tokens (random
// ids), padded to the longest.
func benchClassifier(b *testing.B, lens []int) (*Classifier, *tensor.Tensor) {
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
	return c, paddedBatch(rand.New(rand.NewPCG(5, 6)), lens, cfg.VocabSize)
}

// paddedBatch is a classifier batch of rows of lens random tokens (ids
// below vocab), padded to the longest with PadID.
func paddedBatch(rng *rand.Rand, lens []int, vocab int) *tensor.Tensor {
	B, T := len(lens), slices.Max(lens)
	x := tensor.New(B, T)
	for b, n := range lens {
		for i := 0; i < T; i++ {
			x.Data[b*T+i] = PadID
			if i < n {
				x.Data[b*T+i] = float32(rng.IntN(vocab))
			}
		}
	}
	return x
}

// benchClassifierSteps times b.N training steps of c on x: forward,
// backward, every parameter trainable.
func benchClassifierSteps(b *testing.B, c *Classifier, x *tensor.Tensor) {
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
}

// BenchmarkClassifierLastLayer times a classifier's training step
// (benchClassifier's shape), 8 rows of 65–128 tokens padded to the longest
// (no length groups), with the last layer at every position (all) and at
// each row's last token alone (last, the default).
func BenchmarkClassifierLastLayer(b *testing.B) {
	defer func(old bool) { byLength = old }(byLength)
	byLength = false
	rng := rand.New(rand.NewPCG(7, 8))
	lens := make([]int, 8)
	for r := range lens {
		lens[r] = 65 + rng.IntN(64)
	}
	c, x := benchClassifier(b, lens)
	for _, last := range []bool{false, true} {
		b.Run(map[bool]string{false: "all", true: "last"}[last], func(b *testing.B) {
			defer func(old bool) { lastOnly = old }(lastOnly)
			lastOnly = last
			benchClassifierSteps(b, c, x)
		})
	}
}
