package nn

import (
	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// elemGrain is the number of elements per parallel chunk of an elementwise loop.
const elemGrain = 1 << 15

// GELU is y = x·Φ(x) = x/2·(1 + erf(x/√2)), or with tanhApprox
// y = x/2·(1 + tanh(√(2/π)·(x + 0.044715x³))) (PyTorch's approximate="tanh").
//
//	x: any shape   →   y: same shape
//
// Backward: dx += dy·y'(x) (exact: Φ(x) + x·φ(x)).
func GELU(tp *ag.Tape, x *ag.Var, tanhApprox bool) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	y := tp.NewOutputRaw(x.Value.Shape, x)
	GELUValues(y.Value.Data, x.Value.Data, tanhApprox)
	recordGELU(tp, x, y, tanhApprox)
	return y
}

// recordGELU records GELU's backward pass for y = GELU(x).
func recordGELU(tp *ag.Tape, x, y *ag.Var, tanhApprox bool) {
	bwd := tensor.GELUBackward
	if tanhApprox {
		bwd = tensor.GELUTanhBackward
	}
	n := x.Value.Numel()
	tp.Record(y, func() {
		xd := x.Value.Data // read now: x's producer may have recomputed it (Tape.Recompute)
		if g := tp.TakeGrad(y, x); g != nil {
			// dx over dy, in place: the fresh path's floats
			parallel.For(n, elemGrain, func(lo, hi int) { backwardInPlace(bwd, g.Data[lo:hi], xd[lo:hi]) })
			return
		}
		g, fresh := tp.GradBuf(x)
		if g == nil {
			return
		}
		dy := y.Grad.Data
		parallel.For(n, elemGrain, func(lo, hi int) {
			if fresh {
				clear(g.Data[lo:hi]) // in cache, just before the accumulation
			}
			bwd(g.Data[lo:hi], xd[lo:hi], dy[lo:hi])
		})
	})
}

// backwardInPlace runs an elementwise backward kernel bwd (dx += dy·f'(x))
// with dx = dy = g: g = 0 + g·f'(x), the floats of a cleared dx, a few
// thousand elements at a time through a copy of dy in cache.
func backwardInPlace(bwd func(dx, x, dy []float32), g, x []float32) {
	var dy [2048]float32
	for lo := 0; lo < len(g); lo += len(dy) {
		hi := min(lo+len(dy), len(g))
		d := dy[:hi-lo]
		copy(d, g[lo:hi])
		clear(g[lo:hi])
		bwd(g[lo:hi], x[lo:hi], d)
	}
}

// LinearGELU is u = l.Forward(tp, x) and g = GELU(tp, u, tanhApprox), a
// transformer MLP's first half. Where l is a ThenLayer, g is computed on
// each block of u as soon as l's product has finished it, while the block
// is still in cache, instead of in a pass of its own that reads u back
// from memory: the same floats, the same Vars and backward passes.
//
//	x: (..., in)   →   u, g: (..., out)
func LinearGELU(tp *ag.Tape, l Layer, x *ag.Var, tanhApprox bool) (u, g *ag.Var) {
	tl, ok := l.(ThenLayer)
	if !ok || !tp.OK(x) || len(x.Value.Shape) < 1 {
		u = l.Forward(tp, x)
		return u, GELU(tp, u, tanhApprox)
	}
	fwd := tensor.GELU
	if tanhApprox {
		fwd = tensor.GELUTanh
	}
	out := tl.Out()
	xs := x.Value.Shape
	g = tp.NewOutputRaw(append(append([]int(nil), xs[:len(xs)-1]...), out)) // its gradient flag once u exists
	gd := g.Value.Data
	u = tl.ForwardThen(tp, x, func(y []float32, i0, i1, j0, j1 int) {
		for i := i0; i < i1; i++ {
			fwd(gd[i*out+j0:i*out+j1], y[i*out+j0:i*out+j1])
		}
	})
	if !tp.OK(u) || u.Value.Numel() != len(gd) {
		tp.Release(g.Value)
		return u, GELU(tp, u, tanhApprox)
	}
	g.RequiresGrad = u.RequiresGrad
	recordGELU(tp, u, g, tanhApprox)
	return u, g
}

