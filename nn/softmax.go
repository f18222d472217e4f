package nn

import (
	"math"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// Softmax is y = exp(x − max x) / Σ exp(x − max x) over the last dimension.
//
//	x: (..., C)   →   y: (..., C)
//
// Backward: dx += y ⊙ (dy − Σ_c dy⊙y).
func Softmax(tp *ag.Tape, x *ag.Var) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	xs := x.Value.Shape
	if len(xs) < 1 {
		return tp.Fail(tensor.Errorf("softmax", "want x (..., C)", xs))
	}
	rows, c := lastDim(xs)
	y := tp.NewOutputRaw(xs, x)
	xd, yd := x.Value.Data, y.Value.Data
	parallel.For(rows, grainRows(c), func(lo, hi int) {
		copy(yd[lo*c:hi*c], xd[lo*c:hi*c])
		for r := lo; r < hi; r++ {
			tensor.SoftmaxRow(yd[r*c : (r+1)*c])
		}
	})
	tp.Record(y, func() {
		g := tp.GradOf(x)
		if g == nil {
			return
		}
		dy := y.Grad.Data
		parallel.For(rows, grainRows(c), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				tensor.SoftmaxRowBackward(g.Data[r*c:(r+1)*c], yd[r*c:(r+1)*c], dy[r*c:(r+1)*c])
			}
		})
	})
	return y
}

// LogSoftmax is y = x − max x − log Σ exp(x − max x) over the last dimension.
//
//	x: (..., C)   →   y: (..., C)
//
// Backward: dx += dy − exp(y)·Σ_c dy.
func LogSoftmax(tp *ag.Tape, x *ag.Var) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	xs := x.Value.Shape
	if len(xs) < 1 {
		return tp.Fail(tensor.Errorf("logsoftmax", "want x (..., C)", xs))
	}
	rows, c := lastDim(xs)
	y := tp.NewOutputRaw(xs, x)
	xd, yd := x.Value.Data, y.Value.Data
	parallel.For(rows, grainRows(c), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			logSoftmaxRow(yd[r*c:(r+1)*c], xd[r*c:(r+1)*c])
		}
	})
	tp.Record(y, func() {
		g := tp.GradOf(x)
		if g == nil {
			return
		}
		dy := y.Grad.Data
		parallel.For(rows, grainRows(c), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				yr, dyr, dx := yd[r*c:(r+1)*c], dy[r*c:(r+1)*c], g.Data[r*c:(r+1)*c]
				s := tensor.Sum(dyr)
				for i, v := range yr {
					dx[i] += dyr[i] - float32(math.Exp(float64(v)))*s
				}
			}
		})
	})
	return y
}

// logSoftmaxRow is y = x − max x − log Σ exp(x − max x); y may alias x.
func logSoftmaxRow(y, x []float32) {
	lse := logSumExp64(x, tensor.Max(x))
	for i, v := range x {
		y[i] = v - lse
	}
}
