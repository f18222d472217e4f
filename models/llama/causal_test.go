package llama

import (
	"fmt"
	"math/rand/v2"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// TestCausalLMLoss checks Loss (the output layer and the loss fused)
// against nn.CrossEntropy of Forward's logits: the loss, the count of
// correct positions and every parameter's gradient, for tied and untied
// embeddings, a vocabulary of narrow and of wide rows, and an output layer
// an adapter wraps (which Loss runs unfused).
func TestCausalLMLoss(t *testing.T) {
	const B, T = 3, 5
	for _, vocab := range []int{64, 1100} {
		for _, tied := range []bool{false, true} {
			for _, wrapped := range []bool{false, true} {
				cfg := Tiny()
				cfg.VocabSize, cfg.TiedEmbed = vocab, tied
				m, err := New(cfg, rand.New(rand.NewPCG(5, 6)))
				if err != nil {
					t.Fatal(err)
				}
				if wrapped {
					sites := m.Linears()
					head := sites[len(sites)-1]
					head.Set(&scaled{head.Base, 1.5})
				}
				rng := rand.New(rand.NewPCG(7, 8))
				x := tensor.New(B, T)
				labels := make([]int, B*T)
				for i := range x.Data {
					x.Data[i] = float32(rng.IntN(vocab))
					labels[i] = rng.IntN(vocab)
				}
				lm := CausalLM{Model: m}
				run := func(fused bool) (float32, int, [][]float32) {
					for _, p := range lm.Params() {
						p.ZeroGrad()
					}
					tp := ag.NewTape()
					var loss *ag.Var
					var correct int
					if fused {
						loss, correct = lm.Loss(tp, ag.NewVar(x, false), labels, 0.1, nil)
					} else {
						logits := lm.Forward(tp, ag.NewVar(x, false), nil)
						loss = nn.CrossEntropy(tp, logits, labels, 0.1)
						correct = nn.CountCorrect(logits.Value, labels)
					}
					if err := tp.Backward(loss); err != nil {
						t.Fatal(err)
					}
					var grads [][]float32
					for _, p := range lm.Params() {
						grads = append(grads, append([]float32(nil), p.Grad.Data...))
					}
					return loss.Value.Data[0], correct, grads
				}
				l0, c0, g0 := run(false)
				l1, c1, g1 := run(true)
				name := fmt.Sprintf("vocab %d, tied %v, wrapped %v", vocab, tied, wrapped)
				if c0 != c1 {
					t.Fatalf("%s: %d positions correct, unfused %d", name, c1, c0)
				}
				checkClose(t, name+": loss", []float32{l1}, []float32{l0}, 1e-6)
				for i, p := range lm.Params() {
					checkClose(t, name+": "+p.Name, g1[i], g0[i], 1e-5)
				}
			}
		}
	}
}

// scaled is an adapter stand-in on the output layer: its output times k.
type scaled struct {
	base nn.Layer
	k    float32
}

func (s *scaled) Forward(tp *ag.Tape, x *ag.Var) *ag.Var { return tp.Scale(s.base.Forward(tp, x), s.k) }
