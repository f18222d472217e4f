package glora

import (
	"fmt"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// The fused GLoRA op: y = x·W'ᵀ + b' with W' = W0 + W0⊙A + B and
// b' = b0 + b0⊙D + E + W0·C, as one autograd operation whose backward pass
// is written by hand so that a step pays only for the paths the choice
// uses. With x: (N, in), W0: (out, in), dy = ∂L/∂y: (N, out), the forward
// pass is one GEMM and dx is one GEMM, as for a frozen Linear; only A = lora_r
// adds the (out, in) weight gradient:
//
//	A none            y = x·(W0 + B)ᵀ + b'                  dx = dy·(W0 + B)
//	A vector/const    y = y0⊙(1+a) + x·Bᵀ + b', y0 = x·W0ᵀ   dx = dy·(diag(1+a)·W0 + B)
//	                  da[o] = Σₙ dy[n,o]·y0[n,o]             (y0 kept: no (out, in) gradient)
//	A lora_r          y = x·W'ᵀ + b', W' = W0 + W0⊙(Ad[:, :r]·Au[:r]) + B built once
//	                  dx = dy·W', dW' = dyᵀ·x, dA = dW'⊙W0,
//	                  dAd[:, :r] = dA·Au[:r]ᵀ, dAu[:r] = Ad[:, :r]ᵀ·dA, dB from dW'
//	B vector/const    W'[o,i] += b[o]: x·Bᵀ = b[o]·Σᵢ x[n,i]  db[o] = Σₙ dy[n,o]·Σᵢ x[n,i]
//	B lora_r          x·Bᵀ = (x·Bu[:r]ᵀ)·Bd[:, :r]ᵀ          dBd[:, :r] = dyᵀ·t, t = x·Bu[:r]ᵀ (N, r)
//	                                                          dBu[:r] = (dy·Bd[:, :r])ᵀ·x
//	C, D, E           b' − b0 = b0⊙D + E + W0·C              from g = Σₙ dy: dD = b0⊙g, dE = g, dC = W0ᵀ·g
//
// Where the GEMM reads an (out, in) weight anyway (A none or lora, and every
// dx), B is added into it (Bd[:, :r]·Bu[:r] costs out·in·r, against the
// N·out·in of the layer) instead of running thin GEMMs over (N, out) and
// (N, in); with A vector/constant the forward pass keeps y0 apart and adds
// B with two thin GEMMs. The gradients of a lora B are always thin GEMMs
// (never the (out, in) gradient) unless A is lora too; with A none, a
// training pass takes t and dt = dy·Bd[:, :r] from the layer's own forward
// and dx products, as r more columns of each (loraAlong), so that only
// dyᵀ·t and dtᵀ·x remain thin.
//
// A vector reads column 0 of Xd (Xd[o, 0]), a constant Xd[0, 0] (D, E: X[0]);
// lora_r slices the first r columns of Xd and rows of Xu through the GEMM's
// leading dimension R, without copies. The frozen W0 and b0 get no gradient.

// fusedState is what the backward pass of one fused call needs.
type fusedState struct {
	l          *Layer
	prec       tensor.Precision // of the products (the tape's)
	lc         LayerChoice
	n, in, out int
	R          int
	x          *ag.Var
	w0, b0     []float32
	wp         *tensor.Tensor // the weight the forward GEMM read, (out, in) with row stride ldw, kept when x needs a gradient
	ldw        int            // wp's row stride: in, or in + r with B lora's factors alongside (loraAlong)
	y0         *tensor.Tensor // A vector/constant: x·W0ᵀ (N, out), kept when A needs a gradient
	t          *tensor.Tensor // B lora: x·Bu[:r]ᵀ (N, r), kept when Bd needs a gradient
	sx         []float32      // B vector/constant: Σᵢ x[n,i] (N), kept when Bd needs a gradient
	sA, bv     []float32      // 1+a and B's row values (out), for vector/constant A and B
	bs         []float32      // A vector/constant: the shift b' (out; zeros with a B vector and no bias), or nil
	y          *ag.Var        // the output, while RecomputeOutput may rebuild it from y0
}

// elemGrain is the number of elements a parallel chunk of an elementwise
// loop should hold at least.
const elemGrain = 1 << 14

// forRows runs fn over ranges of n rows of the given width on the worker pool.
func forRows(n, width int, fn func(lo, hi int)) {
	parallel.For(n, max(1, elemGrain/max(width, 1)), fn)
}

// scratch is a temporary buffer from the tape's pool (contents garbage),
// handed back early with tp.Release.
func scratch(tp *ag.Tape, shape ...int) *tensor.Tensor { return tp.AllocRaw(shape...) }

// used lists the stored tensors the choice reads.
func (l *Layer) used(lc LayerChoice) []*ag.Var {
	v := l.vars
	var out []*ag.Var
	for _, p := range [][3]int{{int(A), iAd, iAu}, {int(B), iBd, iBu}, {int(C), iCd, iCu}} {
		switch lc[p[0]].Kind {
		case LoRA:
			out = append(out, v[p[1]], v[p[2]])
		case Vector, Constant:
			out = append(out, v[p[1]])
		}
	}
	if lc[D].Kind != None {
		out = append(out, v[iD])
	}
	if lc[E].Kind != None {
		out = append(out, v[iE])
	}
	return out
}

// rowValues reads support A or B (vector: Xd[:, 0]; constant: Xd[0, 0]),
// or D or E (vector: X; constant: X[0]), as an (out) vector; stride is Xd's
// row stride (R; 1 for D, E).
func rowValues(x []float32, stride, out int, k Kind) []float32 {
	v := make([]float32, out)
	for o := range v {
		if k == Vector {
			v[o] = x[o*stride]
		} else {
			v[o] = x[0]
		}
	}
	return v
}

// addRowGrad maps the gradient g (out) of rowValues back onto the stored
// tensor's gradient: vector: dX[o·stride] += g[o]; constant: dX[0] += Σ g.
func addRowGrad(dx []float32, stride int, k Kind, g []float32) {
	if k == Vector {
		for o, v := range g {
			dx[o*stride] += v
		}
		return
	}
	var s float32
	for _, v := range g {
		s += v
	}
	dx[0] += s
}

// biasTerm is b' = b0 + b0⊙D + E + W0·C (out), or nil when the base has no
// bias and C, D, E are none. It adds in MergeLinear's order, so the merged
// bias is the same floats.
func (l *Layer) biasTerm(prec tensor.Precision, lc LayerChoice, w0, b0 []float32, out, in int) []float32 {
	if b0 == nil && lc[C].Kind == None && lc[D].Kind == None && lc[E].Kind == None {
		return nil
	}
	v := l.vars
	b := make([]float32, out)
	if b0 != nil {
		copy(b, b0)
		if k := lc[D].Kind; k != None {
			d := rowValues(v[iD].Value.Data, 1, out, k)
			for o := range b {
				b[o] += b0[o] * d[o]
			}
		}
	}
	if k := lc[E].Kind; k != None {
		tensor.Axpy(1, rowValues(v[iE].Value.Data, 1, out, k), b)
	}
	if c := l.cValues(prec, lc[C], in); c != nil {
		// b (out) += W0 (out, in) · c (in)
		prec.Sgemm(false, false, out, 1, in, 1, w0, in, c, 1, 1, b, 1)
	}
	return b
}

// cValues is support C as an (in) vector: lora_r: Cd[:, :r]·Cu[:r]; vector: Cd[:, 0].
func (l *Layer) cValues(prec tensor.Precision, c Choice, in int) []float32 {
	cd, cu, R := l.vars[iCd].Value.Data, l.vars[iCu].Value.Data, l.Rank()
	switch c.Kind {
	case LoRA:
		v := make([]float32, in)
		prec.Sgemm(false, false, in, 1, c.Rank, 1, cd, R, cu, 1, 0, v, 1)
		return v
	case Vector:
		return rowValues(cd, R, in, Vector)
	}
	return nil
}

// fused is ForwardThen for a choice that uses at least one path.
func (l *Layer) fused(tp *ag.Tape, x *ag.Var, then func(y []float32, i0, i1, j0, j1 int)) *ag.Var {
	out, in, R := l.Out(), l.In(), l.Rank()
	xs := x.Value.Shape
	if len(xs) < 1 || xs[len(xs)-1] != in || in < 1 {
		return tp.Fail(tensor.Errorf("glora", fmt.Sprintf("layer %s wants x (..., %d)", l.path, in), xs))
	}
	lc := l.choice
	v := l.vars
	s := &fusedState{l: l, prec: tp.Precision, lc: lc, n: x.Value.Numel() / in, in: in, out: out, R: R, x: x, w0: l.base.W.Value.Data, ldw: in}
	if l.base.B != nil {
		s.b0 = l.base.B.Value.Data
	}
	n, xd, w0 := s.n, x.Value.Data, s.w0
	oshape := append(append([]int(nil), xs[:len(xs)-1]...), out)
	y := tp.NewOutputRaw(oshape, append([]*ag.Var{x}, l.used(lc)...)...)
	rec := y.RequiresGrad
	yd := y.Value.Data

	bias := l.biasTerm(s.prec, lc, w0, s.b0, out, in)
	var blocks func(i0, i1, j0, j1 int) // then on y's blocks
	if then != nil {
		blocks = func(i0, i1, j0, j1 int) { then(yd, i0, i1, j0, j1) }
	}
	// linear sets y (N, out) = x (N, in) · wᵀ + b' (b' on every row, when there is one).
	linear := func(w []float32) {
		s.prec.SgemmBiasThen(false, true, n, out, in, 1, xd, in, w, in, bias, yd, out, blocks)
	}
	if k := lc[B].Kind; k == Vector || k == Constant {
		s.bv = rowValues(v[iBd].Value.Data, R, out, k)
	}

	switch lc[A].Kind {
	case LoRA:
		r := lc[A].Rank
		wp := scratch(tp, out, in)
		w := wp.Data
		// W' = W0 + W0⊙(Ad[:, :r]·Au[:r]) + B
		s.prec.Sgemm(false, false, out, in, r, 1, v[iAd].Value.Data, R, v[iAu].Value.Data, in, 0, w, in)
		forRows(out, in, func(lo, hi int) {
			for i := lo * in; i < hi*in; i++ {
				w[i] = w0[i] + w0[i]*w[i]
			}
		})
		s.addB(w, in)
		// y (N, out) = x (N, in) · W'ᵀ + b'
		linear(w)
		s.keepWeight(tp, wp, rec)
	case None:
		if s.loraAlong(rec) {
			s.forwardLoRAAlong(tp, xd, bias, yd, blocks, rec)
			break
		}
		w := w0
		var wp *tensor.Tensor
		if lc[B].Kind != None {
			// W0 + B: the B path folded into the weight the GEMM reads
			wp = scratch(tp, out, in)
			w = wp.Data
			copy(w, w0)
			s.addB(w, in)
		}
		// y = x·(W0 + B)ᵀ + b'
		linear(w)
		s.keepWeight(tp, wp, rec)
		s.keepBInputs(tp, rec)
	default: // Vector, Constant: y = y0 ⊙ (1+a) + B-term + b', y0 = x·W0ᵀ
		s.sA = rowValues(v[iAd].Value.Data, R, out, lc[A].Kind)
		for o := range s.sA {
			s.sA[o]++
		}
		src := yd // y0, kept apart from y when da needs it
		if rec && v[iAd].RequiresGrad {
			s.y0 = scratch(tp, n, out)
			src = s.y0.Data
		}
		var sx []float32
		if s.bv != nil {
			sx = rowSums(xd, n, in)
		}
		s.bs = bias
		if s.bs == nil && sx != nil {
			s.bs = make([]float32, out)
		}
		// y from y0 on each block of y0 as soon as the GEMM has finished it,
		// while it is in cache
		scaleShift := func(i0, i1, j0, j1 int) { s.scaleShift(yd, src, sx, i0, i1, j0, j1) }
		last := scaleShift // y's last pass: then follows it unless the B path adds to y after
		if blocks != nil && lc[B].Kind != LoRA {
			last = func(i0, i1, j0, j1 int) { scaleShift(i0, i1, j0, j1); blocks(i0, i1, j0, j1) }
		}
		// y0 = x·W0ᵀ
		s.prec.SgemmThen(false, true, n, out, in, 1, xd, in, w0, in, 0, src, out, last)
		if lc[B].Kind == LoRA {
			r := lc[B].Rank
			t := scratch(tp, n, r)
			// t (N, r) = x·Bu[:r]ᵀ;  y += t·Bd[:, :r]ᵀ
			s.prec.Sgemm(false, true, n, r, in, 1, xd, in, v[iBu].Value.Data, in, 0, t.Data, r)
			s.prec.SgemmThen(false, true, n, out, r, 1, t.Data, r, v[iBd].Value.Data, R, 1, yd, out, blocks)
			if rec && v[iBd].RequiresGrad {
				s.t = t
			} else {
				tp.Release(t)
			}
		}
		if rec && v[iBd].RequiresGrad {
			s.sx = sx
		}
	}
	tp.Record(y, func() {
		s.backward(tp, y.Grad.Data)
		if l.last == s { // not rebuilt: let go of the state (and through x, of the tape)
			l.last = nil
		}
	})
	l.last = nil
	if s.y0 != nil {
		s.y, l.last = y, s
	}
	return y
}

// scaleShift sets y[r,o] = y0[r,o]·(1+a[o]) + b'[o] (+ b[o]·sx[r] for B
// vector/constant, sx[r] = Σᵢ x[r,i]) for rows i0 ≤ r < i1 and columns
// j0 ≤ o < j1, in one pass a row (tensor.ScaleShift): each product and sum
// rounded on its own, no fused multiply-add.
func (s *fusedState) scaleShift(y, y0, sx []float32, i0, i1, j0, j1 int) {
	out, sa := s.out, s.sA[j0:j1]
	var bs, bv []float32
	if s.bs != nil {
		bs = s.bs[j0:j1]
		if sx != nil {
			bv = s.bv[j0:j1]
		}
	}
	for r := i0; r < i1; r++ {
		var x float32
		if bv != nil {
			x = sx[r]
		}
		tensor.ScaleShift(y[r*out+j0:r*out+j1], y0[r*out+j0:r*out+j1], sa, bs, bv, x)
	}
}

// ReadsInput implements nn.InputReader for the layer's current choice: the
// backward pass reads x for dW' = dyᵀ·x when A is lora and A or B needs a
// gradient, and for dBu[:r] = (dy·Bd[:, :r])ᵀ·x when B is lora, A is not and
// Bu needs one. The other paths keep what they need of x from the forward
// pass (t = x·Bu[:r]ᵀ, Σᵢ x[n,i]) or do not read it (A vector/constant reads
// y0; C, D, E read Σₙ dy); the base alone is a frozen Linear.
func (l *Layer) ReadsInput() bool {
	lc, v := l.choice, l.vars
	if l.merged || lc.IsBase() {
		return false
	}
	rg := func(i int) bool { return v[i].RequiresGrad }
	if lc[A].Kind == LoRA {
		return rg(iAd) || rg(iAu) || lc[B].Kind != None && rg(iBd) || lc[B].Kind == LoRA && rg(iBu)
	}
	return lc[B].Kind == LoRA && rg(iBu)
}

// RecomputeOutput implements nn.OutputRecomputer: with A vector or
// constant the layer keeps y0 = x·W0ᵀ for A's gradient, and its output y
// is y0 scaled and shifted (plus t·Bd[:, :r]ᵀ for a lora B, t kept for
// Bd's gradient), so y need not be held until the backward pass:
// Tape.Recompute releases it now and rebuilds it, the same floats, before
// its consumers' backward passes, for an elementwise pass (and a rank-r
// product) instead of N·out floats held. y must be this layer's output of
// the current forward pass, after its last use there; it reports whether
// y was released.
func (l *Layer) RecomputeOutput(tp *ag.Tape, y *ag.Var) bool {
	s := l.last
	if s == nil || s.y != y || s.bv != nil && s.sx == nil || s.lc[B].Kind == LoRA && s.t == nil {
		return false
	}
	mark := tp.After(y)
	if mark < 0 {
		return false
	}
	l.last = nil
	tp.Recompute(y, mark, func(dst []float32) {
		y0 := s.y0.Data
		forRows(s.n, s.out, func(lo, hi int) { s.scaleShift(dst, y0, s.sx, lo, hi, 0, s.out) })
		if c := s.lc[B]; c.Kind == LoRA {
			// y += t·Bd[:, :r]ᵀ, as the forward pass added it
			s.prec.Sgemm(false, true, s.n, s.out, c.Rank, 1, s.t.Data, c.Rank, s.l.vars[iBd].Value.Data, s.R, 1, dst, s.out)
		}
	})
	return true
}

// addB adds support B to an (out, in) matrix w of row stride ld: lora_r:
// Bd[:, :r]·Bu[:r] (a GEMM of out·in·r multiply-adds, far below the
// N·out·in of the layer); vector/constant: b[o] to every element of row o.
func (s *fusedState) addB(w []float32, ld int) {
	v, in, out := s.l.vars, s.in, s.out
	switch c := s.lc[B]; c.Kind {
	case LoRA:
		s.prec.Sgemm(false, false, out, in, c.Rank, 1, v[iBd].Value.Data, s.R, v[iBu].Value.Data, in, 1, w, ld)
	case Vector, Constant:
		forRows(out, in, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				row, b := w[o*ld:o*ld+in], s.bv[o]
				for i := range row {
					row[i] += b
				}
			}
		})
	}
}

