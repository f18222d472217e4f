package autograd

import (
	"fmt"
	"math"

	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// Elementwise operations. Binary operations broadcast as numpy does: shapes
// are aligned at their last dimension, and a dimension of size 1 (or a
// missing leading one) repeats to match the other operand. The backward pass
// sums the gradient over the repeated positions, so an operand's gradient
// always has the operand's shape.

// Add is y = a + b (broadcasting).
//
//	a: (...)   b: (...)   →   y: broadcast(a, b)
//
// Backward: da += reduce(dy), db += reduce(dy), where reduce sums over the
// dimensions along which the operand was repeated.
func (tp *Tape) Add(a, b *Var) *Var { return tp.binary(opAdd, a, b) }

// Sub is y = a − b (broadcasting).
//
// Backward: da += reduce(dy), db −= reduce(dy).
func (tp *Tape) Sub(a, b *Var) *Var { return tp.binary(opSub, a, b) }

// Mul is y = a ⊙ b (broadcasting).
//
// Backward: da += reduce(dy ⊙ b), db += reduce(dy ⊙ a).
func (tp *Tape) Mul(a, b *Var) *Var { return tp.binary(opMul, a, b) }

// Div is y = a ⊘ b (broadcasting).
//
// Backward: da += reduce(dy ⊘ b), db −= reduce(dy ⊙ y ⊘ b)  (since ∂(a/b)/∂b = −a/b² = −y/b).
func (tp *Tape) Div(a, b *Var) *Var { return tp.binary(opDiv, a, b) }

type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
)

var binOpNames = [...]string{"add", "sub", "mul", "div"}

func (tp *Tape) binary(op binOp, a, b *Var) *Var {
	if !tp.OK(a, b) {
		return tp.Dead()
	}
	p, err := planBroadcast(binOpNames[op], a.Value.Shape, b.Value.Shape)
	if err != nil {
		return tp.Fail(err)
	}
	// a: (...) b: (...) → y: p.out
	y := tp.NewOutputRaw(p.out, a, b)
	yd, ad, bd := y.Value.Data, a.Value.Data, b.Value.Data
	ia, ib := p.inner()
	p.each(true, func(o, oa, ob, n int) {
		binRun(op, yd[o:o+n], ad[oa:], ia, bd[ob:], ib)
	})
	tp.Record(y, func() {
		dy := y.Grad.Data
		if g, fresh := tp.freshGrad(a, len(yd)); g != nil {
			ga := g.Data
			p.each(len(ga) == len(yd), func(o, oa, ob, n int) {
				d := dy[o : o+n]
				if fresh {
					clear(ga[oa : oa+n]) // in cache, just before the accumulation
				}
				switch op {
				case opAdd, opSub:
					accRun(1, ga[oa:], ia, d)
				case opMul:
					mulAccRun(ga[oa:], ia, d, bd[ob:], ib)
				case opDiv:
					divAccRun(ga[oa:], ia, d, bd[ob:], ib)
				}
			})
		}
		if g, fresh := tp.freshGrad(b, len(yd)); g != nil {
			gb := g.Data
			p.each(len(gb) == len(yd), func(o, oa, ob, n int) {
				d := dy[o : o+n]
				if fresh {
					clear(gb[ob : ob+n])
				}
				switch op {
				case opAdd:
					accRun(1, gb[ob:], ib, d)
				case opSub:
					accRun(-1, gb[ob:], ib, d)
				case opMul:
					mulAccRun(gb[ob:], ib, d, ad[oa:], ia)
				case opDiv:
					divBAccRun(gb[ob:], ib, d, yd[o:o+n], bd[ob:])
				}
			})
		}
	})
	return y
}

