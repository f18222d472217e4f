package nn

import (
	"fmt"
	"math"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// LayerNorm normalises over the last dimension:
// y = (x − μ)·rstd ⊙ w + b, with μ and σ² the mean and (biased) variance of
// the row and rstd = 1/√(σ² + eps).
//
//	x: (..., C)   w: (C) or nil   b: (C) or nil   →   y: (..., C)
//
// Backward, with x̂ = (x − μ)·rstd and g = dy ⊙ w:
// dx += rstd·(g − mean(g) − x̂·mean(g⊙x̂)), dw += Σ_rows dy⊙x̂, db += Σ_rows dy.
func LayerNorm(tp *ag.Tape, x, w, b *ag.Var, eps float32) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	xs := x.Value.Shape
	if len(xs) < 1 {
		return tp.Fail(tensor.Errorf("layernorm", "want x (..., C)", xs))
	}
	rows, c := lastDim(xs)
	for _, p := range []*ag.Var{w, b} {
		if p != nil && (p.Value.Rank() != 1 || p.Value.Shape[0] != c) {
			return tp.Fail(tensor.Errorf("layernorm", fmt.Sprintf("weight and bias must be (%d)", c), xs, p.Value.Shape))
		}
	}
	var wd, bd []float32
	if w != nil {
		wd = w.Value.Data
	}
	if b != nil {
		bd = b.Value.Data
	}
	y := tp.NewOutputRaw(xs, inputs(x, w, b)...)
	// stats: (rows, 2) = μ, rstd per row, kept for the backward pass
	stats := tp.AllocRaw(rows, 2).Data
	xd, yd := x.Value.Data, y.Value.Data
	layerNormValues(yd, stats, xd, wd, bd, eps, c)
	tp.Record(y, func() {
		dy := y.Grad.Data
		gx := tp.GradOf(x)
		var gw, gb *tensor.Tensor
		if w != nil {
			gw = tp.GradOf(w)
		}
		if b != nil {
			gb = tp.GradOf(b)
		}
		parts := numParts(rows, grainRows(c))
		// partial (parts, 2, C): per-part Σ dy⊙x̂ and Σ dy, summed below
		var partial []float32
		if gw != nil || gb != nil {
			partial = tp.Alloc(parts, 2, c).Data
		}
		forParts(rows, parts, func(part, lo, hi int) {
			var pw, pb []float32
			if gw != nil {
				pw = partial[part*2*c : part*2*c+c]
			}
			if gb != nil {
				pb = partial[part*2*c+c : (part+1)*2*c]
			}
			for r := lo; r < hi; r++ {
				var dx []float32
				if gx != nil {
					dx = gx.Data[r*c : (r+1)*c]
				}
				tensor.LayerNormRowBackward(dx, pw, pb, dy[r*c:(r+1)*c], xd[r*c:(r+1)*c], wd, stats[2*r], stats[2*r+1])
			}
		})
		for p := 0; p < parts && partial != nil; p++ {
			if gw != nil {
				tensor.Axpy(1, partial[p*2*c:p*2*c+c], gw.Data)
			}
			if gb != nil {
				tensor.Axpy(1, partial[p*2*c+c:(p+1)*2*c], gb.Data)
			}
		}
	})
	return y
}

// layerNormValues is LayerNorm's forward pass over rows of c values, on
// the worker pool: y = (x − μ)·rstd ⊙ w + b per row, and (μ, rstd) per row
// in stats when it is not nil.
func layerNormValues(y, stats, x, w, b []float32, eps float32, c int) {
	parallel.For(len(x)/c, grainRows(c), func(lo, hi int) {
		var st []float32
		if stats != nil {
			st = stats[2*lo : 2*hi]
		}
		tensor.LayerNormRows(y[lo*c:hi*c], x[lo*c:hi*c], hi-lo, c, w, b, eps, st)
	})
}

// LayerNormRecompute drops y = LayerNorm(tp, x, w, b, eps) from memory
// until the backward pass, which recomputes it from x, exactly as the
// forward pass did, for the consumers recorded since mark (tp.Mark()
// right after y was made; see Tape.Recompute). LayerNorm's own backward
// reads x and its statistics, not y.
func LayerNormRecompute(tp *ag.Tape, y, x, w, b *ag.Var, eps float32, mark int) {
	var wd, bd []float32
	if w != nil {
		wd = w.Value.Data
	}
	if b != nil {
		bd = b.Value.Data
	}
	_, c := lastDim(x.Value.Shape)
	tp.Recompute(y, mark, func(dst []float32) { layerNormValues(dst, nil, x.Value.Data, wd, bd, eps, c) })
}