// keepWeight keeps the (out, in) weight the forward GEMM read (nil: W0)
// for the backward pass's dx = dy·W when x needs a gradient, and hands it
// back to the pool otherwise.
func (s *fusedState) keepWeight(tp *ag.Tape, w *tensor.Tensor, rec bool) {
	if rec && s.x.RequiresGrad {
		s.wp = w
	} else {
		tp.Release(w)
	}
}

// keepBInputs computes, when A is none and B's down tensor Bd needs a
// gradient, what dBd reads: t = x·Bu[:r]ᵀ (N, r) for lora, Σᵢ x[n,i] for
// vector/constant.
func (s *fusedState) keepBInputs(tp *ag.Tape, rec bool) {
	v := s.l.vars
	if !rec || !v[iBd].RequiresGrad {
		return
	}
	xd, n, in := s.x.Value.Data, s.n, s.in
	switch c := s.lc[B]; c.Kind {
	case LoRA:
		s.t = scratch(tp, n, c.Rank)
		s.prec.Sgemm(false, true, n, c.Rank, in, 1, xd, in, v[iBu].Value.Data, in, 0, s.t.Data, c.Rank)
	case Vector, Constant:
		s.sx = rowSums(xd, n, in)
	}
}

// rowSums is Σᵢ x[n,i] for each row of an (n, width) matrix.
func rowSums(x []float32, n, width int) []float32 {
	out := make([]float32, n)
	forRows(n, width, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			out[r] = tensor.Sum(x[r*width : (r+1)*width])
		}
	})
	return out
}

