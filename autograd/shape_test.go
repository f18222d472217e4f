package autograd

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/glora/glora/tensor"
)

// ramp returns a Var of the given shape holding 0, 1, 2, … .
func ramp(shape ...int) *Var {
	x := tensor.New(shape...)
	for i := range x.Data {
		x.Data[i] = float32(i)
	}
	return NewVar(x, true)
}

func TestReshape(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	x := randVar(rng, true, 2, 3, 4)
	checkGrad(t, "reshape", 1e-2, func(tp *Tape, in []*Var) *Var { return tp.Reshape(in[0], 4, -1) }, x)
	checkGrad(t, "reshape then mul", 1e-2, func(tp *Tape, in []*Var) *Var {
		y := tp.Reshape(in[0], 6, 4)
		return tp.Mul(y, y)
	}, x)

	tp := NewTape()
	y := tp.Reshape(x, -1, 2)
	if want := []int{12, 2}; fmt.Sprint(y.Value.Shape) != fmt.Sprint(want) {
		t.Fatalf("shape %v, want %v", y.Value.Shape, want)
	}
	if &y.Value.Data[0] != &x.Value.Data[0] {
		t.Error("reshape copied the value; it should share a's data")
	}
	x.ZeroGrad()
	if err := tp.Backward(tp.SumAll(tp.Scale(y, 3))); err != nil {
		t.Fatal(err)
	}
	if y.Grad != nil {
		t.Error("the intermediate gradient of the reshape was kept after Backward")
	}
	if &x.Grad.Data[0] == &x.Value.Data[0] {
		t.Error("the input's gradient aliases its value")
	}
	for i, g := range x.Grad.Data {
		if g != 3 {
			t.Fatalf("dx[%d] = %v, want 3", i, g)
		}
	}

	tp = NewTape()
	tp.Reshape(x, 5, -1)
	wantShapeError(t, tp, []int{2, 3, 4}, []int{5, -1})
}

func TestPermuteTranspose(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	perms := []struct {
		shape, perm []int
	}{
		{[]int{2, 3, 4}, []int{2, 0, 1}},
		{[]int{2, 3, 4}, []int{1, 0, 2}}, // last axis kept: contiguous runs
		{[]int{2, 3, 4, 5}, []int{0, 2, 1, 3}},
		{[]int{2, 3, 4, 5}, []int{-1, 0, -2, 1}},
		{[]int{3, 1, 4}, []int{2, 1, 0}},
		{[]int{40, 500}, []int{1, 0}}, // split across workers
		{[]int{}, []int{}},
	}
	for _, p := range perms {
		x := randVar(rng, true, p.shape...)
		checkGrad(t, fmt.Sprintf("permute%s %v", tensor.ShapeString(p.shape), p.perm), 1e-2,
			func(tp *Tape, in []*Var) *Var { return tp.Permute(in[0], p.perm...) }, x)
	}
	x := randVar(rng, true, 2, 3, 4)
	checkGrad(t, "transpose(0,-1)", 1e-2, func(tp *Tape, in []*Var) *Var { return tp.Transpose(in[0], 0, -1) }, x)

	tp := NewTape()
	// x (2,3): [[0,1,2],[3,4,5]] → xᵀ (3,2): [[0,3],[1,4],[2,5]]
	assertClose(t, "transpose", tp.Transpose(ramp(2, 3), 0, 1).Value, []int{3, 2}, []float32{0, 3, 1, 4, 2, 5})
	// y[i,j,k] = x[j,k,i] for x (2,2,3) = 0…11, perm (2,0,1): y (3,2,2)
	assertClose(t, "permute", tp.Permute(ramp(2, 2, 3), 2, 0, 1).Value, []int{3, 2, 2},
		[]float32{0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11})

	for _, bad := range [][]int{{0, 1}, {0, 1, 1}, {0, 1, 3}, {0, 1, 2, 3}} {
		tp := NewTape()
		tp.Permute(x, bad...)
		wantShapeError(t, tp, []int{2, 3, 4})
	}
	tp = NewTape()
	tp.Transpose(x, 0, 3)
	wantShapeError(t, tp, []int{2, 3, 4})
}

func TestSliceIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	x := randVar(rng, true, 2, 5, 3)
	checkGrad(t, "slice axis 1 [1:4]", 1e-2, func(tp *Tape, in []*Var) *Var { return tp.Slice(in[0], 1, 1, 4) }, x)
	checkGrad(t, "slice axis -1 [2:3]", 1e-2, func(tp *Tape, in []*Var) *Var { return tp.Slice(in[0], -1, 2, 3) }, x)
	checkGrad(t, "slice axis 0 [1:2]", 1e-2, func(tp *Tape, in []*Var) *Var { return tp.Slice(in[0], 0, 1, 2) }, x)
	checkGrad(t, "index axis 1 i 0 (cls)", 1e-2, func(tp *Tape, in []*Var) *Var { return tp.Index(in[0], 1, 0) }, x)
	checkGrad(t, "index axis -1 i -1", 1e-2, func(tp *Tape, in []*Var) *Var { return tp.Index(in[0], -1, -1) }, x)
	checkGrad(t, "slice+index overlap", 1e-2, func(tp *Tape, in []*Var) *Var {
		return tp.Add(tp.Slice(in[0], 1, 0, 2), tp.Reshape(tp.Index(in[0], 1, 1), 2, 1, 3))
	}, x)

	tp := NewTape()
	r := ramp(2, 3, 2) // [[[0,1],[2,3],[4,5]],[[6,7],[8,9],[10,11]]]
	assertClose(t, "slice", tp.Slice(r, 1, 1, 3).Value, []int{2, 2, 2}, []float32{2, 3, 4, 5, 8, 9, 10, 11})
	assertClose(t, "index cls", tp.Index(r, 1, 0).Value, []int{2, 2}, []float32{0, 1, 6, 7})
	assertClose(t, "index last", tp.Index(r, -1, -1).Value, []int{2, 3}, []float32{1, 3, 5, 7, 9, 11})
	assertClose(t, "empty slice", tp.Slice(r, 1, 2, 2).Value, []int{2, 0, 2}, nil)

	for _, f := range []func(tp *Tape){
		func(tp *Tape) { tp.Slice(x, 1, 3, 6) },
		func(tp *Tape) { tp.Slice(x, 1, 3, 2) },
		func(tp *Tape) { tp.Slice(x, 3, 0, 1) },
		func(tp *Tape) { tp.Index(x, 1, 5) },
		func(tp *Tape) { tp.Index(x, -4, 0) },
	} {
		tp := NewTape()
		f(tp)
		wantShapeError(t, tp, []int{2, 5, 3})
	}
}

func TestConcat(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	a := randVar(rng, true, 2, 1, 3)
	b := randVar(rng, true, 2, 4, 3)
	c := randVar(rng, false, 2, 2, 3)
	checkGrad(t, "concat axis 1", 1e-2, func(tp *Tape, in []*Var) *Var { return tp.Concat(1, in...) }, a, b, c)
	checkGrad(t, "concat same twice", 1e-2, func(tp *Tape, in []*Var) *Var { return tp.Concat(-2, in[0], in[0]) }, b)
	d := randVar(rng, true, 1, 4, 3)
	checkGrad(t, "concat axis 0", 1e-2, func(tp *Tape, in []*Var) *Var { return tp.Concat(0, in...) }, b, d)

	tp := NewTape()
	// (2,1) ++ (2,2) along 1: [[0],[1]] ++ [[0,1],[2,3]] = [[0,0,1],[1,2,3]]
	assertClose(t, "concat", tp.Concat(1, ramp(2, 1), ramp(2, 2)).Value, []int{2, 3}, []float32{0, 0, 1, 1, 2, 3})
	if tp.Err() != nil {
		t.Fatal(tp.Err())
	}

	tp = NewTape()
	tp.Concat(1, a, randVar(rng, true, 3, 4, 3))
	wantShapeError(t, tp, []int{2, 1, 3}, []int{3, 4, 3})
	tp = NewTape()
	tp.Concat(3, a, b)
	wantShapeError(t, tp, []int{2, 1, 3}, []int{2, 4, 3})
	tp = NewTape()
	tp.Concat(0)
	if tp.Err() == nil {
		t.Error("concat of nothing should fail")
	}
}
