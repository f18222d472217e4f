package glora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// TestForwardThen: for every path kind and a shape large enough for the
// blocked GEMM drivers, ForwardThen's output is Forward's bit for bit, and
// then sees every element of it exactly once and only once it is final:
// then copies its blocks aside and the copy must equal the finished output
// (A vector with B lora adds B's product after the first GEMM, so then
// must come with the second).
func TestForwardThen(t *testing.T) {
	const n, out, in, R = 150, 72, 64, 4
	rng := rand.New(rand.NewPCG(5, 6))
	choices := append(pathChoices(R, 2), LayerChoice{})
	for _, prec := range []tensor.Precision{tensor.F32, tensor.BF16} {
		for _, grad := range []bool{true, false} {
			for i, lc := range choices {
				for _, bias := range []bool{true, false} {
					if !bias {
						lc = noBias(lc)
					}
					name := fmt.Sprintf("%v grad=%v bias=%v %v", prec, grad, bias, lc)
					l := testLayer(t, out, in, R, bias, uint64(200+i))
					if err := l.SetChoice(lc); err != nil {
						t.Fatal(err)
					}
					x := ag.NewVar(randTensor(rng, 1, n, in), grad)
					run := func(then func(y []float32, i0, i1, j0, j1 int)) []float32 {
						tp := ag.NewTape()
						tp.Precision, tp.NoGrad = prec, !grad
						if then == nil {
							return l.Forward(tp, x).Value.Clone().Data
						}
						return l.ForwardThen(tp, x, then).Value.Clone().Data
					}
					want := run(nil)
					seen := make([]float32, n*out)
					count := make([]atomic.Int32, n*out)
					got := run(func(y []float32, i0, i1, j0, j1 int) {
						for r := i0; r < i1; r++ {
							copy(seen[r*out+j0:r*out+j1], y[r*out+j0:r*out+j1])
							for j := j0; j < j1; j++ {
								count[r*out+j].Add(1)
							}
						}
					})
					for e := range want {
						switch {
						case math.Float32bits(got[e]) != math.Float32bits(want[e]):
							t.Fatalf("%s: y[%d] = %g, Forward gives %g", name, e, got[e], want[e])
						case count[e].Load() != 1:
							t.Fatalf("%s: y[%d] handed to then %d times, want once", name, e, count[e].Load())
						case math.Float32bits(seen[e]) != math.Float32bits(got[e]):
							t.Fatalf("%s: y[%d] was %g when handed to then, final %g", name, e, seen[e], got[e])
						}
					}
				}
			}
		}
	}
}