// loraAlong reports whether a training pass with A none and B = lora_r
// computes B's rank-r products alongside the layer's own, in the products
// that read x and dy anyway: t = x·Bu[:r]ᵀ (for dBd) as r more columns of
// the forward product, dt = dy·Bd[:, :r] (for dBu) as r more columns of
// dx = dy·W' (SgemmSplit). Thin products of their own would read the
// (N, in) x or the (N, out) dy from memory once more for a few multiply-adds
// per element: in a bf16 rank-8 LoRA step on ViT-Tiny the four thin
// products gave back 60% of what the frozen weights' gradients saved.
func (s *fusedState) loraAlong(rec bool) bool {
	v := s.l.vars
	return rec && s.lc[A].Kind == None && s.lc[B].Kind == LoRA && (v[iBd].RequiresGrad || v[iBu].RequiresGrad && s.x.RequiresGrad)
}

// forwardLoRAAlong is the forward pass of A none, B = lora_r in training
// (loraAlong): one product y = x·W'ᵀ + b' that also makes t = x·Bu[:r]ᵀ.
// The weight it reads, kept for dx, is (out + r, in + r) with row stride
// ldw = in + r:
//
//	rows o < out:     [ W0[o] + (Bd[:, :r]·Bu[:r])[o]  |  Bd[o, :r] ]
//	rows out + k:     [ Bu[k]                          |  0         ]
//
// so that x·(its first in columns)ᵀ is [y | t] and dy·(its first out rows)
// is [dx | dt].
func (s *fusedState) forwardLoRAAlong(tp *ag.Tape, xd, bias, yd []float32, blocks func(i0, i1, j0, j1 int), rec bool) {
	v, n, in, out, R := s.l.vars, s.n, s.in, s.out, s.R
	r := s.lc[B].Rank
	ld := in + r
	wp := scratch(tp, out+r, ld)
	w := wp.Data
	bd, bu := v[iBd].Value.Data, v[iBu].Value.Data
	forRows(out, ld, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			copy(w[o*ld:o*ld+in], s.w0[o*in:(o+1)*in])
			copy(w[o*ld+in:(o+1)*ld], bd[o*R:o*R+r])
		}
	})
	for k := 0; k < r; k++ {
		row := w[(out+k)*ld : (out+k+1)*ld]
		copy(row, bu[k*in:(k+1)*in])
		clear(row[in:])
	}
	s.addB(w, ld) // W' = W0 + Bd[:, :r]·Bu[:r], in place
	s.ldw = ld
	if bias != nil {
		bias = append(bias[:out:out], make([]float32, r)...) // t has none
	}
	if !v[iBd].RequiresGrad { // t unused: y alone
		s.prec.SgemmBiasThen(false, true, n, out, in, 1, xd, in, w, ld, bias, yd, out, blocks)
	} else {
		// [y | t] (N, out + r) = x·[W'; Bu[:r]]ᵀ + [b' | 0]
		s.t = scratch(tp, n, r)
		s.prec.SgemmSplit(false, true, n, out+r, in, 1, xd, in, w, ld, 0, bias, yd, out, out, s.t.Data, r, blocks)
	}
	s.keepWeight(tp, wp, rec)
}
