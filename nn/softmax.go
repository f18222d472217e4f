package nn

import (
	"fmt"
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
	lse := logSumExp64(x)
	for i, v := range x {
		y[i] = v - lse
	}
}

// CrossEntropy is the mean over N of the label-smoothed cross-entropy of
// logits against integer labels, as PyTorch's
// cross_entropy(logits, labels, label_smoothing=s):
//
//	L = (1/N) Σ_n [ (1−s)·(−log p[n, y_n]) + s·mean_c(−log p[n, c]) ],  p = softmax(logits)
//
//	logits: (N, C)   labels: N ints in [0, C)   →   L: ()
//
// Backward: dlogits += dL/N · (p − q) with the target distribution
// q = (1−s)·onehot(y) + s/C.
//
// Only each row's log Σ exp (N floats) is kept for the backward pass,
// which reads the logits themselves and makes log p = x − lse again: a
// language model's logits are (B·T, vocabulary), and a second copy of them
// was the largest buffer of its training step. Rows of at least wideRow
// classes (a vocabulary) take their exponentials from the vector kernels
// (tensor.Exp, relative error ≈ 2e-7); narrower ones (a classifier's
// head, where they cost nothing) from math.Exp, correctly rounded.
func CrossEntropy(tp *ag.Tape, logits *ag.Var, labels []int, smoothing float32) *ag.Var {
	if !tp.OK(logits) {
		return tp.Dead()
	}
	ls := logits.Value.Shape
	if len(ls) != 2 || ls[0] != len(labels) {
		return tp.Fail(tensor.Errorf("crossentropy", fmt.Sprintf("want logits (N, C) with N = %d labels", len(labels)), ls))
	}
	n, c := ls[0], ls[1]
	if c == 0 || n == 0 {
		return tp.Fail(tensor.Errorf("crossentropy", "want at least one row and one class", ls))
	}
	for i, lb := range labels {
		if lb < 0 || lb >= c {
			return tp.Fail(tensor.Errorf("crossentropy", fmt.Sprintf("label[%d] = %d outside [0, %d)", i, lb, c), ls))
		}
	}
	if smoothing < 0 || smoothing > 1 || math.IsNaN(float64(smoothing)) {
		return tp.Fail(fmt.Errorf("nn: crossentropy: label smoothing %v outside [0, 1]", smoothing))
	}
	labels = append([]int(nil), labels...) // the caller may reuse its slice before Backward
	out := tp.NewOutput([]int{}, logits)
	lse := tp.AllocRaw(n).Data     // (N): log Σ exp of each row, kept for the backward pass
	rowLoss := tp.AllocRaw(n).Data // (N): per-row loss, summed in order for a deterministic result
	xd := logits.Value.Data
	s := float64(smoothing)
	parallel.For(n, grainRows(c), func(lo, hi int) {
		var e []float32 // a wide row's exp(x − max x)
		if c >= wideRow {
			e = make([]float32, c)
		}
		for r := lo; r < hi; r++ {
			x := xd[r*c : (r+1)*c]
			var m float32 // log Σ exp x: −log p[n, c] = m − x[c], in float32 as the backward pass makes it
			if e != nil {
				m = logSumExp(e, x)
			} else {
				m = logSumExp64(x)
			}
			lse[r] = m
			l := -(1 - s) * float64(x[labels[r]]-m)
			if s != 0 {
				var sum float64
				for _, v := range x {
					sum += float64(v - m)
				}
				l -= s * sum / float64(c)
			}
			rowLoss[r] = float32(l)
		}
	})
	var total float64
	for _, v := range rowLoss {
		total += float64(v)
	}
	out.Value.Data[0] = float32(total / float64(n))
	tp.Record(out, func() {
		g, fresh := tp.GradBuf(logits)
		if g == nil {
			return
		}
		scale := out.Grad.Data[0] / float32(n)
		uniform := float32(s) / float32(c)
		hit := float32(1 - s)
		parallel.For(n, grainRows(c), func(lo, hi int) {
			var e []float32 // a wide row's exp(x − lse), where dx holds a gradient already
			if c >= wideRow && !fresh {
				e = make([]float32, c)
			}
			for r := lo; r < hi; r++ {
				x, dx, m := xd[r*c:(r+1)*c], g.Data[r*c:(r+1)*c], lse[r]
				switch {
				case c < wideRow:
					if fresh {
						clear(dx)
					}
					for i, v := range x {
						dx[i] += scale * (float32(math.Exp(float64(v-m))) - uniform)
					}
				case fresh: // the row is written whole: p is made in place
					for i, v := range x {
						dx[i] = v - m
					}
					tensor.Exp(dx, dx)
					tensor.Scale(scale, dx)
					subConst(dx, scale*uniform)
				default:
					for i, v := range x {
						e[i] = v - m
					}
					tensor.Exp(e, e)
					tensor.Axpy(scale, e, dx)
					subConst(dx, scale*uniform)
				}
				dx[labels[r]] -= scale * hit
			}
		})
	})
	return out
}

// wideRow is the row width from which CrossEntropy takes its exponentials
// from the vector kernels.
const wideRow = 1024

// logSumExp is log Σ exp x = max x + log Σ exp(x − max x) by the vector
// kernels, with e (len(x) floats) as scratch for the exponentials.
func logSumExp(e, x []float32) float32 {
	m := tensor.Max(x)
	for i, v := range x {
		e[i] = v - m
	}
	tensor.Exp(e, e)
	return m + float32(math.Log(float64(tensor.Sum(e))))
}

// logSumExp64 is log Σ exp x with the exponentials and their sum in float64.
func logSumExp64(x []float32) float32 {
	m := tensor.Max(x)
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v - m))
	}
	return m + float32(math.Log(s))
}

// subConst is x −= k (nothing for k = 0).
func subConst(x []float32, k float32) {
	if k != 0 {
		for i := range x {
			x[i] -= k
		}
	}
}