// bcast is the iteration plan of a broadcasting binary operation. Output
// dimensions of size 1 are dropped and neighbouring dimensions that both
// operands step through alike are merged, so (B,T,C)+(C) becomes rows of C
// with b's row stride 0, (B,T,C)+(1,T,C) becomes B rows of T·C, and equal
// shapes become a single run: every pattern runs as contiguous runs over the
// last merged dimension, inside which each operand has stride 1 or 0.
type bcast struct {
	out    []int // output shape
	dims   []int // merged output dimensions (at least one)
	sa, sb []int // element strides of a and b along dims (0 where repeated)
	numel  int
}

func planBroadcast(op string, as, bs []int) (*bcast, error) {
	r := max(len(as), len(bs))
	pa, pb := padShape(as, r), padShape(bs, r)
	p := &bcast{out: make([]int, r)}
	for i := range r {
		switch da, db := pa[i], pb[i]; {
		case da == db, db == 1:
			p.out[i] = da
		case da == 1:
			p.out[i] = db
		default:
			return nil, tensor.Errorf(op, fmt.Sprintf("dimension %d: %d and %d do not broadcast", i-r, da, db), as, bs)
		}
	}
	p.numel = tensor.Numel(p.out)
	sa, sb := bcastStrides(pa), bcastStrides(pb)
	for i := range r {
		if p.out[i] == 1 {
			continue
		}
		if k := len(p.dims) - 1; k >= 0 && p.sa[k] == sa[i]*p.out[i] && p.sb[k] == sb[i]*p.out[i] {
			// merge with the previous kept dimension
			p.dims[k] *= p.out[i]
			p.sa[k], p.sb[k] = sa[i], sb[i]
			continue
		}
		p.dims = append(p.dims, p.out[i])
		p.sa = append(p.sa, sa[i])
		p.sb = append(p.sb, sb[i])
	}
	if len(p.dims) == 0 { // every dimension is 1
		p.dims, p.sa, p.sb = []int{1}, []int{1}, []int{1}
	}
	return p, nil
}

// padShape left-pads s with 1s to rank r.
func padShape(s []int, r int) []int {
	p := make([]int, r)
	for i := range p {
		p[i] = 1
	}
	copy(p[r-len(s):], s)
	return p
}

// bcastStrides is the row-major strides of s, with 0 for dimensions of size 1.
func bcastStrides(s []int) []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 1 {
			st[i] = acc
		}
		acc *= s[i]
	}
	return st
}

// inner is the strides (0 or 1) of a and b within a run.
func (p *bcast) inner() (int, int) {
	k := len(p.dims) - 1
	return p.sa[k], p.sb[k]
}

// runGrain is the number of elements below which a loop is not split
// across workers.
const runGrain = 1 << 14

// each calls fn(o, oa, ob, n) for every run of n consecutive output elements
// starting at o, whose operand elements start at oa and ob. With par the runs
// go to the worker pool; the caller passes par only when fn's writes of
// different runs cannot overlap.
func (p *bcast) each(par bool, fn func(o, oa, ob, n int)) {
	if p.numel == 0 {
		return
	}
	k := len(p.dims) - 1
	n := p.dims[k]
	rows := p.numel / n
	if rows == 1 {
		if !par {
			fn(0, 0, 0, n)
			return
		}
		ia, ib := p.sa[k], p.sb[k]
		parallel.For(n, runGrain, func(lo, hi int) { fn(lo, lo*ia, lo*ib, hi-lo) })
		return
	}
	body := func(lo, hi int) {
		for r := lo; r < hi; r++ {
			oa, ob, q := 0, 0, r
			for d := k - 1; d >= 0; d-- {
				i := q % p.dims[d]
				q /= p.dims[d]
				oa += i * p.sa[d]
				ob += i * p.sb[d]
			}
			fn(r*n, oa, ob, n)
		}
	}
	if !par {
		body(0, rows)
		return
	}
	parallel.For(rows, max(1, runGrain/n), body)
}

