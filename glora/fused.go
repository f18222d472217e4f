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
// (never the (out, in) gradient) unless A is lora too.
//
// A vector reads column 0 of Xd (Xd[o, 0]), a constant Xd[0, 0] (D, E: X[0]);
// lora_r slices the first r columns of Xd and rows of Xu through the GEMM's
// leading dimension R, without copies. The frozen W0 and b0 get no gradient.

// fusedState is what the backward pass of one fused call needs.
type fusedState struct {
	l          *Layer
	lc         LayerChoice
	n, in, out int
	R          int
	x          *ag.Var
	w0, b0     []float32
	wp         *tensor.Tensor // A lora: W' (out, in), kept when x needs a gradient
	y0         *tensor.Tensor // A vector/constant: x·W0ᵀ (N, out), kept when A needs a gradient
	t          *tensor.Tensor // B lora: x·Bu[:r]ᵀ (N, r), kept when Bd needs a gradient
	sx         []float32      // B vector/constant: Σᵢ x[n,i] (N), kept when Bd needs a gradient
	sA, bv     []float32      // 1+a and B's row values (out), for vector/constant A and B
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
func (l *Layer) biasTerm(lc LayerChoice, w0, b0 []float32, out, in int) []float32 {
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
	if c := l.cValues(lc[C], in); c != nil {
		// b (out) += W0 (out, in) · c (in)
		tensor.Sgemm(false, false, out, 1, in, 1, w0, in, c, 1, 1, b, 1)
	}
	return b
}

// cValues is support C as an (in) vector: lora_r: Cd[:, :r]·Cu[:r]; vector: Cd[:, 0].
func (l *Layer) cValues(c Choice, in int) []float32 {
	cd, cu, R := l.vars[iCd].Value.Data, l.vars[iCu].Value.Data, l.Rank()
	switch c.Kind {
	case LoRA:
		v := make([]float32, in)
		tensor.Sgemm(false, false, in, 1, c.Rank, 1, cd, R, cu, 1, 0, v, 1)
		return v
	case Vector:
		return rowValues(cd, R, in, Vector)
	}
	return nil
}

// fused is Forward for a choice that uses at least one path.
func (l *Layer) fused(tp *ag.Tape, x *ag.Var) *ag.Var {
	out, in, R := l.Out(), l.In(), l.Rank()
	xs := x.Value.Shape
	if len(xs) < 1 || xs[len(xs)-1] != in || in < 1 {
		return tp.Fail(tensor.Errorf("glora", fmt.Sprintf("layer %s wants x (..., %d)", l.path, in), xs))
	}
	lc := l.choice
	v := l.vars
	s := &fusedState{l: l, lc: lc, n: x.Value.Numel() / in, in: in, out: out, R: R, x: x, w0: l.base.W.Value.Data}
	if l.base.B != nil {
		s.b0 = l.base.B.Value.Data
	}
	n, xd, w0 := s.n, x.Value.Data, s.w0
	oshape := append(append([]int(nil), xs[:len(xs)-1]...), out)
	y := tp.NewOutputRaw(oshape, append([]*ag.Var{x}, l.used(lc)...)...)
	rec := y.RequiresGrad
	yd := y.Value.Data

	bias := l.biasTerm(lc, w0, s.b0, out, in)
	// fillBias sets every row of y to b' and returns the GEMM beta to add onto it.
	fillBias := func() float32 {
		if bias == nil {
			return 0
		}
		forRows(n, out, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				copy(yd[r*out:(r+1)*out], bias)
			}
		})
		return 1
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
		tensor.Sgemm(false, false, out, in, r, 1, v[iAd].Value.Data, R, v[iAu].Value.Data, in, 0, w, in)
		forRows(out, in, func(lo, hi int) {
			for i := lo * in; i < hi*in; i++ {
				w[i] = w0[i] + w0[i]*w[i]
			}
		})
		s.addB(w)
		// y (N, out) = x (N, in) · W'ᵀ + b'
		tensor.Sgemm(false, true, n, out, in, 1, xd, in, w, in, fillBias(), yd, out)
		s.keepWeight(tp, wp, rec)
	case None:
		w := w0
		var wp *tensor.Tensor
		if lc[B].Kind != None {
			// W0 + B: the B path folded into the weight the GEMM reads
			wp = scratch(tp, out, in)
			w = wp.Data
			copy(w, w0)
			s.addB(w)
		}
		// y = x·(W0 + B)ᵀ + b'
		tensor.Sgemm(false, true, n, out, in, 1, xd, in, w, in, fillBias(), yd, out)
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
		tensor.Sgemm(false, true, n, out, in, 1, xd, in, w0, in, 0, src, out)
		var sx []float32
		if s.bv != nil {
			sx = rowSums(xd, n, in)
		}
		// y[n,o] = y0[n,o]·(1+a[o]) + b'[o] (+ b[o]·Σᵢ x[n,i] for B vector/constant)
		forRows(n, out, func(lo, hi int) {
			sa, bs := s.sA, bias
			if bs == nil && sx != nil {
				bs = make([]float32, out)
			}
			for r := lo; r < hi; r++ {
				yr, y0r := yd[r*out:(r+1)*out], src[r*out:(r+1)*out]
				yr, y0r = yr[:len(sa)], y0r[:len(sa)]
				if bs == nil {
					tensor.Mul(yr, y0r, sa)
					continue
				}
				bs := bs[:len(sa)]
				if sx == nil {
					for o, a := range sa {
						yr[o] = y0r[o]*a + bs[o]
					}
					continue
				}
				sr, bv := sx[r], s.bv[:len(sa)]
				for o, a := range sa {
					yr[o] = y0r[o]*a + bs[o] + bv[o]*sr
				}
			}
		})
		if lc[B].Kind == LoRA {
			r := lc[B].Rank
			t := scratch(tp, n, r)
			// t (N, r) = x·Bu[:r]ᵀ;  y += t·Bd[:, :r]ᵀ
			tensor.Sgemm(false, true, n, r, in, 1, xd, in, v[iBu].Value.Data, in, 0, t.Data, r)
			tensor.Sgemm(false, true, n, out, r, 1, t.Data, r, v[iBd].Value.Data, R, 1, yd, out)
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
	tp.Record(y, func() { s.backward(tp, y.Grad.Data) })
	return y
}

// addB adds support B to an (out, in) matrix w: lora_r: Bd[:, :r]·Bu[:r]
// (a GEMM of out·in·r multiply-adds, far below the N·out·in of the layer);
// vector/constant: b[o] to every element of row o.
func (s *fusedState) addB(w []float32) {
	v, in, out := s.l.vars, s.in, s.out
	switch c := s.lc[B]; c.Kind {
	case LoRA:
		tensor.Sgemm(false, false, out, in, c.Rank, 1, v[iBd].Value.Data, s.R, v[iBu].Value.Data, in, 1, w, in)
	case Vector, Constant:
		forRows(out, in, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				row, b := w[o*in:(o+1)*in], s.bv[o]
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
		tensor.Sgemm(false, true, n, c.Rank, in, 1, xd, in, v[iBu].Value.Data, in, 0, s.t.Data, c.Rank)
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

// colReduce makes, in one pass over dy (n, out), the column sums
// g[o] = Σₙ dy[n,o] (if wantG), da[o] = Σₙ dy[n,o]·y0[n,o] (if y0 != nil)
// and db[o] = Σₙ dy[n,o]·sx[n] (if sx != nil), in parallel over columns.
func colReduce(dy []float32, n, out int, wantG bool, y0, sx []float32) (g, da, db []float32) {
	if wantG {
		g = make([]float32, out)
	}
	if y0 != nil {
		da = make([]float32, out)
	}
	if sx != nil {
		db = make([]float32, out)
	}
	if g == nil && da == nil && db == nil {
		return
	}
	parallel.For(out, max(16, elemGrain/max(n, 1)), func(lo, hi int) {
		w := hi - lo
		var gs, das, dbs []float32
		if g != nil {
			gs = g[lo:hi]
		}
		if da != nil {
			das = da[lo:hi]
		}
		if db != nil {
			dbs = db[lo:hi]
		}
		row := func(m []float32, r int) []float32 { return m[r*out+lo : r*out+lo+w] }
		r := 0
		for ; r+4 <= n; r += 4 { // four rows per pass over the accumulators
			d0, d1, d2, d3 := row(dy, r), row(dy, r+1), row(dy, r+2), row(dy, r+3)
			if gs != nil {
				for j := range gs {
					gs[j] += (d0[j] + d1[j]) + (d2[j] + d3[j])
				}
			}
			if das != nil {
				p0, p1, p2, p3 := row(y0, r), row(y0, r+1), row(y0, r+2), row(y0, r+3)
				for j := range das {
					das[j] += (d0[j]*p0[j] + d1[j]*p1[j]) + (d2[j]*p2[j] + d3[j]*p3[j])
				}
			}
			if dbs != nil {
				s0, s1, s2, s3 := sx[r], sx[r+1], sx[r+2], sx[r+3]
				for j := range dbs {
					dbs[j] += (d0[j]*s0 + d1[j]*s1) + (d2[j]*s2 + d3[j]*s3)
				}
			}
		}
		for ; r < n; r++ {
			d := row(dy, r)
			if gs != nil {
				tensor.Axpy(1, d, gs)
			}
			if das != nil {
				yr := row(y0, r)
				for j := range das {
					das[j] += d[j] * yr[j]
				}
			}
			if dbs != nil {
				tensor.Axpy(sx[r], d, dbs)
			}
		}
	})
	return
}

// betaFor is the GEMM beta that writes a fresh gradient buffer (0) or adds
// to one that already holds a gradient (1).
func betaFor(fresh bool) float32 {
	if fresh {
		return 0
	}
	return 1
}

// backward is the hand-written backward pass of one fused call; dy: (N, out).
func (s *fusedState) backward(tp *ag.Tape, dy []float32) {
	l, lc, v := s.l, s.lc, s.l.vars
	n, in, out, R := s.n, s.in, s.out, s.R
	xd, w0 := s.x.Value.Data, s.w0
	needs := func(is ...int) bool {
		for _, i := range is {
			if v[i].RequiresGrad {
				return true
			}
		}
		return false
	}
	wantG := (lc[C].Kind != None && needs(iCd, iCu)) || (lc[D].Kind != None && needs(iD)) || (lc[E].Kind != None && needs(iE))
	var y0 []float32
	if s.y0 != nil {
		y0 = s.y0.Data
	}
	g, da, db := colReduce(dy, n, out, wantG, y0, s.sx)

	if lc[A].Kind == LoRA {
		if gx, fresh := tp.GradBuf(s.x); gx != nil {
			// dx (N, in) = dy · W'
			tensor.Sgemm(false, false, n, in, out, 1, dy, out, s.wp.Data, in, betaFor(fresh), gx.Data, in)
		}
		needB := lc[B].Kind != None && needs(iBd) || lc[B].Kind == LoRA && needs(iBu)
		if needs(iAd, iAu) || needB {
			gw := scratch(tp, out, in)
			G := gw.Data
			// dW' (out, in) = dyᵀ · x
			tensor.Sgemm(true, false, out, in, n, 1, dy, out, xd, in, 0, G, in)
			s.weightPathGrads(tp, B, G)
			if needs(iAd, iAu) {
				// dA = dW' ⊙ W0
				forRows(out, in, func(lo, hi int) { tensor.Mul(G[lo*in:hi*in], G[lo*in:hi*in], w0[lo*in:hi*in]) })
				s.weightPathGrads(tp, A, G)
			}
			tp.Release(gw)
		}
		tp.Release(s.wp)
	} else {
		if da != nil {
			addRowGrad(tp.GradOf(v[iAd]).Data, R, lc[A].Kind, da)
		}
		if db != nil {
			addRowGrad(tp.GradOf(v[iBd]).Data, R, lc[B].Kind, db)
		}
		if lc[B].Kind == LoRA {
			s.loraBGrads(tp, dy)
		}
		if gx, fresh := tp.GradBuf(s.x); gx != nil {
			s.inputGrad(tp, dy, gx.Data, fresh)
		}
		tp.Release(s.t)
		tp.Release(s.y0)
	}
	if g != nil {
		l.biasGrads(tp, lc, g, w0, s.b0, out, in)
	}
}

// loraBGrads are B = lora_r's gradients when A is not lora (no out×in
// gradient): dBd[:, :r] += dyᵀ·t with t = x·Bu[:r]ᵀ, and
// dBu[:r] += dtᵀ·x with dt = dy·Bd[:, :r] (N, r).
func (s *fusedState) loraBGrads(tp *ag.Tape, dy []float32) {
	v, n, in, out, R := s.l.vars, s.n, s.in, s.out, s.R
	r := s.lc[B].Rank
	if gb := tp.GradOf(v[iBd]); gb != nil {
		tensor.Sgemm(true, false, out, r, n, 1, dy, out, s.t.Data, r, 1, gb.Data, R)
	}
	if gu := tp.GradOf(v[iBu]); gu != nil {
		dt := scratch(tp, n, r)
		tensor.Sgemm(false, false, n, r, out, 1, dy, out, v[iBd].Value.Data, R, 0, dt.Data, r)
		tensor.Sgemm(true, false, r, in, n, 1, dt.Data, r, s.x.Value.Data, in, 1, gu.Data, in)
		tp.Release(dt)
	}
}

// inputGrad is dx = dy·W when A is not lora, with one GEMM: W is the weight
// the forward GEMM read (W0 + B, or W0) or, for A vector/constant,
// diag(1+a)·W0 + B built here.
func (s *fusedState) inputGrad(tp *ag.Tape, dy, gx []float32, fresh bool) {
	n, in, out := s.n, s.in, s.out
	w := s.w0
	switch {
	case s.sA != nil:
		ws := scratch(tp, out, in)
		w = ws.Data
		forRows(out, in, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				row, sa := w[o*in:(o+1)*in], s.sA[o]
				for i, w0 := range s.w0[o*in : (o+1)*in] {
					row[i] = w0 * sa
				}
			}
		})
		s.addB(w)
		defer tp.Release(ws)
	case s.wp != nil:
		w = s.wp.Data
		defer tp.Release(s.wp)
	}
	// dx (N, in) = dy · W
	tensor.Sgemm(false, false, n, in, out, 1, dy, out, w, in, betaFor(fresh), gx, in)
}

// weightPathGrads maps G = ∂L/∂(path s) (out, in) onto support s's stored
// tensors (A or B): lora_r: dXd[:, :r] += G·Xu[:r]ᵀ, dXu[:r] += Xd[:, :r]ᵀ·G;
// vector: dXd[o, 0] += Σᵢ G[o,i]; constant: dXd[0, 0] += Σ G.
func (s *fusedState) weightPathGrads(tp *ag.Tape, sp Support, G []float32) {
	in, out, R := s.in, s.out, s.R
	xd, xu := s.l.vars[iAd], s.l.vars[iAu]
	if sp == B {
		xd, xu = s.l.vars[iBd], s.l.vars[iBu]
	}
	switch c := s.lc[sp]; c.Kind {
	case LoRA:
		if gd := tp.GradOf(xd); gd != nil {
			tensor.Sgemm(false, true, out, c.Rank, in, 1, G, in, xu.Value.Data, in, 1, gd.Data, R)
		}
		if gu := tp.GradOf(xu); gu != nil {
			tensor.Sgemm(true, false, c.Rank, in, out, 1, xd.Value.Data, R, G, in, 1, gu.Data, in)
		}
	case Vector, Constant:
		if gd := tp.GradOf(xd); gd != nil {
			addRowGrad(gd.Data, R, c.Kind, rowSums(G, out, in))
		}
	}
}

// biasGrads maps g = Σₙ dy (out) onto C, D, E: dE = g, dD = b0⊙g (zero
// without a bias), dc = W0ᵀ·g with C vector: dCd[:, 0] += dc; C lora_r:
// dCd[i, k] += dc[i]·Cu[k], dCu[k] += Σᵢ Cd[i, k]·dc[i] (k < r).
func (l *Layer) biasGrads(tp *ag.Tape, lc LayerChoice, g, w0, b0 []float32, out, in int) {
	v, R := l.vars, l.Rank()
	if k := lc[E].Kind; k != None {
		if ge := tp.GradOf(v[iE]); ge != nil {
			addRowGrad(ge.Data, 1, k, g)
		}
	}
	if k := lc[D].Kind; k != None {
		if gd := tp.GradOf(v[iD]); gd != nil && b0 != nil {
			dd := make([]float32, out)
			tensor.Mul(dd, b0, g)
			addRowGrad(gd.Data, 1, k, dd)
		}
	}
	c := lc[C]
	if c.Kind == None || !(v[iCd].RequiresGrad || v[iCu].RequiresGrad) {
		return
	}
	dc := make([]float32, in)
	// dc (in) = W0ᵀ (in, out) · g (out)
	tensor.Sgemm(true, false, in, 1, out, 1, w0, in, g, 1, 0, dc, 1)
	cd, cu := v[iCd].Value.Data, v[iCu].Value.Data
	if c.Kind == Vector {
		if gcd := tp.GradOf(v[iCd]); gcd != nil {
			for i, d := range dc {
				gcd.Data[i*R] += d
			}
		}
		return
	}
	if gcd := tp.GradOf(v[iCd]); gcd != nil {
		for i, d := range dc {
			row := gcd.Data[i*R : i*R+c.Rank]
			for k := range row {
				row[k] += d * cu[k]
			}
		}
	}
	if gcu := tp.GradOf(v[iCu]); gcu != nil {
		for i, d := range dc {
			for k := 0; k < c.Rank; k++ {
				gcu.Data[k] += cd[i*R+k] * d
			}
		}
	}
}
