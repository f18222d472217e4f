package autograd

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/glora/glora/tensor"
)

// checkGrad runs GradCheck with float32-suited tolerances and logs the worst
// difference.
func checkGrad(t *testing.T, name string, eps float64, f func(tp *Tape, in []*Var) *Var, inputs ...*Var) {
	t.Helper()
	worst, err := GradCheck(f, inputs, eps, 1e-2, 1e-2, 60)
	t.Logf("%s: max |analytic-numeric| = %.3g", name, worst)
	if err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

// awayFromZero returns a Var whose values have magnitude ≥ 0.5 (safe divisors).
func awayFromZero(rng *rand.Rand, shape ...int) *Var {
	v := randVar(rng, true, shape...)
	for i, x := range v.Value.Data {
		v.Value.Data[i] = float32(math.Copysign(0.5+math.Abs(float64(x)), float64(x)))
	}
	return v
}

// wantShapeError asserts that tp failed with a shape error naming each shape.
func wantShapeError(t *testing.T, tp *Tape, shapes ...[]int) {
	t.Helper()
	err := tp.Err()
	if !errors.Is(err, tensor.ErrShape) {
		t.Fatalf("want a shape error, got %v", err)
	}
	for _, s := range shapes {
		if !strings.Contains(err.Error(), tensor.ShapeString(s)) {
			t.Errorf("error %q does not name shape %s", err, tensor.ShapeString(s))
		}
	}
	t.Log(err)
}

func mustTensor(t *testing.T, data []float32, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := tensor.FromSlice(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func assertClose(t *testing.T, what string, got *tensor.Tensor, wantShape []int, want []float32) {
	t.Helper()
	if !slices.Equal(got.Shape, wantShape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, wantShape)
	}
	for i := range want {
		if d := math.Abs(float64(got.Data[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s: element %d = %v, want %v (all %v)", what, i, got.Data[i], want[i], got.Data)
		}
	}
}

var binaryOps = []struct {
	name string
	f    func(tp *Tape, a, b *Var) *Var
}{
	{"add", (*Tape).Add}, {"sub", (*Tape).Sub}, {"mul", (*Tape).Mul}, {"div", (*Tape).Div},
}

func TestBinaryGrad(t *testing.T) {
	patterns := []struct{ a, b []int }{
		{[]int{2, 3, 4}, []int{2, 3, 4}}, // same shape
		{[]int{2, 3, 4}, []int{4}},       // trailing vector (bias)
		{[]int{2, 3, 4}, []int{1, 3, 4}}, // positional embedding
		{[]int{2, 3, 4}, []int{2, 3, 1}}, // per-row scalar
		{[]int{4}, []int{2, 3, 4}},       // a broadcast
		{[]int{3, 1}, []int{1, 4}},       // outer
		{[]int{}, []int{2, 3}},           // scalar a
		{[]int{2, 3}, []int{}},           // scalar b
		{[]int{2, 1, 4}, []int{3, 1}},    // both broadcast, interleaved
		{[]int{2, 3, 4}, []int{3, 1}},    // middle
		{[]int{1, 1}, []int{1}},          // all ones
		// large (> runGrain elements): split across workers
		{[]int{20, 1000}, []int{20, 1000}},
		{[]int{20, 1000}, []int{1000}},
		{[]int{2, 10, 1000}, []int{2, 10, 1}},
		{[]int{1, 50, 100}, []int{4, 50, 1}},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, op := range binaryOps {
		for _, p := range patterns {
			a := randVar(rng, true, p.a...)
			var b *Var
			if op.name == "div" {
				b = awayFromZero(rng, p.b...)
			} else {
				b = randVar(rng, true, p.b...)
			}
			name := op.name + tensor.ShapeString(p.a) + tensor.ShapeString(p.b)
			checkGrad(t, name, 1e-2, func(tp *Tape, in []*Var) *Var { return op.f(tp, in[0], in[1]) }, a, b)
		}
	}
}

func TestBinarySameOperand(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, op := range binaryOps {
		x := awayFromZero(rng, 3, 5)
		checkGrad(t, op.name+"(x,x)", 1e-2, func(tp *Tape, in []*Var) *Var { return op.f(tp, in[0], in[0]) }, x)
	}
}

func TestBinaryForward(t *testing.T) {
	tp := NewTape()
	a := NewVar(mustTensor(t, []float32{1, 2, 3, 4, 5, 6}, 2, 3), false)
	row := NewVar(mustTensor(t, []float32{10, 20, 30}, 3), false)
	col := NewVar(mustTensor(t, []float32{1, 2}, 2, 1), false)
	assertClose(t, "a+row", tp.Add(a, row).Value, []int{2, 3}, []float32{11, 22, 33, 14, 25, 36})
	assertClose(t, "row-a", tp.Sub(row, a).Value, []int{2, 3}, []float32{9, 18, 27, 6, 15, 24})
	assertClose(t, "a-col", tp.Sub(a, col).Value, []int{2, 3}, []float32{0, 1, 2, 2, 3, 4})
	assertClose(t, "col*row", tp.Mul(col, row).Value, []int{2, 3}, []float32{10, 20, 30, 20, 40, 60})
	assertClose(t, "a/col", tp.Div(a, col).Value, []int{2, 3}, []float32{1, 2, 3, 2, 2.5, 3})
	assertClose(t, "col/row", tp.Div(col, row).Value, []int{2, 3}, []float32{0.1, 0.05, 1.0 / 30, 0.2, 0.1, 2.0 / 30})
	assertClose(t, "a*a", tp.Mul(a, a).Value, []int{2, 3}, []float32{1, 4, 9, 16, 25, 36})
	s := NewVar(tensor.Scalar(2), false)
	assertClose(t, "s-a", tp.Sub(s, a).Value, []int{2, 3}, []float32{1, 0, -1, -2, -3, -4})
	if tp.Err() != nil {
		t.Fatal(tp.Err())
	}
}

// TestBroadcastPlan checks that the common patterns become contiguous runs
// rather than per-element index arithmetic.
func TestBroadcastPlan(t *testing.T) {
	cases := []struct {
		a, b         []int
		dims, sa, sb []int
	}{
		{[]int{2, 3, 4}, []int{2, 3, 4}, []int{24}, []int{1}, []int{1}},
		{[]int{2, 3, 4}, []int{4}, []int{6, 4}, []int{4, 1}, []int{0, 1}},
		{[]int{2, 3, 4}, []int{1, 3, 4}, []int{2, 12}, []int{12, 1}, []int{0, 1}},
		{[]int{2, 3, 4}, []int{2, 3, 1}, []int{6, 4}, []int{4, 1}, []int{1, 0}},
		{[]int{5, 1, 7}, []int{1, 7}, []int{5, 7}, []int{7, 1}, []int{0, 1}},
	}
	for _, c := range cases {
		p, err := planBroadcast("add", c.a, c.b)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p.dims, c.dims) || !slices.Equal(p.sa, c.sa) || !slices.Equal(p.sb, c.sb) {
			t.Errorf("%v+%v: dims %v sa %v sb %v, want %v %v %v", c.a, c.b, p.dims, p.sa, p.sb, c.dims, c.sa, c.sb)
		}
	}
}

func TestBroadcastShapeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, op := range binaryOps {
		tp := NewTape()
		op.f(tp, randVar(rng, true, 2, 3), randVar(rng, true, 4))
		wantShapeError(t, tp, []int{2, 3}, []int{4})
		if !strings.Contains(tp.Err().Error(), op.name) {
			t.Errorf("error %q does not name the op %s", tp.Err(), op.name)
		}
	}
	tp := NewTape()
	tp.Mul(randVar(rng, true, 2, 3, 4), randVar(rng, true, 2, 1, 3))
	wantShapeError(t, tp, []int{2, 3, 4}, []int{2, 1, 3})
}

var unaryOps = []struct {
	name     string
	f        func(tp *Tape, a *Var) *Var
	ref      func(x float64) float64
	positive bool
}{
	{"exp", (*Tape).Exp, math.Exp, false},
	{"log", (*Tape).Log, math.Log, true},
	{"sqrt", (*Tape).Sqrt, math.Sqrt, true},
	{"tanh", (*Tape).Tanh, math.Tanh, false},
	{"neg", (*Tape).Neg, func(x float64) float64 { return -x }, false},
	{"scale", func(tp *Tape, a *Var) *Var { return tp.Scale(a, -2.5) }, func(x float64) float64 { return -2.5 * x }, false},
	{"addscalar", func(tp *Tape, a *Var) *Var { return tp.AddScalar(a, 0.75) }, func(x float64) float64 { return x + 0.75 }, false},
}

func TestUnary(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, op := range unaryOps {
		for _, shape := range [][]int{{2, 3, 4}, {}, {50, 700}} {
			x := randVar(rng, true, shape...)
			if op.positive {
				for i, v := range x.Value.Data {
					x.Value.Data[i] = 0.5 + float32(math.Abs(float64(v)))
				}
			}
			// forward against float64 math
			tp := NewTape()
			y := op.f(tp, x)
			want := make([]float32, x.Value.Numel())
			for i, v := range x.Value.Data {
				want[i] = float32(op.ref(float64(v)))
			}
			assertClose(t, op.name, y.Value, shape, want)
			checkGrad(t, op.name+tensor.ShapeString(shape), 1e-3, func(tp *Tape, in []*Var) *Var { return op.f(tp, in[0]) }, x)
		}
	}
}

// TestNoGradAndPool checks that a NoGrad tape records nothing and that Reset
// returns buffers to the pool for the next step to reuse.
func TestNoGradAndPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	x := randVar(rng, true, 4, 8)
	w := randVar(rng, true, 8, 8)
	step := func(tp *Tape) *Var {
		h := tp.Tanh(tp.MatMul(x, w, false, true))
		return tp.MeanAll(tp.Mul(h, h))
	}
	tp := NewTape()
	tp.NoGrad = true
	loss := step(tp)
	if loss.RequiresGrad || len(tp.backward) != 0 {
		t.Fatalf("NoGrad tape recorded %d closures (loss requires grad: %v)", len(tp.backward), loss.RequiresGrad)
	}
	if err := tp.Backward(loss); err == nil {
		t.Fatal("Backward on a NoGrad loss should fail")
	}

	tp = NewTape()
	if err := tp.Backward(step(tp)); err != nil {
		t.Fatal(err)
	}
	first := tp.PoolBytes()
	if first == 0 {
		t.Fatal("pool holds no buffers after a step")
	}
	for i := 0; i < 3; i++ {
		tp.Reset()
		x.ZeroGrad()
		w.ZeroGrad()
		if err := tp.Backward(step(tp)); err != nil {
			t.Fatal(err)
		}
		if got := tp.PoolBytes(); got != first {
			t.Fatalf("step %d: pool holds %d bytes, first step %d: buffers not reused", i+2, got, first)
		}
	}
}

// benchBinary times forward+backward of op on ViT-Tiny-sized activations.
func benchBinary(b *testing.B, op func(tp *Tape, x, y *Var) *Var, as, bs []int) {
	rng := rand.New(rand.NewPCG(1, 2))
	x, y := randVar(rng, true, as...), randVar(rng, true, bs...)
	tp := NewTape()
	b.SetBytes(int64(tensor.Numel(as)) * 4)
	for b.Loop() {
		tp.Reset()
		out := op(tp, x, y)
		out.Grad = tp.Alloc(out.Value.Shape...)
		for _, f := range tp.backward {
			f()
		}
		tp.backward = tp.backward[:0]
	}
}

func BenchmarkAddSame(b *testing.B) {
	benchBinary(b, (*Tape).Add, []int{32, 197, 192}, []int{32, 197, 192})
}
func BenchmarkAddBias(b *testing.B) {
	benchBinary(b, (*Tape).Add, []int{32, 197, 192}, []int{192})
}
func BenchmarkAddPosEmbed(b *testing.B) {
	benchBinary(b, (*Tape).Add, []int{32, 197, 192}, []int{1, 197, 192})
}
func BenchmarkMulRowScale(b *testing.B) {
	benchBinary(b, (*Tape).Mul, []int{32, 197, 192}, []int{32, 197, 1})
}
