package glora

import (
	"math/rand/v2"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
)

// benchLayer times one forward + backward pass of a ViT-Tiny qkv-sized
// layer (batch 32 × 197 tokens, 192 → 576) with x requiring a gradient.
func benchLayer(b *testing.B, lc *LayerChoice) {
	const n, in, out, R = 32 * 197, 192, 576, 8
	rng := rand.New(rand.NewPCG(1, 1))
	base := testBase(rng, out, in, true)
	var f func(tp *ag.Tape, x *ag.Var) *ag.Var
	if lc == nil { // full fine-tuning: a Linear whose weight and bias train
		base.W.RequiresGrad, base.B.RequiresGrad = true, true
		f = (*nn.Linear)(base).Forward
	} else {
		l, err := NewLayer("qkv", base, R, rng)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.SetChoice(*lc); err != nil {
			b.Fatal(err)
		}
		f = l.Forward
	}
	x := ag.NewVar(randTensor(rng, 1, n, in), true)
	tp := ag.NewTape()
	b.ResetTimer()
	for range b.N {
		tp.Reset()
		y := f(tp, x)
		y.Grad = tp.Alloc(y.Value.Shape...)
		if err := tp.Backward(tp.SumAll(y)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLayerFullFineTuning(b *testing.B) { benchLayer(b, nil) }
func BenchmarkLayerBiasOnly(b *testing.B) {
	benchLayer(b, &LayerChoice{C: ChoiceVector, D: ChoiceVector, E: ChoiceVector})
}
func BenchmarkLayerAVector(b *testing.B) {
	benchLayer(b, &LayerChoice{A: ChoiceVector, E: ChoiceVector})
}
func BenchmarkLayerBVector(b *testing.B) {
	benchLayer(b, &LayerChoice{B: ChoiceVector, E: ChoiceVector})
}
func BenchmarkLayerBLoRA(b *testing.B) { benchLayer(b, &LayerChoice{B: LoRAChoice(8)}) }
func BenchmarkLayerALoRA(b *testing.B) {
	benchLayer(b, &LayerChoice{A: LoRAChoice(8), E: ChoiceVector})
}
