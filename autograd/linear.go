package autograd

import (
	"fmt"

	"github.com/glora/glora/tensor"
)

// Linear is y = x·Wᵀ + b.
//
//	x: (..., in)   w: (out, in)   b: (out) or nil   →   y: (..., out)
//
// Backward: dx = dy·W, dW += dyᵀ·x, db += Σ_rows dy.
func (tp *Tape) Linear(x, w, b *Var) *Var { return tp.LinearThen(x, w, b, nil) }

// LinearThen is Linear that hands its output to then block by block, each
// block as soon as the product has finished it (tensor.Precision.SgemmBiasThen):
// then(y, i0, i1, j0, j1) for rows i0 ≤ i < i1 and columns j0 ≤ j < j1 of
// y (rows, out), the output's data. then must not change y.
func (tp *Tape) LinearThen(x, w, b *Var, then func(y []float32, i0, i1, j0, j1 int)) *Var {
	if !tp.OK(x, w) {
		return tp.Dead()
	}
	xs, ws := x.Value.Shape, w.Value.Shape
	if len(ws) != 2 || len(xs) < 1 || xs[len(xs)-1] != ws[1] {
		return tp.Fail(tensor.Errorf("linear", "want x (..., in) and weight (out, in)", xs, ws))
	}
	if b != nil && (b.Value.Rank() != 1 || b.Value.Shape[0] != ws[0]) {
		return tp.Fail(tensor.Errorf("linear", fmt.Sprintf("bias must be (%d)", ws[0]), ws, b.Value.Shape))
	}
	in, outF := ws[1], ws[0]
	rows := x.Value.Numel() / max(in, 1)
	oshape := append(append([]int(nil), xs[:len(xs)-1]...), outF)
	inputs := []*Var{x, w}
	if b != nil {
		inputs = append(inputs, b)
	}
	y := tp.NewOutputRaw(oshape, inputs...)
	yd := y.Value.Data
	var bias []float32
	if b != nil {
		bias = b.Value.Data
	}
	// y (rows,out) = x (rows,in) · Wᵀ (+ b)
	var blocks func(i0, i1, j0, j1 int)
	if then != nil {
		blocks = func(i0, i1, j0, j1 int) { then(yd, i0, i1, j0, j1) }
	}
	tp.Precision.SgemmBiasThen(false, true, rows, outF, in, 1, x.Value.Data, in, w.Value.Data, in, bias, yd, outF, blocks)
	tp.Record(y, func() {
		dy := y.Grad.Data
		if g, fresh := tp.GradBuf(x); g != nil {
			// dx (rows,in) += dy (rows,out) · W (out,in)   (= when fresh)
			tp.Precision.Sgemm(false, false, rows, in, outF, 1, dy, outF, w.Value.Data, in, betaFor(fresh), g.Data, in)
		}
		if g := tp.GradOf(w); g != nil {
			// dW (out,in) += dyᵀ (out,rows) · x (rows,in)
			tp.Precision.Sgemm(true, false, outF, in, rows, 1, dy, outF, x.Value.Data, in, 1, g.Data, in)
		}
		if b != nil {
			if g := tp.GradOf(b); g != nil {
				tensor.AddColSums(g.Data, dy, rows, outF) // db += Σ_rows dy
			}
		}
	})
	return y
}

// betaFor is the GEMM beta that accumulates into a gradient buffer, or
// overwrites it when the buffer is fresh (see GradBuf).
func betaFor(fresh bool) float32 {
	if fresh {
		return 0
	}
	return 1
}
