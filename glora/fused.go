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
// uses. With x: (N, in), W0: (out, in), dy = ∂L/∂y: (N, out):
//
//	A none           y  = x·W0ᵀ                       dx = dy·W0              (2 GEMMs: as a frozen Linear)
//	A vector/const   y  = y0 ⊙ (1+a),  y0 = x·W0ᵀ      dx = (dy⊙(1+a))·W0 = dy·(diag(1+a)·W0)
//	                 da[o] = Σₙ dy[n,o]·y0[n,o]                               (no out×in gradient)
//	B vector/const   y[n,o] += b[o]·Σᵢ x[n,i]          db[o] = Σₙ dy[n,o]·Σᵢ x[n,i],  dx[n,i] += Σₒ dy[n,o]·b[o]
//	B lora_r         y  += (x·Bu[:r]ᵀ)·Bd[:, :r]ᵀ      two thin GEMMs each way, never the (out, in) product
//	C, D, E          y[n,o] += b'[o] − b0[o]           from g = Σₙ dy: dD = b0⊙g, dE = g, dC = W0ᵀ·g
//	A lora_r         W' = W0 + W0⊙(Ad[:, :r]·Au[:r]) + B, built once (B folded in);
//	                 y = x·W'ᵀ, dx = dy·W', dW' = dyᵀ·x, dA = dW'⊙W0,
//	                 dAd[:, :r] = dA·Au[:r]ᵀ, dAu[:r] = Ad[:, :r]ᵀ·dA  (3 GEMMs: as full fine-tuning)
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

	if lc[A].Kind == LoRA {
		r := lc[A].Rank
		wp := scratch(tp, out, in)
		w := wp.Data
		// W' = W0 + W0⊙(Ad[:, :r]·Au[:r]) (+ B)
		tensor.Sgemm(false, false, out, in, r, 1, v[iAd].Value.Data, R, v[iAu].Value.Data, in, 0, w, in)
		forRows(out, in, func(lo, hi int) {
			for i := lo * in; i < hi*in; i++ {
				w[i] = w0[i] + w0[i]*w[i]
			}
		})
		switch lc[B].Kind {
		case LoRA:
			tensor.Sgemm(false, false, out, in, lc[B].Rank, 1, v[iBd].Value.Data, R, v[iBu].Value.Data, in, 1, w, in)
		case Vector, Constant:
			for o := 0; o < out; o++ {
				row, b := w[o*in:(o+1)*in], s.bv[o]
				for i := range row {
					row[i] += b
				}
			}
		}
		// y (N, out) = x (N, in) · W'ᵀ + b'
		tensor.Sgemm(false, true, n, out, in, 1, xd, in, w, in, fillBias(), yd, out)
		if rec && x.RequiresGrad {
			s.wp = wp
		} else {
			tp.Release(wp)
		}
	} else {
		switch lc[A].Kind {
		case None:
			// y = x·W0ᵀ + b'
			tensor.Sgemm(false, true, n, out, in, 1, xd, in, w0, in, fillBias(), yd, out)
		default: // Vector, Constant
			s.sA = rowValues(v[iAd].Value.Data, R, out, lc[A].Kind)
			for o := range s.sA {
				s.sA[o]++
			}
			src := yd // y0 = x·W0ᵀ, kept apart from y when da needs it
			if rec && v[iAd].RequiresGrad {
				s.y0 = scratch(tp, n, out)
				src = s.y0.Data
			}
			tensor.Sgemm(false, true, n, out, in, 1, xd, in, w0, in, 0, src, out)
			// y = y0 ⊙ (1+a) + b'
			forRows(n, out, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					yr, y0r := yd[r*out:(r+1)*out], src[r*out:(r+1)*out]
					if bias == nil {
						tensor.Mul(yr, y0r, s.sA)
						continue
					}
					for o, sa := range s.sA {
						yr[o] = y0r[o]*sa + bias[o]
					}
				}
			})
		}
		switch lc[B].Kind {
		case LoRA:
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
		case Vector, Constant:
			sx := rowSums(xd, n, in)
			// y[n,o] += b[o]·Σᵢ x[n,i]
			forRows(n, out, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					tensor.Axpy(sx[r], s.bv, yd[r*out:(r+1)*out])
				}
			})
			if rec && v[iBd].RequiresGrad {
				s.sx = sx
			}
		}
	}
	tp.Record(y, func() { s.backward(tp, y.Grad.Data) })
	return y
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
		for r := 0; r < n; r++ {
			row := dy[r*out+lo : r*out+hi]
			if g != nil {
				tensor.Axpy(1, row, g[lo:hi])
			}
			if da != nil {
				y0r, d := y0[r*out+lo:r*out+hi], da[lo:hi]
				for j, v := range row {
					d[j] += v * y0r[j]
				}
			}
			if db != nil {
				tensor.Axpy(sx[r], row, db[lo:hi])
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
		var dt *tensor.Tensor
		if lc[B].Kind == LoRA {
			r := lc[B].Rank
			bd, bu := v[iBd].Value.Data, v[iBu].Value.Data
			if gb := tp.GradOf(v[iBd]); gb != nil {
				// dBd[:, :r] (out, r) += dyᵀ · t
				tensor.Sgemm(true, false, out, r, n, 1, dy, out, s.t.Data, r, 1, gb.Data, R)
			}
			if v[iBu].RequiresGrad || s.x.RequiresGrad {
				dt = scratch(tp, n, r)
				// dt (N, r) = dy · Bd[:, :r]
				tensor.Sgemm(false, false, n, r, out, 1, dy, out, bd, R, 0, dt.Data, r)
			}
			if gu := tp.GradOf(v[iBu]); gu != nil {
				// dBu[:r] (r, in) += dtᵀ · x
				tensor.Sgemm(true, false, r, in, n, 1, dt.Data, r, xd, in, 1, gu.Data, in)
			}
			if gx, fresh := tp.GradBuf(s.x); gx != nil {
				// dx (N, in) = dt · Bu[:r], then the A/W0 term adds onto it
				tensor.Sgemm(false, false, n, in, r, 1, dt.Data, r, bu, in, betaFor(fresh), gx.Data, in)
			}
		}
		if gx, fresh := tp.GradBuf(s.x); gx != nil {
			s.inputGrad(tp, dy, gx.Data, fresh)
		}
		tp.Release(dt)
		tp.Release(s.t)
		tp.Release(s.y0)
	}
	if g != nil {
		l.biasGrads(tp, lc, g, w0, s.b0, out, in)
	}
}

// inputGrad adds the W0 (and A, B vector/constant) terms of dx when A is
// not lora: dx += dy·(diag(1+a)·W0) + (Σₒ dy[n,o]·b[o]) in every column.
func (s *fusedState) inputGrad(tp *ag.Tape, dy, gx []float32, fresh bool) {
	n, in, out := s.n, s.in, s.out
	w := s.w0
	if s.sA != nil {
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
		defer tp.Release(ws)
	}
	// dx (N, in) = dy · W0  (rows of W0 scaled by 1+a)
	tensor.Sgemm(false, false, n, in, out, 1, dy, out, w, in, betaFor(fresh), gx, in)
	if s.bv != nil {
		forRows(n, out+in, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				u := tensor.Dot(dy[r*out:(r+1)*out], s.bv)
				row := gx[r*in : (r+1)*in]
				for i := range row {
					row[i] += u
				}
			}
		})
	}
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