// GELUValues sets y = GELU(x) elementwise, on the worker pool: GELU's
// forward pass, also for recomputing its output in the backward pass
// (see GELURecompute).
func GELUValues(y, x []float32, tanhApprox bool) {
	fwd := tensor.GELU
	if tanhApprox {
		fwd = tensor.GELUTanh
	}
	parallel.For(len(x), elemGrain, func(lo, hi int) {
		fwd(y[lo:hi], x[lo:hi])
	})
}

// GELURecompute drops y = GELU(tp, x, tanhApprox) from memory until the
// backward pass, which recomputes it from x for the consumers recorded
// since mark (tp.Mark() right after y was made; see Tape.Recompute): the
// MLP's hidden activation, the largest a transformer block keeps, is then
// held once (x) instead of twice, for one more GELU pass in backward.
func GELURecompute(tp *ag.Tape, y, x *ag.Var, mark int, tanhApprox bool) {
	tp.Recompute(y, mark, func(dst []float32) { GELUValues(dst, x.Value.Data, tanhApprox) })
}

// SiLU (swish) is y = x·σ(x) with σ(x) = 1/(1 + e⁻ˣ).
//
//	x: any shape   →   y: same shape
//
// Backward: dx += dy·σ(x)·(1 + x·(1 − σ(x))).
func SiLU(tp *ag.Tape, x *ag.Var) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	y := tp.NewOutputRaw(x.Value.Shape, x)
	xd, yd := x.Value.Data, y.Value.Data
	n := len(xd)
	parallel.For(n, elemGrain, func(lo, hi int) {
		tensor.SiLU(yd[lo:hi], xd[lo:hi])
	})
	tp.Record(y, func() {
		g := tp.GradOf(x)
		if g == nil {
			return
		}
		dy := y.Grad.Data
		parallel.For(n, elemGrain, func(lo, hi int) {
			tensor.SiLUBackward(g.Data[lo:hi], xd[lo:hi], dy[lo:hi])
		})
	})
	return y
}

// SwiGLU is LLaMA's gated MLP activation y = SiLU(a) ⊙ b as one op: the
// backward pass keeps a and b and recomputes SiLU(a), which a SiLU followed
// by a Mul would hold as a third tensor of the same size. The floats are
// those of Mul(SiLU(a), b).
//
//	a, b: same shape   →   y: same shape
//
// Backward: da += (dy⊙b)·σ(a)·(1 + a·(1 − σ(a))), db += dy⊙SiLU(a).
func SwiGLU(tp *ag.Tape, a, b *ag.Var) *ag.Var {
	if !tp.OK(a, b) {
		return tp.Dead()
	}
	if !tensor.SameShape(a.Value.Shape, b.Value.Shape) {
		return tp.Fail(tensor.Errorf("swiglu", "want a and b of one shape", a.Value.Shape, b.Value.Shape))
	}
	y := tp.NewOutputRaw(a.Value.Shape, a, b)
	yd, n := y.Value.Data, len(y.Value.Data)
	parallel.For(n, elemGrain, func(lo, hi int) {
		tensor.SiLU(yd[lo:hi], a.Value.Data[lo:hi])
		tensor.Mul(yd[lo:hi], yd[lo:hi], b.Value.Data[lo:hi])
	})
	tp.Record(y, func() {
		ga, gb := tp.GradOf(a), tp.GradOf(b)
		// a and b read now, not at the forward pass: a layer may have
		// rebuilt them (Tape.Recompute)
		ad, bd, dy := a.Value.Data, b.Value.Data, y.Grad.Data
		parallel.For(n, elemGrain, func(lo, hi int) {
			var buf [swigluBlock]float32 // dy⊙b, then SiLU(a), a block at a time
			for i0 := lo; i0 < hi; i0 += swigluBlock {
				i1 := min(hi, i0+swigluBlock)
				t := buf[:i1-i0]
				if ga != nil {
					tensor.Mul(t, dy[i0:i1], bd[i0:i1])
					tensor.SiLUBackward(ga.Data[i0:i1], ad[i0:i1], t)
				}
				if gb != nil {
					tensor.SiLU(t, ad[i0:i1])
					g := gb.Data[i0:i1]
					for i, d := range dy[i0:i1] {
						g[i] += d * t[i]
					}
				}
			}
		})
	})
	return y
}

// swigluBlock is how many elements SwiGLU's backward pass takes at a time
// (its scratch stays in L1).
const swigluBlock = 1024
