package nn

import (
	"fmt"
	"math"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// Attention is fused multi-head self-attention on the output of a fused qkv
// projection, laid out as timm's qkv.reshape(B, T, 3, H, D):
//
//	qkv: (B, T, 3C) = [q | k | v], each split into H heads of size D = C/H
//	y:   (B, T, C), heads concatenated (the input of the output projection)
//
// Per batch b and head h: S = q·kᵀ/√D (T,T), P = softmax(S) row-wise (with
// causal, S[i,j] = −∞ for j > i), y_h = P·v. The heads are read and written
// in place through strides (no permuted copies); the backward pass reads q,
// k, v from qkv itself, and P from the forward pass for short sequences or
// computed again, head by head, where it uses it (keepProbsMax).
//
// Backward, with dP = dy_h·vᵀ and dS = P ⊙ (dP − Σ_j dP⊙P):
// dv += Pᵀ·dy_h, dq += dS·k/√D, dk += dSᵀ·q/√D.
func Attention(tp *ag.Tape, qkv *ag.Var, heads int, causal bool) *ag.Var {
	if !tp.OK(qkv) {
		return tp.Dead()
	}
	s := qkv.Value.Shape
	if len(s) != 3 || s[2]%3 != 0 || heads < 1 || (s[2]/3)%heads != 0 {
		return tp.Fail(tensor.Errorf("attention", fmt.Sprintf("want qkv (B, T, 3C) with C divisible by %d heads", heads), s))
	}
	bsz, t, c3 := s[0], s[1], s[2]
	c := c3 / 3
	d := c / heads
	y := tp.NewOutputRaw([]int{bsz, t, c}, qkv)
	qd := qkv.Value.Data
	// head h of batch b: q at qkv[b, :, h·D:], k at +C, v at +2C, row stride 3C
	a := attnCore{
		b: bsz, h: heads, hkv: heads, tq: t, tk: t, d: d, causal: causal, prec: tp.Precision,
		q: operand{qd, 0, t * c3, d, c3},
		k: operand{qd, c, t * c3, d, c3},
		v: operand{qd, 2 * c, t * c3, d, c3},
		o: operand{y.Value.Data, 0, t * c, d, c},
	}
	var p []float32
	if y.RequiresGrad && a.keepsProbs() {
		// p: (B, H, T, T) attention probabilities for the backward pass
		p = tp.AllocRaw(bsz, heads, t, t).Data
	}
	a.forward(p)
	tp.Record(y, func() {
		g, fresh := tp.GradBuf(qkv)
		if g == nil {
			return
		}
		a.backwardQKV(p, qkv, y, g, fresh)
	})
	return y
}

// backwardQKV is the backward pass of y = attention(qkv) computed by a
// from a fused qkv: its gradient into g (fresh: g holds garbage). qkv's
// value is read now, not at the forward pass: a layer may have recomputed
// it (Tape.Recompute) into another buffer.
func (a attnCore) backwardQKV(p []float32, qkv, y *ag.Var, g *tensor.Tensor, fresh bool) {
	qd := qkv.Value.Data
	a.q.data, a.k.data, a.v.data = qd, qd, qd
	dq, dk, dv := a.q, a.k, a.v
	dq.data, dk.data, dv.data = g.Data, g.Data, g.Data
	do := a.o
	do.data = y.Grad.Data
	a.fresh = fresh
	a.backward(p, do, dq, dk, dv)
}

// AttentionFirst is Attention's output at the first token alone: token 0's
// query against every token's key and value, the rows a classifier that
// reads the cls token needs from a model's last block.
//
//	qkv: (B, T, 3C) as in Attention   →   y: (B, C) = Attention(qkv)[:, 0]
//
// Per batch b and head h: p = softmax(q₀·kᵀ/√D) (1, T), y_h = p·v. The
// backward pass gives k and v their whole gradient and q its row 0; the
// other rows of q's gradient are zero. It does 1/T of Attention's work.
func AttentionFirst(tp *ag.Tape, qkv *ag.Var, heads int) *ag.Var {
	if !tp.OK(qkv) {
		return tp.Dead()
	}
	s := qkv.Value.Shape
	if len(s) != 3 || s[1] < 1 || s[2]%3 != 0 || heads < 1 || (s[2]/3)%heads != 0 {
		return tp.Fail(tensor.Errorf("attention (first query)", fmt.Sprintf("want qkv (B, T, 3C) with C divisible by %d heads", heads), s))
	}
	bsz, t, c3 := s[0], s[1], s[2]
	c := c3 / 3
	d := c / heads
	y := tp.NewOutputRaw([]int{bsz, c}, qkv)
	qd := qkv.Value.Data
	// q: row 0 of batch b, head h at qkv[b, 0, h·D:]; k, v as in Attention
	a := attnCore{
		b: bsz, h: heads, hkv: heads, tq: 1, tk: t, d: d, prec: tp.Precision,
		q: operand{qd, 0, t * c3, d, c3},
		k: operand{qd, c, t * c3, d, c3},
		v: operand{qd, 2 * c, t * c3, d, c3},
		o: operand{y.Value.Data, 0, c, d, c},
	}
	var p []float32
	if y.RequiresGrad {
		// p: (B, H, 1, T) probabilities for the backward pass
		p = tp.AllocRaw(bsz, heads, 1, t).Data
	}
	a.forward(p)
	tp.Record(y, func() {
		g, fresh := tp.GradBuf(qkv)
		if g == nil {
			return
		}
		if fresh { // the backward stores q's row 0 and all of k, v: clear q's other rows
			for b := 0; b < bsz; b++ {
				clearRows(g.Data[b*t*c3+c3:], t-1, c, c3)
			}
		}
		a.backwardQKV(p, qkv, y, g, fresh)
	})
	return y
}

// ScaledDotProductAttention is softmax(q·kᵀ/√D)·v per batch and head, with
// an optional causal mask:
//
//	q: (B, H, Tq, D)   k, v: (B, Hkv, Tk, D)   →   y: (B, H, Tq, D)
//
// Hkv must divide H (grouped-query attention: query head h reads key/value
// head h/(H/Hkv)); Hkv = H is ordinary multi-head attention. With causal,
// query i attends to keys j ≤ i + Tk − Tq (aligned at the end, so that with
// a key/value cache the last query sees every key; Tq = Tk is the usual
// lower-triangular mask). A query row that sees no key outputs zeros.
//
// Backward as in Attention: dv += Pᵀ·dy, dq += dS·k/√D, dk += dSᵀ·q/√D.
func ScaledDotProductAttention(tp *ag.Tape, q, k, v *ag.Var, causal bool) *ag.Var {
	if !tp.OK(q, k, v) {
		return tp.Dead()
	}
	qs, ks, vs := q.Value.Shape, k.Value.Shape, v.Value.Shape
	if len(qs) != 4 || len(ks) != 4 || !tensor.SameShape(ks, vs) || qs[0] != ks[0] || qs[3] != ks[3] ||
		ks[1] < 1 || qs[1]%ks[1] != 0 {
		return tp.Fail(tensor.Errorf("sdpa", "want q (B, H, Tq, D), k and v (B, Hkv, Tk, D) with Hkv dividing H", qs, ks, vs))
	}
	bsz, h, tq, d := qs[0], qs[1], qs[2], qs[3]
	hkv, tk := ks[1], ks[2]
	y := tp.NewOutputRaw(qs, q, k, v)
	a := attnCore{
		b: bsz, h: h, hkv: hkv, tq: tq, tk: tk, d: d, causal: causal, prec: tp.Precision,
		q: operand{q.Value.Data, 0, h * tq * d, tq * d, d},
		k: operand{k.Value.Data, 0, hkv * tk * d, tk * d, d},
		v: operand{v.Value.Data, 0, hkv * tk * d, tk * d, d},
		o: operand{y.Value.Data, 0, h * tq * d, tq * d, d},
	}
	var p []float32
	if y.RequiresGrad && a.keepsProbs() {
		// p: (B, H, Tq, Tk) attention probabilities for the backward pass
		p = tp.AllocRaw(bsz, h, tq, tk).Data
	}
	a.forward(p)
	a.record(tp, y, q, k, v, p)
	return y
}

// record records the backward pass of y = attention(q, k, v) computed by
// a from separate q, k and v (p: the kept probabilities, or nil).
func (a attnCore) record(tp *ag.Tape, y, q, k, v *ag.Var, p []float32) {
	tp.Record(y, func() {
		// the values read now (a producer may have recomputed them)
		a.q.data, a.k.data, a.v.data = q.Value.Data, k.Value.Data, v.Value.Data
		dq, dk, dv := a.q, a.k, a.v
		dq.data, dk.data, dv.data = nil, nil, nil
		if g := tp.GradOf(q); g != nil {
			dq.data = g.Data
		}
		if g := tp.GradOf(k); g != nil {
			dk.data = g.Data
		}
		if g := tp.GradOf(v); g != nil {
			dv.data = g.Data
		}
		do := a.o
		do.data = y.Grad.Data
		a.backward(p, do, dq, dk, dv)
	})
}

// QueryAttention is attention of one query per batch row against that
// row's leading keys (a classifier's last token, at a position that
// differs from row to row):
//
//	q: (B, H, 1, D)   k, v: (B, Hkv, T, D)   keys: B counts in [1, T]   →   y: (B, H, 1, D)
//
// Row b's query attends keys [0, keys[b]): y = softmax(q·kᵀ/√D)·v over
// them, the row of ScaledDotProductAttention's causal output at position
// keys[b]−1. Keys past keys[b] get no gradient. Hkv must divide H.
func QueryAttention(tp *ag.Tape, q, k, v *ag.Var, keys []int) *ag.Var {
	if !tp.OK(q, k, v) {
		return tp.Dead()
	}
	qs, ks, vs := q.Value.Shape, k.Value.Shape, v.Value.Shape
	if len(qs) != 4 || len(ks) != 4 || !tensor.SameShape(ks, vs) || qs[0] != ks[0] || qs[2] != 1 || qs[3] != ks[3] ||
		ks[1] < 1 || qs[1]%ks[1] != 0 || len(keys) != qs[0] {
		return tp.Fail(tensor.Errorf("query attention", fmt.Sprintf("want q (B, H, 1, D), k and v (B, Hkv, T, D) with Hkv dividing H, and B = %d key counts", len(keys)), qs, ks, vs))
	}
	bsz, h, d := qs[0], qs[1], qs[3]
	hkv, tk := ks[1], ks[2]
	for b, n := range keys {
		if n < 1 || n > tk {
			return tp.Fail(fmt.Errorf("nn: query attention: row %d sees %d keys, want 1 to %d", b, n, tk))
		}
	}
	y := tp.NewOutputRaw(qs, q, k, v)
	a := attnCore{
		b: bsz, h: h, hkv: hkv, tq: 1, tk: tk, d: d, prec: tp.Precision, nkeys: keys,
		q: operand{q.Value.Data, 0, h * d, d, d},
		k: operand{k.Value.Data, 0, hkv * tk * d, tk * d, d},
		v: operand{v.Value.Data, 0, hkv * tk * d, tk * d, d},
		o: operand{y.Value.Data, 0, h * d, d, d},
	}
	var p []float32
	if y.RequiresGrad {
		p = tp.AllocRaw(bsz, h, 1, tk).Data // (B, H, 1, T) probabilities for the backward pass
	}
	a.forward(p)
	a.record(tp, y, q, k, v, p)
	return y
}

// operand locates the (T, D) matrix of batch b and head h inside a buffer:
// it starts at off + b·bStride + h·hStride and its rows are ld apart.
type operand struct {
	data                      []float32
	off, bStride, hStride, ld int
}

func (o operand) at(b, h int) []float32 { return o.data[o.off+b*o.bStride+h*o.hStride:] }

// attnCore is the attention computation shared by Attention and
// ScaledDotProductAttention: B batches, H query heads reading Hkv key/value
// heads, Tq queries, Tk keys, head size D.
type attnCore struct {
	b, h, hkv, tq, tk, d int
	causal               bool
	prec                 tensor.Precision // of the products (the tape's)
	q, k, v, o           operand
	fresh                bool  // backward: dq, dk, dv hold garbage (see backward)
	nkeys                []int // one query row per batch (oneQuery): batch b's query sees keys [0, nkeys[b]); nil: all Tk
}

// visible is how many leading keys query row i may attend to.
func (a *attnCore) visible(i int) int {
	if !a.causal {
		return a.tk
	}
	return max(0, min(a.tk, i+a.tk-a.tq+1))
}

// causalBlock is the query-row block size of causal attention: each block of
// rows multiplies only the keys its last row can see, so the products skip
// most of the masked upper triangle (half the work for long sequences).
const causalBlock = 64

// rowBlock is the number of query rows per product: all of them without a
// mask, causalBlock with one (when that splits the rows at all).
func (a *attnCore) rowBlock() int {
	if a.causal && a.tq > causalBlock+causalBlock/2 {
		return causalBlock
	}
	return max(a.tq, 1)
}

// keepProbsMax is the largest Tq·Tk whose probabilities a training pass
// keeps for its backward pass (in a (B, H, Tq, Tk) buffer of the tape);
// longer sequences keep nothing, and the backward pass computes each
// head's P again (probs). Both give the same floats. Measured (2 cores,
// Zen 5): at ViT-Tiny's 197 tokens the kept buffer, 14.9 MB a layer at
// batch 32, cost as much time writing and reading it as the extra q·kᵀ
// does, and 170 MiB of peak memory; at the shipped backbone's 50 tokens the
// extra q·kᵀ, a product of a few microseconds, cost 3% of a training step.
var keepProbsMax = 128 * 128

// keepsProbs reports whether a training pass of a keeps P for its backward.
func (a *attnCore) keepsProbs() bool { return a.tq*a.tk <= keepProbsMax }

// forward computes o = softmax(q·kᵀ/√D)·v for every batch and head, in
// parallel over B·Hkv groups. p, if non-nil, receives the probabilities
// (B, H, Tq, Tk) for the backward pass; otherwise each head's P lives in
// the worker's scratch and the backward pass computes it again (probs).
func (a *attnCore) forward(p []float32) {
	tq, tk, d := a.tq, a.tk, a.d
	rep := a.h / a.hkv
	blk := a.rowBlock()
	scratch := 0
	if p == nil {
		scratch = tq * tk
	}
	forEach(a.b*a.hkv, scratch, func(g int, scr []float32) {
		b, kh := g/a.hkv, g%a.hkv
		vb := a.v.at(b, kh)
		for h := kh * rep; h < (kh+1)*rep; h++ {
			s := scr // s: (Tq, Tk)
			if p != nil {
				s = p[(b*a.h+h)*tq*tk : (b*a.h+h+1)*tq*tk]
			}
			ob := a.o.at(b, h)
			if a.oneQuery() {
				a.probsOne(b, h, s)
				// o (D) = Σ_j P[j]·v[j]
				o := ob[:d]
				clear(o)
				for j, pj := range s[:a.keysOf(b)] {
					tensor.Axpy(pj, vb[j*a.v.ld:j*a.v.ld+d], o)
				}
				continue
			}
			for i0 := 0; i0 < tq; i0 += blk {
				rows := min(blk, tq-i0)
				nk := a.probs(b, h, i0, rows, s)
				// o[i0:i0+rows] (rows, D) = P[i0:i0+rows, :nk]·v[:nk]
				a.prec.Sgemm(false, false, rows, d, nk, 1, s[i0*tk:], tk, vb, a.v.ld, 0, ob[i0*a.o.ld:], a.o.ld)
			}
		}
	})
}

// oneQuery reports whether a is one unmasked query row per head
// (AttentionFirst, QueryAttention): its products, a row against Tk rows of D, are then
// vector loops (probsOne, backwardOne) instead of matrix products of one
// row, which the blocked driver does not take and the portable loop runs
// slowly (B·H calls of a few thousand multiply-adds, k read across rows).
// They run in float32 at either precision, as Precision.Sgemm runs a
// product of fewer than 16 rows.
func (a *attnCore) oneQuery() bool { return a.tq == 1 && !a.causal }

// keysOf is how many leading keys batch b's query sees in a one-query a.
func (a *attnCore) keysOf(b int) int {
	if a.nkeys != nil {
		return a.nkeys[b]
	}
	return a.tk
}

// probsOne sets s[:Tk] to head h's probabilities of batch b for a
// one-query a: P[j] = softmax_j(q·k[j]/√D) over the keys it sees, 0 past
// them.
func (a *attnCore) probsOne(b, h int, s []float32) {
	d, sc, n := a.d, a.scale(), a.keysOf(b)
	q, kb := a.q.at(b, h)[:d], a.k.at(b, h/(a.h/a.hkv))
	for j := range n {
		s[j] = sc * tensor.Dot(q, kb[j*a.k.ld:j*a.k.ld+d])
	}
	tensor.SoftmaxRow(s[:n])
	clear(s[n:a.tk])
}

// backwardOne is backward's work for head h of batch b of a one-query a:
// with P the probabilities (ph) and dP[j] = do·v[j], dS = P ⊙ (dP − Σ dP⊙P),
// dv[j] += P[j]·do, dq += Σ_j dS[j]·k[j]/√D, dk[j] += dS[j]·q/√D (beta 0:
// stored instead of added). ds is Tk floats of scratch.
func (a *attnCore) backwardOne(b, h int, ph, ds []float32, do, dq, dk, dv operand, betaQ, betaKV float32) {
	d, tk, sc, n := a.d, a.tk, a.scale(), a.keysOf(b) // keys n… get no gradient: stored as 0 at beta 0
	kh := h / (a.h / a.hkv)
	kb, vb, qb := a.k.at(b, kh), a.v.at(b, kh), a.q.at(b, h)[:d]
	dor := do.at(b, h)[:d]
	row := func(o operand, base []float32, j int) []float32 { return base[j*o.ld : j*o.ld+d] }
	// outer adds coef(j)·src to row j of o's key/value head for the keys
	// the query sees (dv, dk); at beta 0 it stores them, the rest as 0
	outer := func(o operand, coef func(j int) float32, src []float32) {
		base := o.at(b, kh)
		for j := range tk {
			r := row(o, base, j)
			if betaKV == 0 {
				clear(r)
			}
			if j < n {
				tensor.Axpy(coef(j), src, r)
			}
		}
	}
	if dv.data != nil {
		outer(dv, func(j int) float32 { return ph[j] }, dor)
	}
	if dq.data == nil && dk.data == nil {
		return
	}
	for j := range n {
		ds[j] = tensor.Dot(dor, row(a.v, vb, j))
	}
	tensor.SoftmaxGradRows(ds, ph, 1, n, tk)
	if dq.data != nil {
		dqr := dq.at(b, h)[:d]
		if betaQ == 0 {
			clear(dqr)
		}
		for j := range n {
			tensor.Axpy(sc*ds[j], row(a.k, kb, j), dqr)
		}
	}
	if dk.data != nil {
		outer(dk, func(j int) float32 { return sc * ds[j] }, qb)
	}
}

// scale is 1/√D, the scores' factor.
func (a *attnCore) scale() float32 { return float32(1 / math.Sqrt(float64(a.d))) }

// probs sets rows i0 … i0+rows−1 of s (Tq, Tk) to head h's probabilities
// P = softmax(q·kᵀ/√D) of batch b (zero past the keys a row sees) and
// returns how many leading keys any of those rows sees. The forward and
// the backward pass both call it: the same floats each time.
func (a *attnCore) probs(b, h, i0, rows int, s []float32) int {
	tk := a.tk
	nk := a.visible(i0 + rows - 1) // keys any row of the block sees
	// S[i0:i0+rows, :nk] = q·kᵀ/√D
	a.prec.Sgemm(false, true, rows, nk, a.d, a.scale(), a.q.at(b, h)[i0*a.q.ld:], a.q.ld, a.k.at(b, h/(a.h/a.hkv)), a.k.ld, 0, s[i0*tk:], tk)
	if !a.causal { // every row sees all Tk keys
		tensor.SoftmaxRows(s[i0*tk:], rows, tk, tk)
		return nk
	}
	for i := i0; i < i0+rows; i++ {
		row := s[i*tk : (i+1)*tk]
		n := a.visible(i)
		if n > 0 {
			tensor.SoftmaxRow(row[:n])
		}
		clear(row[n:])
	}
	return nk
}

// backward accumulates the gradients of q, k and v (operands whose data is
// nil are skipped) from do, the gradient of the output, in parallel over
// B·Hkv groups (the query heads that share a key/value head run on one
// goroutine, so their dk, dv sums do not race). p holds the forward pass's
// probabilities, or is nil: then each row block's are computed again
// (probs) into the worker's scratch, where the products below find them
// in cache.
func (a *attnCore) backward(p []float32, do, dq, dk, dv operand) {
	tq, tk, d := a.tq, a.tk, a.d
	rep := a.h / a.hkv
	scale := a.scale()
	blk := a.rowBlock()
	needS := dq.data != nil || dk.data != nil
	// scratch: ds (Tq, Tk) = dP, then dS in place; and P when p is nil
	scratch := 2 * tq * tk
	if p != nil {
		scratch = tq * tk
	}
	forEach(a.b*a.hkv, scratch, func(g int, scr []float32) {
		ds, ph := scr[:tq*tk], scr[tq*tk:]
		b, kh := g/a.hkv, g%a.hkv
		kb, vb := a.k.at(b, kh), a.v.at(b, kh)
		if a.fresh && a.causal {
			// dk, dv accumulate over row blocks that see ever more keys:
			// cleared first. (Without a mask, one row block sees every key and
			// the group's first head stores them with beta 0, nothing cleared;
			// each row block stores its rows of dq once, with beta 0.)
			for _, o := range []operand{dk, dv} {
				if o.data != nil {
					clearRows(o.at(b, kh), tk, d, o.ld)
				}
			}
		}
		for h := kh * rep; h < (kh+1)*rep; h++ {
			dob, qb := do.at(b, h), a.q.at(b, h)
			// betaKV: 0 where this head's products store dk, dv first
			betaKV, betaQ := float32(1), float32(1)
			if a.fresh {
				betaQ = 0
				if !a.causal && h == kh*rep {
					betaKV = 0
				}
			}
			if p != nil {
				ph = p[(b*a.h+h)*tq*tk : (b*a.h+h+1)*tq*tk]
			}
			if a.oneQuery() {
				if p == nil {
					a.probsOne(b, h, ph)
				}
				a.backwardOne(b, h, ph, ds, do, dq, dk, dv, betaQ, betaKV)
				continue
			}
			for i0 := 0; i0 < tq; i0 += blk {
				rows := min(blk, tq-i0)
				nk := a.visible(i0 + rows - 1)
				if p == nil {
					a.probs(b, h, i0, rows, ph)
				}
				pb, dsb, dor := ph[i0*tk:], ds[i0*tk:], dob[i0*do.ld:]
				if dv.data != nil {
					// dv[:nk] (nk, D) += P[i0:i0+rows, :nk]ᵀ·do[i0:i0+rows]
					a.prec.Sgemm(true, false, nk, d, rows, 1, pb, tk, dor, do.ld, betaKV, dv.at(b, kh), dv.ld)
				}
				if !needS {
					continue
				}
				// dP (rows, nk) = do·vᵀ
				a.prec.Sgemm(false, true, rows, nk, d, 1, dor, do.ld, vb, a.v.ld, 0, dsb, tk)
				// dS = P ⊙ (dP − Σ_j dP⊙P)
				if a.causal {
					for i := i0; i < i0+rows; i++ {
						n := a.visible(i)
						tensor.SoftmaxGradRows(ds[i*tk:], ph[i*tk:], 1, n, tk)
						clear(ds[i*tk+n : (i+1)*tk])
					}
				} else { // every row sees all Tk keys
					tensor.SoftmaxGradRows(dsb, pb, rows, tk, tk)
				}
				if dq.data != nil {
					// dq[i0:i0+rows] (rows, D) += dS·k[:nk]/√D
					a.prec.Sgemm(false, false, rows, d, nk, scale, dsb, tk, kb, a.k.ld, betaQ, dq.at(b, h)[i0*dq.ld:], dq.ld)
				}
				if dk.data != nil {
					// dk[:nk] (nk, D) += dSᵀ·q[i0:i0+rows]/√D
					a.prec.Sgemm(true, false, nk, d, rows, scale, dsb, tk, qb[i0*a.q.ld:], a.q.ld, betaKV, dk.at(b, kh), dk.ld)
				}
			}
		}
	})
}

// clearRows zeroes rows×cols elements of a matrix with row stride ld.
func clearRows(m []float32, rows, cols, ld int) {
	for i := 0; i < rows; i++ {
		clear(m[i*ld : i*ld+cols])
	}
}

// CachedAttention is ScaledDotProductAttention against a key/value cache,
// for decoding (no gradients: the tape must be NoGrad):
//
//	q: (B, H, Tq, D)   kc, vc: (B, Hkv, Tmax, D), positions [0, tk) filled   →   y: (B, H, Tq, D)
//
// The queries are the last Tq of the tk positions: query i attends to the
// cached positions j ≤ tk − Tq + i (the causal mask aligned at the end).
func CachedAttention(tp *ag.Tape, q *ag.Var, kc, vc *tensor.Tensor, tk int) *ag.Var {
	if !tp.OK(q) {
		return tp.Dead()
	}
	if !tp.NoGrad {
		return tp.Fail(fmt.Errorf("nn: cached attention computes no gradients: use a NoGrad tape"))
	}
	qs, ks := q.Value.Shape, kc.Shape
	if len(qs) != 4 || len(ks) != 4 || !tensor.SameShape(ks, vc.Shape) || qs[0] != ks[0] || qs[3] != ks[3] ||
		ks[1] < 1 || qs[1]%ks[1] != 0 || tk < qs[2] || tk > ks[2] {
		return tp.Fail(tensor.Errorf("cached attention", fmt.Sprintf("want q (B, H, Tq, D), caches (B, Hkv, Tmax, D) with Hkv dividing H and Tq ≤ %d ≤ Tmax", tk), qs, ks, vc.Shape))
	}
	bsz, h, tq, d := qs[0], qs[1], qs[2], qs[3]
	hkv, tmax := ks[1], ks[2]
	y := tp.NewOutputRaw(qs, q)
	a := attnCore{
		b: bsz, h: h, hkv: hkv, tq: tq, tk: tk, d: d, causal: true, prec: tp.Precision,
		q: operand{q.Value.Data, 0, h * tq * d, tq * d, d},
		k: operand{kc.Data, 0, hkv * tmax * d, tmax * d, d},
		v: operand{vc.Data, 0, hkv * tmax * d, tmax * d, d},
		o: operand{y.Value.Data, 0, h * tq * d, tq * d, d},
	}
	a.forward(nil)
	return y
}
