package glora

import (
	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// The backward pass of the fused GLoRA op (see fused.go for the formulas).

// colReduce makes, in one pass over dy (n, out), the column sums
// g[o] = Σₙ dy[n,o] (if wantG), da[o] = Σₙ dy[n,o]·y0[n,o] (if y0 != nil)
// and db[o] = Σₙ dy[n,o]·sx[n] (if sx != nil), in parallel over strips of
// columns. Rows are taken four at a time, summed in pairs and the pairs
// added ((r0 + r1) + (r2 + r3), tensor.ColSums4), the rows left over one
// at a time; every column's sum has that fixed order, whatever the strips
// or the CPU.
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
	strips := (out + colStrip - 1) / colStrip
	parallel.For(strips, 1, func(lo, hi int) {
		lo, hi = lo*colStrip, min(hi*colStrip, out)
		cols := func(a []float32) []float32 {
			if a == nil {
				return nil
			}
			return a[lo:hi]
		}
		gs, das, dbs := cols(g), cols(da), cols(db)
		groups := n / 4
		var y0s []float32
		if y0 != nil {
			y0s = y0[lo:]
		}
		tensor.ColSums4(gs, das, dbs, dy[lo:], y0s, sx, groups, out)
		for r := 4 * groups; r < n; r++ {
			d := dy[r*out+lo : r*out+hi]
			if gs != nil {
				tensor.Axpy(1, d, gs)
			}
			if das != nil {
				yr := y0[r*out+lo : r*out+hi]
				for j := range das {
					das[j] += float32(d[j] * yr[j]) // float32(): no fused multiply-add
				}
			}
			if dbs != nil {
				tensor.Axpy(sx[r], d, dbs)
			}
		}
	})
	return
}

// colStrip is the columns colReduce hands a worker at a time: a whole
// number of ColSums4's strips (16 or 32 columns), few enough to spread a
// layer's outputs evenly over the cores.
const colStrip = 32

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
			s.prec.Sgemm(false, false, n, in, out, 1, dy, out, s.wp.Data, in, betaFor(fresh), gx.Data, in)
		}
		needB := lc[B].Kind != None && needs(iBd) || lc[B].Kind == LoRA && needs(iBu)
		if needs(iAd, iAu) || needB {
			gw := scratch(tp, out, in)
			G := gw.Data
			// dW' (out, in) = dyᵀ · x
			s.prec.Sgemm(true, false, out, in, n, 1, dy, out, xd, in, 0, G, in)
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
		var dt *tensor.Tensor // B lora: dy·Bd[:, :r], when dx's product made it
		if gx, fresh := tp.GradBuf(s.x); gx != nil {
			dt = s.inputGrad(tp, dy, gx.Data, fresh)
		}
		if lc[B].Kind == LoRA {
			s.loraBGrads(tp, dy, dt)
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
// dBu[:r] += dtᵀ·x with dt = dy·Bd[:, :r] (N, r), given (from dx's
// product, loraAlong) or made here. dt is handed back to the pool.
//
// dyᵀ·t is taken as its transpose tᵀ·dy (r, out), a few rows against dy's
// columns: the GEMM then packs the thin t, not the whole of dy transposed
// (3× faster at ViT sizes). Each element is the same sum in the same
// order, so on a gradient buffer that starts the step at zero (as a
// training step's does) the result is bit for bit the one dyᵀ·t gave.
func (s *fusedState) loraBGrads(tp *ag.Tape, dy []float32, dt *tensor.Tensor) {
	v, n, in, out, R := s.l.vars, s.n, s.in, s.out, s.R
	r := s.lc[B].Rank
	if gb := tp.GradOf(v[iBd]); gb != nil {
		// tmp (r, out) = tᵀ · dy;  dBd (out, R)[:, :r] += tmpᵀ
		tmp := scratch(tp, r, out)
		s.prec.Sgemm(true, false, r, out, n, 1, s.t.Data, r, dy, out, 0, tmp.Data, out)
		addTransposed(gb.Data, R, tmp.Data, r, out)
		tp.Release(tmp)
	}
	if gu := tp.GradOf(v[iBu]); gu != nil {
		if dt == nil {
			dt = scratch(tp, n, r)
			s.prec.Sgemm(false, false, n, r, out, 1, dy, out, v[iBd].Value.Data, R, 0, dt.Data, r)
		}
		s.prec.Sgemm(true, false, r, in, n, 1, dt.Data, r, s.x.Value.Data, in, 1, gu.Data, in)
	}
	tp.Release(dt)
}

// inputGrad is dx = dy·W when A is not lora, with one GEMM: W is the weight
// the forward GEMM read (W0 + B, or W0) or, for A vector/constant,
// diag(1+a)·W0 + B built here. Where the forward pass kept B lora's Bd
// beside W (loraAlong) and Bu needs a gradient, the same product also
// makes dt = dy·Bd[:, :r] (N, r), which it returns (else nil).
func (s *fusedState) inputGrad(tp *ag.Tape, dy, gx []float32, fresh bool) (dt *tensor.Tensor) {
	n, in, out := s.n, s.in, s.out
	w, ld := s.w0, in
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
		s.addB(w, in)
		defer tp.Release(ws)
	case s.wp != nil:
		w, ld = s.wp.Data, s.ldw
		defer tp.Release(s.wp)
	}
	if r := ld - in; r > 0 && s.l.vars[iBu].RequiresGrad {
		dt = scratch(tp, n, r)
		if !fresh {
			clear(dt.Data) // beta 1 adds into dt as into dx
		}
		// [dx | dt] (N, in + r) = dy · [W' | Bd[:, :r]]
		s.prec.SgemmSplit(false, false, n, in+r, out, 1, dy, out, w, ld, betaFor(fresh), nil, gx, in, in, dt.Data, r, nil)
		return dt
	}
	// dx (N, in) = dy · W
	s.prec.Sgemm(false, false, n, in, out, 1, dy, out, w, ld, betaFor(fresh), gx, in)
	return nil
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
			s.prec.Sgemm(false, true, out, c.Rank, in, 1, G, in, xu.Value.Data, in, 1, gd.Data, R)
		}
		if gu := tp.GradOf(xu); gu != nil {
			s.prec.Sgemm(true, false, c.Rank, in, out, 1, xd.Value.Data, R, G, in, 1, gu.Data, in)
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
	tp.Precision.Sgemm(true, false, in, 1, out, 1, w0, in, g, 1, 0, dc, 1)
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

// addTransposed adds src (rows, cols)ᵀ into dst (cols, ≥ rows; row stride
// ld): dst[c*ld+r] += src[r*cols+c].
func addTransposed(dst []float32, ld int, src []float32, rows, cols int) {
	for c := 0; c < cols; c++ {
		d := dst[c*ld : c*ld+rows]
		for r := range d {
			d[r] += src[r*cols+c]
		}
	}
}