// rmsNormRow is one row of RMSNorm: y = x·r ⊙ w (w nil: 1), returning r.
func rmsNormRow(y, x, w []float32, eps float32) float32 {
	r := float32(1 / math.Sqrt(float64(tensor.Dot(x, x)/float32(len(x))+eps)))
	if w == nil {
		for i, v := range x {
			y[i] = v * r
		}
	} else {
		for i, v := range x {
			y[i] = v * r * w[i]
		}
	}
	return r
}

// RMSNormRecompute drops y = RMSNorm(tp, x, w, eps) from memory until the
// backward pass, which recomputes it from x, exactly as the forward pass
// did, for the consumers recorded since mark (tp.Mark() right after y was
// made; see Tape.Recompute). RMSNorm's own backward reads x and r, not y.
func RMSNormRecompute(tp *ag.Tape, y, x, w *ag.Var, eps float32, mark int) {
	var wd []float32
	if w != nil {
		wd = w.Value.Data
	}
	_, c := lastDim(x.Value.Shape)
	tp.Recompute(y, mark, func(dst []float32) {
		xd := x.Value.Data
		parallel.For(len(xd)/max(c, 1), grainRows(c), func(lo, hi int) {
			for row := lo; row < hi; row++ {
				rmsNormRow(dst[row*c:(row+1)*c], xd[row*c:(row+1)*c], wd, eps)
			}
		})
	})
}

// RMSNorm is y = x·r ⊙ w with r = 1/√(mean(x²) + eps) over the last
// dimension (LLaMA's RMSNorm); w may be nil (1).
//
//	x: (..., C)   w: (C) or nil   →   y: (..., C)
//
// Backward, with g = dy ⊙ w: dx += r·(g − x·r²·mean(g⊙x)), dw += Σ_rows dy⊙x·r.
func RMSNorm(tp *ag.Tape, x, w *ag.Var, eps float32) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	xs := x.Value.Shape
	if len(xs) < 1 {
		return tp.Fail(tensor.Errorf("rmsnorm", "want x (..., C)", xs))
	}
	rows, c := lastDim(xs)
	if w != nil && (w.Value.Rank() != 1 || w.Value.Shape[0] != c) {
		return tp.Fail(tensor.Errorf("rmsnorm", fmt.Sprintf("weight must be (%d)", c), xs, w.Value.Shape))
	}
	var wd []float32
	if w != nil {
		wd = w.Value.Data
	}
	y := tp.NewOutputRaw(xs, inputs(x, w)...)
	// rs: (rows) = r per row, kept for the backward pass
	rs := tp.AllocRaw(rows).Data
	xd, yd := x.Value.Data, y.Value.Data
	parallel.For(rows, grainRows(c), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			rs[row] = rmsNormRow(yd[row*c:(row+1)*c], xd[row*c:(row+1)*c], wd, eps)
		}
	})
	tp.Record(y, func() {
		dy := y.Grad.Data
		gx := tp.GradOf(x)
		var gw *tensor.Tensor
		if w != nil {
			gw = tp.GradOf(w)
		}
		parts := numParts(rows, grainRows(c))
		// partial (parts, C): per-part Σ dy⊙x·r, summed below;
		// g (parts, C): per-part scratch for dy⊙w
		var partial []float32
		if gw != nil {
			partial = tp.Alloc(parts, c).Data
		}
		gbuf := tp.AllocRaw(parts, c).Data
		forParts(rows, parts, func(part, lo, hi int) {
			g := gbuf[part*c : (part+1)*c]
			for row := lo; row < hi; row++ {
				xr, dyr := xd[row*c:(row+1)*c], dy[row*c:(row+1)*c]
				r := rs[row]
				if gw != nil {
					pw := partial[part*c : (part+1)*c]
					for i, v := range xr {
						pw[i] += dyr[i] * v * r
					}
				}
				if gx == nil {
					continue
				}
				if wd == nil {
					copy(g, dyr)
				} else {
					tensor.Mul(g, dyr, wd)
				}
				k := r * r * tensor.Dot(g, xr) / float32(c)
				dx := gx.Data[row*c : (row+1)*c]
				for i, v := range xr {
					dx[i] += r * (g[i] - v*k)
				}
			}
		})
		for p := 0; p < parts && gw != nil; p++ {
			tensor.Axpy(1, partial[p*c:(p+1)*c], gw.Data)
		}
	})
	return y
}
