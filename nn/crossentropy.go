package nn

import (
	"fmt"
	"math"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

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
// LinearCrossEntropy is this loss of a Linear layer's output without the
// logits held at all.
func CrossEntropy(tp *ag.Tape, logits *ag.Var, labels []int, smoothing float32) *ag.Var {
	if !tp.OK(logits) {
		return tp.Dead()
	}
	ls := logits.Value.Shape
	if len(ls) != 2 || ls[0] != len(labels) {
		return tp.Fail(tensor.Errorf("crossentropy", fmt.Sprintf("want logits (N, C) with N = %d labels", len(labels)), ls))
	}
	n, c := ls[0], ls[1]
	if err := checkTargets("crossentropy", ls, n, c, labels, smoothing); err != nil {
		return tp.Fail(err)
	}
	labels = append([]int(nil), labels...) // the caller may reuse its slice before Backward
	out := tp.NewOutput([]int{}, logits)
	lse := tp.AllocRaw(n).Data     // (N): log Σ exp of each row, kept for the backward pass
	rowLoss := tp.AllocRaw(n).Data // (N): per-row loss, summed in order for a deterministic result
	xd := logits.Value.Data
	s := float64(smoothing)
	ceRows(tp, n, c, true, func(e []float32, lo, hi int) {
		for r := lo; r < hi; r++ {
			x := xd[r*c : (r+1)*c]
			lse[r], rowLoss[r], _ = ceRow(e, x, tensor.Max(x), labels[r], s)
		}
	})
	out.Value.Data[0] = meanOf(rowLoss)
	tp.Record(out, func() {
		g, fresh := tp.GradBuf(logits)
		if g == nil {
			return
		}
		scale := out.Grad.Data[0] / float32(n)
		// e: a wide row's exp(x − lse), where dx holds a gradient already
		ceRows(tp, n, c, !fresh, func(e []float32, lo, hi int) {
			for r := lo; r < hi; r++ {
				ceGradRow(g.Data[r*c:(r+1)*c], e, xd[r*c:(r+1)*c], lse[r], labels[r], scale, s, !fresh)
			}
		})
	})
	return out
}

// checkTargets checks a cross-entropy's N labels against C classes and
// its label smoothing; shape is the logits' (or the weight's) for errors.
func checkTargets(op string, shape []int, n, c int, labels []int, smoothing float32) error {
	if c == 0 || n == 0 {
		return tensor.Errorf(op, "want at least one row and one class", shape)
	}
	for i, lb := range labels {
		if lb < 0 || lb >= c {
			return tensor.Errorf(op, fmt.Sprintf("label[%d] = %d outside [0, %d)", i, lb, c), shape)
		}
	}
	if smoothing < 0 || smoothing > 1 || math.IsNaN(float64(smoothing)) {
		return fmt.Errorf("nn: %s: label smoothing %v outside [0, 1]", op, smoothing)
	}
	return nil
}

// wideRow is the row width from which the cross-entropy takes its
// exponentials from the vector kernels.
const wideRow = 1024

// ceRows runs fn over n rows of c classes in parallel parts, each part
// with a scratch row e for a wide row's exponentials when scratch is set
// (nil for narrow rows, which need none): from the tape, handed back after,
// so that a training step makes no garbage here.
func ceRows(tp *ag.Tape, n, c int, scratch bool, fn func(e []float32, lo, hi int)) {
	parts := numParts(n, grainRows(c))
	var buf *tensor.Tensor
	if scratch && c >= wideRow {
		buf = tp.AllocRaw(parts, c)
		defer tp.Release(buf)
	}
	forParts(n, parts, func(p, lo, hi int) {
		var e []float32
		if buf != nil {
			e = buf.Data[p*c : (p+1)*c]
		}
		fn(e, lo, hi)
	})
}

// ceRow is one row's lse = log Σ exp x and its loss
// −(1−s)·log p[label] − s·mean_c log p[c], log p = x − lse in float32
// as the backward pass makes it; m is max x, e scratch for a wide row
// (ceRows). A wide row leaves exp(x − m) in e and their sum in sum (0 for
// a narrow row).
func ceRow(e, x []float32, m float32, label int, s float64) (lse, loss, sum float32) {
	if e != nil {
		lse, sum = logSumExp(e, x, m)
	} else {
		lse = logSumExp64(x, m)
	}
	l := -(1 - s) * float64(x[label]-lse)
	if s != 0 {
		var total float64 // Σ_c log p[c]
		for _, v := range x {
			total += float64(v - lse)
		}
		l -= s * total / float64(len(x))
	}
	return lse, float32(l), sum
}

// ceGradRow is one row's gradient scale·(p − q), p = exp(x − lse) and
// q = (1−s)·onehot(label) + s/C, added to dx (add) or written over it (dx
// may then be x itself). e is scratch for a wide row where add is set.
func ceGradRow(dx, e, x []float32, lse float32, label int, scale float32, s float64, add bool) {
	uniform := float32(s) / float32(len(x))
	switch {
	case len(x) < wideRow:
		for i, v := range x {
			t := scale * (float32(math.Exp(float64(v-lse))) - uniform)
			if add {
				dx[i] += t
			} else {
				dx[i] = t
			}
		}
	case add:
		for i, v := range x {
			e[i] = v - lse
		}
		tensor.Exp(e, e)
		tensor.Axpy(scale, e, dx)
		subConst(dx, scale*uniform)
	default: // the row is written whole: p is made in place
		for i, v := range x {
			dx[i] = v - lse
		}
		tensor.Exp(dx, dx)
		tensor.Scale(scale, dx)
		subConst(dx, scale*uniform)
	}
	dx[label] -= scale * float32(1-s)
}

// meanOf is the mean of per-row losses, summed in order in float64.
func meanOf(rowLoss []float32) float32 {
	var total float64
	for _, v := range rowLoss {
		total += float64(v)
	}
	return float32(total / float64(len(rowLoss)))
}

// logSumExp is log Σ exp x = m + log Σ exp(x − m), m = max x, by the
// vector kernels; it leaves exp(x − m) in e (len(x) floats) and returns
// their sum too.
func logSumExp(e, x []float32, m float32) (lse, sum float32) {
	for i, v := range x {
		e[i] = v - m
	}
	tensor.Exp(e, e)
	sum = tensor.Sum(e)
	return m + float32(math.Log(float64(sum))), sum
}

// ceGradFromExp turns e = exp(x − max x) of a wide row, whose sum is sum,
// into the row's gradient scale·(p − q) in place, p = e/sum and
// q = (1−s)·onehot(label) + s/C (LinearCrossEntropy: one exponential per
// logit, not two).
func ceGradFromExp(e []float32, label int, sum, scale float32, s float64) {
	tensor.Scale(scale/sum, e)
	subConst(e, scale*float32(s)/float32(len(e)))
	e[label] -= scale * float32(1-s)
}

// logSumExp64 is log Σ exp x = m + log Σ exp(x − m), m = max x, with the
// exponentials and their sum in float64.
func logSumExp64(x []float32, m float32) float32 {
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

// Argmax is the index of x's largest value, the first on ties (0 for a
// row of NaN or −Inf).
func Argmax(x []float32) int {
	best, bv := 0, float32(math.Inf(-1))
	for j, v := range x {
		if v > bv {
			best, bv = j, v
		}
	}
	return best
}

// isArgmax is Argmax(x) == label given m = tensor.Max(x) (the vector
// kernels' max, which the row's log Σ exp needs too): only a row whose
// label holds the maximum is scanned further (up to the label).
func isArgmax(x []float32, label int, m float32) bool {
	if m != m { // NaN: Argmax's own rules
		return Argmax(x) == label
	}
	if x[label] != m {
		return false
	}
	for _, v := range x[:label] {
		if v == m {
			return false
		}
	}
	return true
}

// CountCorrect is the number of rows of logits (N, C) whose arg-max
// (Argmax) is the label.
func CountCorrect(logits *tensor.Tensor, labels []int) int {
	c := logits.Shape[len(logits.Shape)-1]
	n := 0
	for r := 0; r < len(logits.Data)/max(c, 1) && r < len(labels); r++ {
		if Argmax(logits.Data[r*c:(r+1)*c]) == labels[r] {
			n++
		}
	}
	return n
}

// LinearCrossEntropy is CrossEntropy(x·wᵀ + b, labels, smoothing) with
// the logits never held whole: a language model's output layer, whose
// logits (B·T, vocabulary) and their gradient were the two largest buffers
// of its training step (262 MB each for stories15M at 8 × 256 tokens).
//
//	x: (N, in)   w: (C, in)   b: (C) or nil   labels: N ints in [0, C)   →   L: ()
//
// The forward pass takes the rows a chunk at a time (chunkRows): the
// chunk's logits z = x·wᵀ + b, its rows' losses, and the gradient as if
// dL were 1, dz = (p − q)/N written over z (CrossEntropy's rows), from
// which dx = dz·w, dw += dzᵀ·x and db += Σ_rows dz, for the inputs that
// need a gradient. Only dx (N, in), dw (C, in) and db are kept; the
// backward pass adds dL times them. It also returns how many rows have
// their label as arg-max logit (the first on ties), which the logits are
// no longer there to tell afterwards.
func LinearCrossEntropy(tp *ag.Tape, x, w, b *ag.Var, labels []int, smoothing float32) (*ag.Var, int) {
	if !tp.OK(x, w) {
		return tp.Dead(), 0
	}
	xs, ws := x.Value.Shape, w.Value.Shape
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] || xs[0] != len(labels) {
		return tp.Fail(tensor.Errorf("linearcrossentropy",
			fmt.Sprintf("want x (N, in) with N = %d labels and weight (C, in)", len(labels)), xs, ws)), 0
	}
	n, in, c := xs[0], xs[1], ws[0]
	if b != nil && (b.Value.Rank() != 1 || b.Value.Shape[0] != c) {
		return tp.Fail(tensor.Errorf("linearcrossentropy", fmt.Sprintf("bias must be (%d)", c), ws, b.Value.Shape)), 0
	}
	if err := checkTargets("linearcrossentropy", ws, n, c, labels, smoothing); err != nil {
		return tp.Fail(err), 0
	}
	inputs := []*ag.Var{x, w}
	var bias []float32
	if b != nil {
		inputs, bias = append(inputs, b), b.Value.Data
	}
	out := tp.NewOutput([]int{}, inputs...)
	grads := out.RequiresGrad
	var dx, dw, db []float32 // the gradients for dL = 1
	if grads && x.RequiresGrad {
		dx = tp.AllocRaw(n, in).Data
	}
	if grads && w.RequiresGrad {
		dw = tp.AllocRaw(c, in).Data
	}
	if grads && b != nil && b.RequiresGrad {
		db = tp.Alloc(c).Data
	}
	rowLoss := tp.AllocRaw(n).Data
	hit := make([]bool, n)
	s := float64(smoothing)
	rows := chunkRows(n, c)
	zbuf := tp.AllocRaw(rows, c)
	xd, wd := x.Value.Data, w.Value.Data
	for r0 := 0; r0 < n; r0 += rows {
		m := min(rows, n-r0)
		z, xc := zbuf.Data[:m*c], xd[r0*in:(r0+m)*in]
		// z (m, C) = x[r0:r0+m] (m, in) · wᵀ (in, C) + b
		tp.Precision.SgemmBiasThen(false, true, m, c, in, 1, xc, in, wd, in, bias, z, c, nil)
		ceRows(tp, m, c, true, func(e []float32, lo, hi int) {
			for r := lo; r < hi; r++ {
				zr, lb := z[r*c:(r+1)*c], labels[r0+r]
				mx := tensor.Max(zr)
				hit[r0+r] = isArgmax(zr, lb, mx)
				var lse, sum float32
				lse, rowLoss[r0+r], sum = ceRow(e, zr, mx, lb, s)
				switch {
				case !grads:
				case e != nil:
					// p = exp(z − max z) / Σ exp(z − max z): the exponentials
					// ceRow just made are left in e, their sum in sum
					copy(zr, e)
					ceGradFromExp(zr, lb, sum, 1/float32(n), s)
				default:
					ceGradRow(zr, nil, zr, lse, lb, 1/float32(n), s, false)
				}
			}
		})
		if dx != nil {
			// dx[r0:r0+m] (m, in) = dz (m, C) · w (C, in)
			tp.Precision.Sgemm(false, false, m, in, c, 1, z, c, wd, in, 0, dx[r0*in:(r0+m)*in], in)
		}
		if dw != nil {
			// dw (C, in) += dzᵀ (C, m) · x[r0:r0+m] (m, in)
			tp.Precision.Sgemm(true, false, c, in, m, 1, z, c, xc, in, betaFirst(r0 == 0), dw, in)
		}
		if db != nil {
			tensor.AddColSums(db, z, m, c) // db += Σ_rows dz
		}
	}
	tp.Release(zbuf)
	out.Value.Data[0] = meanOf(rowLoss)
	correct := 0
	for _, h := range hit {
		if h {
			correct++
		}
	}
	tp.Record(out, func() {
		dL := out.Grad.Data[0]
		for _, p := range []struct {
			v *ag.Var
			d []float32
		}{{x, dx}, {w, dw}, {b, db}} {
			if p.d == nil {
				continue
			}
			if g := tp.GradOf(p.v); g != nil {
				tensor.Axpy(dL, p.d, g.Data)
			}
		}
	})
	return out, correct
}

// chunkFloats is the size of the logits LinearCrossEntropy holds at a
// time: 8M floats (32 MB); tests make it smaller.
var chunkFloats = 8 << 20

// chunkRows is how many rows LinearCrossEntropy takes at a time: logits
// of about chunkFloats, whole multiples of 16 rows where that fits, at
// least one row.
func chunkRows(n, c int) int {
	r := chunkFloats / max(c, 1)
	if r >= 16 {
		r = r / 16 * 16
	}
	return min(max(r, 1), n)
}

// betaFirst is the GEMM beta that overwrites on the first chunk and adds
// on the others.
func betaFirst(first bool) float32 {
	if first {
		return 0
	}
	return 1
}
