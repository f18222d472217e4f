package nn

import (
	"fmt"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// Dropout is inverted dropout: y = x ⊙ m with m_i = 0 with probability p and
// 1/(1−p) otherwise, drawn from rng. With p == 0 or rng == nil (inference)
// it returns x itself, without a copy.
//
//	x: any shape   →   y: same shape
//
// Backward: dx += dy ⊙ m.
func Dropout(tp *ag.Tape, x *ag.Var, p float32, rng *rand.Rand) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	if !(p >= 0 && p <= 1) {
		return tp.Fail(fmt.Errorf("nn: dropout: probability %v outside [0, 1]", p))
	}
	if p == 0 || rng == nil {
		return x
	}
	scale := float32(0)
	if p < 1 {
		scale = 1 / (1 - p)
	}
	y := tp.NewOutputRaw(x.Value.Shape, x)
	// mask: same shape as x, 0 or 1/(1−p), kept for the backward pass
	mask := tp.AllocRaw(x.Value.Shape...).Data
	xd, yd := x.Value.Data, y.Value.Data
	for i := range mask {
		m := scale
		if rng.Float32() < p {
			m = 0
		}
		mask[i] = m
	}
	n := len(xd)
	parallel.For(n, elemGrain, func(lo, hi int) {
		tensor.Mul(yd[lo:hi], xd[lo:hi], mask[lo:hi])
	})
	tp.Record(y, func() {
		g := tp.GradOf(x)
		if g == nil {
			return
		}
		dy := y.Grad.Data
		parallel.For(n, elemGrain, func(lo, hi int) {
			dx := g.Data[lo:hi]
			for i, m := range mask[lo:hi] {
				dx[i] += dy[lo+i] * m
			}
		})
	})
	return y
}

// DropPath is stochastic depth (timm's drop_path): every sample of the
// leading dimension is zeroed whole with probability p and otherwise scaled
// by 1/(1−p): y[b] = x[b]·m_b. With p == 0 or rng == nil it returns x itself.
//
//	x: (B, ...)   →   y: (B, ...)
//
// Backward: dx[b] += dy[b]·m_b.
func DropPath(tp *ag.Tape, x *ag.Var, p float32, rng *rand.Rand) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	if !(p >= 0 && p <= 1) {
		return tp.Fail(fmt.Errorf("nn: droppath: probability %v outside [0, 1]", p))
	}
	if x.Value.Rank() < 1 {
		return tp.Fail(tensor.Errorf("droppath", "want x (B, ...)", x.Value.Shape))
	}
	if p == 0 || rng == nil {
		return x
	}
	scale := float32(0)
	if p < 1 {
		scale = 1 / (1 - p)
	}
	bsz := x.Value.Shape[0]
	per := x.Value.Numel() / max(bsz, 1)
	y := tp.NewOutputRaw(x.Value.Shape, x)
	// mask: (B) = 0 or 1/(1−p) per sample
	mask := tp.AllocRaw(bsz).Data
	for i := range mask {
		mask[i] = scale
		if rng.Float32() < p {
			mask[i] = 0
		}
	}
	xd, yd := x.Value.Data, y.Value.Data
	parallel.For(bsz, grainRows(per), func(lo, hi int) {
		for b := lo; b < hi; b++ {
			yr, xr := yd[b*per:(b+1)*per], xd[b*per:(b+1)*per]
			if mask[b] == 0 {
				clear(yr)
				continue
			}
			copy(yr, xr)
			tensor.Scale(mask[b], yr) // the floats of v·mask[b]: one rounding either way
		}
	})
	tp.Record(y, func() {
		g := tp.GradOf(x)
		if g == nil {
			return
		}
		dy := y.Grad.Data
		parallel.For(bsz, grainRows(per), func(lo, hi int) {
			for b := lo; b < hi; b++ {
				if mask[b] != 0 {
					tensor.Axpy(mask[b], dy[b*per:(b+1)*per], g.Data[b*per:(b+1)*per])
				}
			}
		})
	})
	return y
}
