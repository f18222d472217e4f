package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
)

// A Linear's backward pass reads its input only for the weight's gradient:
// with x overwritten by NaN after the forward pass, a frozen Linear gives x
// and the bias the same gradients and says it does not read x; a trainable
// one gets a NaN weight gradient and says it does. A layer that cannot say
// is taken to read x.
func TestLinearReadsInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, train := range []bool{false, true} {
		l := &Linear{W: randVar(rng, train, 1, 4, 3), B: randVar(rng, true, 1, 4)}
		x := randVar(rng, true, 1, 2, 3)
		keep := slices.Clone(x.Value.Data)
		run := func(poison bool) (gx, gb []float32, nanW bool) {
			copy(x.Value.Data, keep)
			x.Grad, l.W.Grad, l.B.Grad = nil, nil, nil
			tp := ag.NewTape()
			y := l.Forward(tp, x)
			if poison {
				for i := range x.Value.Data {
					x.Value.Data[i] = float32(math.NaN())
				}
			}
			if err := tp.Backward(tp.SumAll(tp.Mul(y, y))); err != nil {
				t.Fatal(err)
			}
			if l.W.Grad != nil {
				nanW = slices.ContainsFunc(l.W.Grad.Data, func(v float32) bool { return v != v })
			}
			return slices.Clone(x.Grad.Data), slices.Clone(l.B.Grad.Data), nanW
		}
		wx, wb, _ := run(false)
		gx, gb, nanW := run(true)
		if !slices.Equal(gx, wx) || !slices.Equal(gb, wb) || nanW != train || ReadsInput(l) != train {
			t.Fatalf("trainable weight %v: ReadsInput %v; x's gradient same %v, bias's same %v, weight's NaN %v",
				train, ReadsInput(l), slices.Equal(gx, wx), slices.Equal(gb, wb), nanW)
		}
	}
	if !ReadsInput(silentLayer{}) {
		t.Fatal("a layer that cannot say is taken not to read its input")
	}
}

// silentLayer is a Layer that is not an InputReader.
type silentLayer struct{}

func (silentLayer) Forward(tp *ag.Tape, x *ag.Var) *ag.Var { return x }

// DiscardInput discards the input only when none of its layers reads it:
// a frozen Linear's goes (its value has no data), a trainable one's or a
// pair with a reader stays.
func TestDiscardInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	frozen := &Linear{W: randVar(rng, false, 1, 4, 3)}
	trained := &Linear{W: randVar(rng, true, 1, 4, 3)}
	for _, c := range []struct {
		ls   []Layer
		gone bool
	}{{[]Layer{frozen}, true}, {[]Layer{trained}, false}, {[]Layer{frozen, trained}, false}, {[]Layer{frozen, silentLayer{}}, false}} {
		tp := ag.NewTape()
		x := tp.Scale(randVar(rng, true, 1, 2, 3), 2)
		for _, l := range c.ls {
			l.Forward(tp, x)
		}
		if got := DiscardInput(tp, x, c.ls...); got != c.gone || (x.Value.Data == nil) != c.gone {
			t.Fatalf("%d layers: discarded %v (data %v), want %v", len(c.ls), got, x.Value.Data != nil, c.gone)
		}
	}
}
