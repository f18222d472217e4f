package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

func TestActivationsForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 4))
	x := randVar(rng, false, 3, 1000)
	tp := ag.NewTape()
	n := len(x.Value.Data)
	exact, tanhF, silu := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, v := range x.Value.Data {
		xv := float64(v)
		exact[i] = xv * 0.5 * (1 + math.Erf(xv/math.Sqrt2))
		tanhF[i] = 0.5 * xv * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(xv+0.044715*xv*xv*xv)))
		silu[i] = xv / (1 + math.Exp(-xv))
	}
	checkClose(t, "gelu", GELU(tp, x, false).Value.Data, exact, 1e-6, 1e-5)
	checkClose(t, "gelu tanh", GELU(tp, x, true).Value.Data, tanhF, 1e-6, 1e-5)
	checkClose(t, "silu", SiLU(tp, x).Value.Data, silu, 1e-6, 1e-5)
}

func TestActivationsGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 4))
	x := randVar(rng, true, 2, 4, 7)
	gradCheck(t, "gelu", func(tp *ag.Tape, in []*ag.Var) *ag.Var { return GELU(tp, in[0], false) }, x)
	gradCheck(t, "gelu tanh", func(tp *ag.Tape, in []*ag.Var) *ag.Var { return GELU(tp, in[0], true) }, x)
	gradCheck(t, "silu", func(tp *ag.Tape, in []*ag.Var) *ag.Var { return SiLU(tp, in[0]) }, x)
	// large enough for several parallel parts
	xl := randVar(rng, true, 2, 2*elemGrain+5)
	worst, err := ag.GradCheck(func(tp *ag.Tape, in []*ag.Var) *ag.Var { return SiLU(tp, in[0]) },
		[]*ag.Var{xl}, 1e-2, 1e-2, 1e-2, 16)
	if err != nil {
		t.Fatalf("silu large: %v (max diff %.3g)", err, worst)
	}
}

// GELU of an op output writes its input's gradient over its own in place
// (Tape.TakeGrad), the floats of the path that takes a fresh buffer (GELU
// of a leaf), exact and tanh, over several parallel parts and a partial
// last chunk; where the input already holds a gradient (a second consumer)
// it adds to it, as before.
func TestGELUInPlaceBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 4))
	n := 2*elemGrain + 2049
	for _, tanhApprox := range []bool{false, true} {
		leaf := randVar(rng, true, 2, n)
		w := randVar(rng, false, 1, n)
		grad := func(f func(tp *ag.Tape) *ag.Var) []float32 {
			leaf.Grad = nil
			tp := ag.NewTape()
			if err := tp.Backward(tp.SumAll(tp.Mul(f(tp), w))); err != nil {
				t.Fatal(err)
			}
			return leaf.Grad.Data
		}
		want := grad(func(tp *ag.Tape) *ag.Var { return GELU(tp, leaf, tanhApprox) })
		got := grad(func(tp *ag.Tape) *ag.Var { return GELU(tp, tp.Scale(leaf, 1), tanhApprox) })
		if !slices.Equal(got, want) {
			t.Fatalf("tanh %v: in place: gradients differ", tanhApprox)
		}
		// x also read by Mul, whose backward runs first: GELU adds into x's gradient
		both := grad(func(tp *ag.Tape) *ag.Var {
			x := tp.Scale(leaf, 1)
			return tp.Add(GELU(tp, x, tanhApprox), tp.Mul(x, w))
		})
		for i := range both {
			if d := float64(both[i] - want[i] - w.Value.Data[i]*w.Value.Data[i]); math.Abs(d) > 1e-5*(1+math.Abs(float64(both[i]))) {
				t.Fatalf("tanh %v: with a second consumer: element %d: %g, want %g", tanhApprox, i, both[i], want[i]+w.Value.Data[i]*w.Value.Data[i])
			}
		}
	}
}

// onlyForward hides a Layer's ForwardThen: LinearGELU's plain path.
type onlyForward struct{ l Layer }

func (o onlyForward) Forward(tp *ag.Tape, x *ag.Var) *ag.Var { return o.l.Forward(tp, x) }

// countThen is a Linear that counts the blocks its ForwardThen hands over.
type countThen struct {
	*Linear
	blocks atomic.Int64
}

func (c *countThen) ForwardThen(tp *ag.Tape, x *ag.Var, then func(y []float32, i0, i1, j0, j1 int)) *ag.Var {
	return c.Linear.ForwardThen(tp, x, func(y []float32, i0, i1, j0, j1 int) { c.blocks.Add(1); then(y, i0, i1, j0, j1) })
}

