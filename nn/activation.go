package nn

import (
	"math"

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
	xd := x.Value.Data
	bwd := tensor.GELUBackward
	if tanhApprox {
		bwd = tensor.GELUTanhBackward
	}
	n := len(xd)
	GELUValues(y.Value.Data, xd, tanhApprox)
	tp.Record(y, func() {
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
	return y
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
		for i, v := range xd[lo:hi] {
			yd[lo+i] = v * sigmoid(v)
		}
	})
	tp.Record(y, func() {
		g := tp.GradOf(x)
		if g == nil {
			return
		}
		dy := y.Grad.Data
		parallel.For(n, elemGrain, func(lo, hi int) {
			dx := g.Data[lo:hi]
			for i, v := range xd[lo:hi] {
				s := sigmoid(v)
				dx[i] += dy[lo+i] * s * (1 + v*(1-s))
			}
		})
	})
	return y
}

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }
