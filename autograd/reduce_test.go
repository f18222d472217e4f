package autograd

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/glora/glora/tensor"
)

func TestReduceGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	ops := []struct {
		name string
		f    func(tp *Tape, a *Var, axis int, keep bool) *Var
	}{{"sum", (*Tape).Sum}, {"mean", (*Tape).Mean}, {"max", (*Tape).Max}}
	for _, op := range ops {
		for _, shape := range [][]int{{2, 3, 4}, {5}, {40, 600}} {
			for axis := -len(shape); axis < len(shape); axis++ {
				for _, keep := range []bool{false, true} {
					x := randVar(rng, true, shape...)
					if op.name == "max" {
						distinctValues(rng, x)
					}
					name := fmt.Sprintf("%s%s axis %d keep %v", op.name, tensor.ShapeString(shape), axis, keep)
					checkGrad(t, name, 1e-3, func(tp *Tape, in []*Var) *Var { return op.f(tp, in[0], axis, keep) }, x)
				}
			}
		}
	}
	for _, shape := range [][]int{{2, 3, 4}, {}, {100, 300}} {
		x := randVar(rng, true, shape...)
		checkGrad(t, "sumall"+tensor.ShapeString(shape), 1e-2, func(tp *Tape, in []*Var) *Var { return tp.SumAll(in[0]) }, x)
		checkGrad(t, "meanall"+tensor.ShapeString(shape), 1e-2, func(tp *Tape, in []*Var) *Var { return tp.MeanAll(in[0]) }, x)
	}
}

// distinctValues overwrites v with a shuffled ramp spaced 0.05 apart, so that
// finite differences never cross a tie of Max.
func distinctValues(rng *rand.Rand, v *Var) {
	for i, j := range rng.Perm(v.Value.Numel()) {
		v.Value.Data[i] = 0.05*float32(j) - 1
	}
}

func TestReduceForward(t *testing.T) {
	tp := NewTape()
	// a: (2,3)
	a := NewVar(mustTensor(t, []float32{1, 5, 3, 4, 2, 6}, 2, 3), true)
	assertClose(t, "sum 0", tp.Sum(a, 0, false).Value, []int{3}, []float32{5, 7, 9})
	assertClose(t, "sum -1 keep", tp.Sum(a, -1, true).Value, []int{2, 1}, []float32{9, 12})
	assertClose(t, "mean 1", tp.Mean(a, 1, false).Value, []int{2}, []float32{3, 4})
	assertClose(t, "mean 0 keep", tp.Mean(a, 0, true).Value, []int{1, 3}, []float32{2.5, 3.5, 4.5})
	assertClose(t, "max 1", tp.Max(a, 1, false).Value, []int{2}, []float32{5, 6})
	assertClose(t, "max 0", tp.Max(a, 0, false).Value, []int{3}, []float32{4, 5, 6})
	assertClose(t, "sumall", tp.SumAll(a).Value, []int{}, []float32{21})
	assertClose(t, "meanall", tp.MeanAll(a).Value, []int{}, []float32{3.5})
	if tp.Err() != nil {
		t.Fatal(tp.Err())
	}
}

func TestMaxTiesGoToFirst(t *testing.T) {
	// x: (2,4) with ties in each row (along axis 1) and along axis 0
	x := NewVar(mustTensor(t, []float32{3, 1, 3, 3, 3, 7, 0, 7}, 2, 4), true)
	tp := NewTape()
	if err := tp.Backward(tp.SumAll(tp.Max(x, 1, false))); err != nil {
		t.Fatal(err)
	}
	assertClose(t, "dx axis 1", x.Grad, []int{2, 4}, []float32{1, 0, 0, 0, 0, 1, 0, 0})
	x.ZeroGrad()
	tp = NewTape()
	if err := tp.Backward(tp.SumAll(tp.Max(x, 0, true))); err != nil {
		t.Fatal(err)
	}
	// columns: (3,3)→first, (1,7)→second, (3,0)→first, (3,7)→second
	assertClose(t, "dx axis 0", x.Grad, []int{2, 4}, []float32{1, 0, 1, 0, 0, 1, 0, 1})
}

func TestReduceShapeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, f := range []func(tp *Tape, a *Var) *Var{
		func(tp *Tape, a *Var) *Var { return tp.Sum(a, 2, false) },
		func(tp *Tape, a *Var) *Var { return tp.Mean(a, -3, true) },
		func(tp *Tape, a *Var) *Var { return tp.Max(a, 5, false) },
	} {
		tp := NewTape()
		f(tp, randVar(rng, true, 2, 3))
		wantShapeError(t, tp, []int{2, 3})
	}
	tp := NewTape()
	tp.Max(randVar(rng, true, 2, 0), 1, false)
	wantShapeError(t, tp, []int{2, 0})
}