// TestLinearGELU: LinearGELU gives Forward then GELU's u, g and gradients
// bit for bit, with GELU computed on the Linear's blocks as they finish
// (a Linear large enough for the blocked GEMM drivers) or in its own pass
// (a Layer that is no ThenLayer), exact and tanh, with and without
// gradients, f32 and bf16.
func TestLinearGELU(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const rows, in, out = 150, 64, 96
	lin := &Linear{W: randVar(rng, true, 0.2, out, in), B: randVar(rng, true, 0.5, out)}
	x := randVar(rng, true, 1, 3, rows/3, in)
	proj := randVar(rng, false, 1, 3, rows/3, out)
	run := func(prec tensor.Precision, noGrad, tanh bool, f func(tp *ag.Tape) (u, g *ag.Var)) [][]float32 {
		for _, v := range []*ag.Var{x, lin.W, lin.B} {
			v.Grad = nil
		}
		tp := ag.NewTape()
		tp.Precision, tp.NoGrad = prec, noGrad
		u, g := f(tp)
		res := [][]float32{u.Value.Clone().Data, g.Value.Clone().Data}
		if noGrad {
			return res
		}
		if err := tp.Backward(tp.SumAll(tp.Mul(g, proj))); err != nil {
			t.Fatal(err)
		}
		for _, v := range []*ag.Var{x, lin.W, lin.B} {
			res = append(res, v.Grad.Clone().Data)
		}
		return res
	}
	what := []string{"u", "g", "dx", "dW", "db"}
	for _, prec := range []tensor.Precision{tensor.F32, tensor.BF16} {
		for _, noGrad := range []bool{false, true} {
			for _, tanh := range []bool{false, true} {
				want := run(prec, noGrad, tanh, func(tp *ag.Tape) (u, g *ag.Var) {
					u = lin.Forward(tp, x)
					return u, GELU(tp, u, tanh)
				})
				ct := &countThen{Linear: lin}
				for _, l := range []Layer{lin, ct, onlyForward{lin}} {
					got := run(prec, noGrad, tanh, func(tp *ag.Tape) (u, g *ag.Var) { return LinearGELU(tp, l, x, tanh) })
					for k := range want {
						for e := range want[k] {
							if math.Float32bits(got[k][e]) != math.Float32bits(want[k][e]) {
								t.Fatalf("%v noGrad=%v tanh=%v %T: %s[%d] = %g, Forward and GELU give %g", prec, noGrad, tanh, l, what[k], e, got[k][e], want[k][e])
							}
						}
					}
				}
				if ct.blocks.Load() < 1 {
					t.Fatalf("%v: LinearGELU did not compute GELU on the blocks a ThenLayer hands over", prec)
				}
			}
		}
	}
}

// TestLinearGELUBadInput: a Linear that rejects x fails the tape with its
// error and LinearGELU returns dead Vars (no panic, no GELU of garbage).
func TestLinearGELUBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	lin := &Linear{W: randVar(rng, true, 0.2, 96, 64), B: randVar(rng, true, 0.5, 96)}
	tp := ag.NewTape()
	u, g := LinearGELU(tp, lin, randVar(rng, true, 1, 20, 63), false)
	if tp.OK(u) || tp.OK(g) || tp.Err() == nil || !strings.Contains(tp.Err().Error(), "linear") {
		t.Fatalf("x (20, 63) into a (96, 64) Linear: ok %v %v, tape error %v; want dead Vars and the Linear's error", tp.OK(u), tp.OK(g), tp.Err())
	}
}

// TestSwiGLU checks the fused op against Mul(SiLU(a), b): the same floats
// forward and in both gradients (over parallel chunks and blocks that do
// not divide the length), a finite-difference check, and the shape error.
func TestSwiGLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	const n = 70001
	a, b := randVar(rng, true, 3, n), randVar(rng, true, 1, n)
	dy := randVar(rng, false, 1, n)
	run := func(fused bool) (y []float32, ga, gb []float32) {
		a.Grad, b.Grad = nil, nil
		tp := ag.NewTape()
		var out *ag.Var
		if fused {
			out = SwiGLU(tp, a, b)
		} else {
			out = tp.Mul(SiLU(tp, a), b)
		}
		if err := tp.Backward(tp.SumAll(tp.Mul(out, dy))); err != nil {
			t.Fatal(err)
		}
		return out.Value.Data, a.Grad.Data, b.Grad.Data
	}
	y0, ga0, gb0 := run(false)
	y1, ga1, gb1 := run(true)
	for _, c := range []struct {
		name      string
		got, want []float32
	}{{"y", y1, y0}, {"da", ga1, ga0}, {"db", gb1, gb0}} {
		for i := range c.want {
			if c.got[i] != c.want[i] {
				t.Fatalf("%s[%d] = %v, Mul(SiLU(a), b) gives %v", c.name, i, c.got[i], c.want[i])
			}
		}
	}
	x1, x2 := randVar(rng, true, 2, 2, 5), randVar(rng, true, 1, 2, 5)
	gradCheck(t, "swiglu", func(tp *ag.Tape, in []*ag.Var) *ag.Var { return SwiGLU(tp, in[0], in[1]) }, x1, x2)
	tp := ag.NewTape()
	SwiGLU(tp, x1, randVar(rng, true, 1, 5, 2))
	wantShapeErr(t, "swiglu shapes", tp)
}