// binRun computes one run dst = a op b, where a (b) holds len(dst) elements
// when sa (sb) is 1 and a single repeated element when it is 0.
func binRun(op binOp, dst, a []float32, sa int, b []float32, sb int) {
	n := len(dst)
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:n], b[:n]
		switch op {
		case opAdd:
			tensor.Add(dst, a, b)
		case opSub:
			copy(dst, a)
			tensor.Axpy(-1, b, dst)
		case opMul:
			tensor.Mul(dst, a, b)
		case opDiv:
			for i, v := range a {
				dst[i] = v / b[i]
			}
		}
	case sa == 1: // b repeated
		a, s := a[:n], b[0]
		switch op {
		case opAdd, opSub:
			if op == opSub {
				s = -s
			}
			for i, v := range a {
				dst[i] = v + s
			}
		case opMul:
			for i, v := range a {
				dst[i] = v * s
			}
		case opDiv:
			for i, v := range a {
				dst[i] = v / s
			}
		}
	case sb == 1: // a repeated
		s, b := a[0], b[:n]
		switch op {
		case opAdd:
			for i, v := range b {
				dst[i] = s + v
			}
		case opSub:
			for i, v := range b {
				dst[i] = s - v
			}
		case opMul:
			for i, v := range b {
				dst[i] = s * v
			}
		case opDiv:
			for i, v := range b {
				dst[i] = s / v
			}
		}
	default: // both repeated
		var v float32
		switch op {
		case opAdd:
			v = a[0] + b[0]
		case opSub:
			v = a[0] - b[0]
		case opMul:
			v = a[0] * b[0]
		case opDiv:
			v = a[0] / b[0]
		}
		for i := range dst {
			dst[i] = v
		}
	}
}

// accRun is g += α·dy over one run (g stride sg ∈ {0,1}).
func accRun(alpha float32, g []float32, sg int, dy []float32) {
	if sg == 1 {
		tensor.Axpy(alpha, dy, g[:len(dy)])
		return
	}
	g[0] += alpha * tensor.Sum(dy)
}

// mulAccRun is g += dy ⊙ c over one run (strides sg, sc ∈ {0,1}).
func mulAccRun(g []float32, sg int, dy, c []float32, sc int) {
	n := len(dy)
	switch {
	case sg == 1 && sc == 1:
		g, c = g[:n], c[:n]
		for i, d := range dy {
			g[i] += d * c[i]
		}
	case sg == 1:
		tensor.Axpy(c[0], dy, g[:n])
	case sc == 1:
		g[0] += tensor.Dot(dy, c[:n])
	default:
		g[0] += c[0] * tensor.Sum(dy)
	}
}

// divAccRun is g += dy ⊘ c over one run (strides sg, sc ∈ {0,1}).
func divAccRun(g []float32, sg int, dy, c []float32, sc int) {
	n := len(dy)
	switch {
	case sg == 1 && sc == 1:
		g, c = g[:n], c[:n]
		for i, d := range dy {
			g[i] += d / c[i]
		}
	case sg == 1:
		tensor.Axpy(1/c[0], dy, g[:n])
	case sc == 1:
		var s float32
		for i, d := range dy {
			s += d / c[i]
		}
		g[0] += s
	default:
		g[0] += tensor.Sum(dy) / c[0]
	}
}

// divBAccRun is g −= dy ⊙ y ⊘ b over one run, where g and b share the stride
// sg ∈ {0,1} and y has stride 1.
func divBAccRun(g []float32, sg int, dy, y, b []float32) {
	n := len(dy)
	y = y[:n]
	if sg == 1 {
		g, b = g[:n], b[:n]
		for i, d := range dy {
			g[i] -= d * y[i] / b[i]
		}
		return
	}
	g[0] -= tensor.Dot(dy, y) / b[0]
}

// Scale is y = s·a.  Backward: da += s·dy.
func (tp *Tape) Scale(a *Var, s float32) *Var {
	return tp.unary(a,
		func(y, x []float32) {
			copy(y, x)
			tensor.Scale(s, y)
		},
		func(dx, dy, _, _ []float32) { tensor.Axpy(s, dy, dx) })
}

