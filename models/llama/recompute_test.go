package llama

import (
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/method/glora/gloratest"
	"github.com/glora/glora/tensor"
)

// gradsWith runs one loss and backward pass of a Tiny decoder (tied
// embeddings) with recompute set to on, optionally with GLoRA layers of a
// random structure in every projection, and returns the gradients of the
// parameters that train.
func gradsWith(t *testing.T, on bool, seed uint64, withGLoRA bool) [][]float32 {
	t.Helper()
	defer func(old bool) { recompute = old }(recompute)
	recompute = on
	cfg := Tiny()
	cfg.TiedEmbed = true
	m, err := New(cfg, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 9))
	params := m.Params()
	if withGLoRA {
		sn, err := gloratest.Random(m, seed, rng)
		if err != nil {
			t.Fatal(err)
		}
		params = sn.Trainable()
	}
	const B, T = 2, 7
	x := tensor.New(B, T)
	labels := make([]int, B*T)
	for i := range x.Data {
		x.Data[i] = float32(rng.IntN(cfg.VocabSize))
		labels[i] = rng.IntN(cfg.VocabSize)
	}
	tp := ag.NewTape()
	loss, _ := CausalLM{Model: m}.Loss(tp, ag.NewVar(x, false), labels, 0, nil)
	if err := tp.Backward(loss); err != nil {
		t.Fatal(err)
	}
	var g [][]float32
	for _, p := range params {
		if p.Grad != nil {
			g = append(g, slices.Clone(p.Grad.Data))
		}
	}
	if len(g) == 0 {
		t.Fatal("no gradients")
	}
	return g
}

// The RMSNorm outputs rebuilt in the backward pass and the values no
// backward pass reads released give every parameter the same gradient bit
// for bit, on the decoder alone and with GLoRA layers of several random
// structures in its projections (a backward pass that read a released
// value would find no data and fail).
func TestRecomputationKeepsGradients(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		for _, withGLoRA := range []bool{false, true} {
			want, got := gradsWith(t, false, seed, withGLoRA), gradsWith(t, true, seed, withGLoRA)
			if len(got) != len(want) {
				t.Fatalf("seed %d: %d and %d gradients", seed, len(got), len(want))
			}
			for i := range want {
				if !slices.Equal(got[i], want[i]) {
					t.Fatalf("seed %d, GLoRA %v, parameter %d: gradients differ with the activations recomputed", seed, withGLoRA, i)
				}
			}
		}
	}
}