// AddScalar is y = a + s.  Backward: da += dy.
func (tp *Tape) AddScalar(a *Var, s float32) *Var {
	return tp.unary(a,
		func(y, x []float32) {
			for i, v := range x {
				y[i] = v + s
			}
		},
		func(dx, dy, _, _ []float32) { tensor.Axpy(1, dy, dx) })
}

// Neg is y = −a.  Backward: da −= dy.
func (tp *Tape) Neg(a *Var) *Var { return tp.Scale(a, -1) }

// Exp is y = eᵃ.  Backward: da += dy ⊙ y.
func (tp *Tape) Exp(a *Var) *Var {
	return tp.unary(a,
		func(y, x []float32) { tensor.Exp(y, x) },
		func(dx, dy, _, y []float32) {
			for i, d := range dy {
				dx[i] += d * y[i]
			}
		})
}

// Log is y = ln a (NaN or −Inf for a ≤ 0).  Backward: da += dy ⊘ a.
func (tp *Tape) Log(a *Var) *Var {
	return tp.unary(a,
		func(y, x []float32) {
			for i, v := range x {
				y[i] = float32(math.Log(float64(v)))
			}
		},
		func(dx, dy, x, _ []float32) {
			for i, d := range dy {
				dx[i] += d / x[i]
			}
		})
}

// Sqrt is y = √a.  Backward: da += dy ⊘ (2y).
func (tp *Tape) Sqrt(a *Var) *Var {
	return tp.unary(a,
		func(y, x []float32) {
			for i, v := range x {
				y[i] = float32(math.Sqrt(float64(v)))
			}
		},
		func(dx, dy, _, y []float32) {
			for i, d := range dy {
				dx[i] += 0.5 * d / y[i]
			}
		})
}

// Tanh is y = tanh a.  Backward: da += dy ⊙ (1 − y²).
func (tp *Tape) Tanh(a *Var) *Var {
	return tp.unary(a,
		func(y, x []float32) {
			for i, v := range x {
				y[i] = float32(math.Tanh(float64(v)))
			}
		},
		func(dx, dy, _, y []float32) {
			for i, d := range dy {
				dx[i] += d * (1 - y[i]*y[i])
			}
		})
}

// unary runs an elementwise operation of one operand.
//
//	a: (...)   →   y: (...)
//
// fwd(y, x) fills a chunk of y from the same chunk of a; bwd(dx, dy, x, y)
// accumulates a chunk of da. Chunks run on the worker pool.
func (tp *Tape) unary(a *Var, fwd func(y, x []float32), bwd func(dx, dy, x, y []float32)) *Var {
	if !tp.OK(a) {
		return tp.Dead()
	}
	y := tp.NewOutputRaw(a.Value.Shape, a)
	xd, yd := a.Value.Data, y.Value.Data
	parallel.For(len(yd), runGrain, func(lo, hi int) { fwd(yd[lo:hi], xd[lo:hi]) })
	tp.Record(y, func() {
		if g := tp.GradOf(a); g != nil {
			dy := y.Grad.Data
			parallel.For(len(yd), runGrain, func(lo, hi int) {
				bwd(g.Data[lo:hi], dy[lo:hi], xd[lo:hi], yd[lo:hi])
			})
		}
	})
	return y
}

// freshGrad is GradBuf for an operand of a broadcasting op with n output
// elements: the "fresh" fast path (clear each run just before accumulating
// into it) is only valid when the operand is not broadcast, so that every
// output run maps to its own part of the gradient; otherwise the buffer is
// cleared up front.
func (tp *Tape) freshGrad(v *Var, n int) (*tensor.Tensor, bool) {
	g, fresh := tp.GradBuf(v)
	if g != nil && fresh && len(g.Data) != n {
		clear(g.Data)
		fresh = false
	}
	return g, fresh
}
