package autograd

import (
	"fmt"
	"slices"

	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// Reshape is y = a viewed with a new shape (one dimension may be −1).
//
//	a: (...)   →   y: shape, Numel(shape) = Numel(a)
//
// The value shares a's data (no copy); y's gradient is a buffer of its own,
// which GradOf allocates on first use. Backward: da += dy (same elements, same
// order).
func (tp *Tape) Reshape(a *Var, shape ...int) *Var {
	if !tp.OK(a) {
		return tp.Dead()
	}
	s, err := tensor.InferShape(a.Value.Numel(), shape)
	if err != nil {
		return tp.Fail(tensor.Errorf("reshape", err.Error(), a.Value.Shape, shape))
	}
	y := tp.Wrap(&tensor.Tensor{Shape: s, Data: a.Value.Data}, a)
	tp.Record(y, func() {
		if g := tp.GradOf(a); g != nil {
			tensor.Axpy(1, y.Grad.Data, g.Data)
		}
	})
	return y
}

// Permute reorders dimensions: y[i₀,…,i_{r−1}] = a[…] with dimension k of y
// being dimension perm[k] of a (as numpy.transpose; negative entries count
// from the end).
//
//	a: (d₀,…,d_{r−1})   →   y: (d_perm[0],…,d_perm[r−1])
//
// Backward: da += dy permuted back. Both passes copy runs along y's last
// dimension, contiguous when perm keeps the last dimension in place.
func (tp *Tape) Permute(a *Var, perm ...int) *Var {
	if !tp.OK(a) {
		return tp.Dead()
	}
	s := a.Value.Shape
	r := len(s)
	p := make([]int, r)
	seen := make([]bool, r)
	for i, d := range perm {
		ax, ok := normAxis(d, r)
		if !ok || seen[ax] || len(perm) != r {
			return tp.Fail(tensor.Errorf("permute", fmt.Sprintf("%v is not a permutation of %d axes", perm, r), s))
		}
		seen[ax], p[i] = true, ax
	}
	if len(perm) != r { // covers an empty perm for r > 0
		return tp.Fail(tensor.Errorf("permute", fmt.Sprintf("%v is not a permutation of %d axes", perm, r), s))
	}
	st := bcastStrides(s) // strides of a (0 on size-1 axes, never stepped with i > 0)
	oshape := make([]int, r)
	ost := make([]int, r) // stride in a of y's axis k
	for k, ax := range p {
		oshape[k], ost[k] = s[ax], st[ax]
	}
	y := tp.NewOutputRaw(oshape, a)
	yd, ad := y.Value.Data, a.Value.Data
	if len(yd) == 0 {
		return y
	}
	n := 1
	if r > 0 {
		n = oshape[r-1]
	}
	rows := len(yd) / max(n, 1)
	// each calls fn(o, src, stride) for every run of n elements of y starting at
	// o, whose elements are a[src + i·stride].
	each := func(fn func(o, src, stride int)) {
		inStride := 1
		if r > 0 {
			inStride = ost[r-1]
		}
		parallel.For(rows, max(1, runGrain/max(n, 1)), func(lo, hi int) {
			for row := lo; row < hi; row++ {
				src, q := 0, row
				for k := r - 2; k >= 0; k-- {
					src += (q % oshape[k]) * ost[k]
					q /= oshape[k]
				}
				fn(row*n, src, inStride)
			}
		})
	}
	// y: runs of a along a's axis perm[r−1]
	each(func(o, src, stride int) {
		dst := yd[o : o+n]
		if stride == 1 || n == 1 {
			copy(dst, ad[src:src+n])
			return
		}
		for i := range dst {
			dst[i] = ad[src+i*stride]
		}
	})
	tp.Record(y, func() {
		if g := tp.GradOf(a); g != nil {
			dy, gd := y.Grad.Data, g.Data
			each(func(o, src, stride int) {
				d := dy[o : o+n]
				if stride == 1 || n == 1 {
					tensor.Axpy(1, d, gd[src:src+n])
					return
				}
				for i, v := range d {
					gd[src+i*stride] += v
				}
			})
		}
	})
	return y
}

// Transpose swaps dimensions d0 and d1 (negative counts from the end):
// Permute with the identity permutation but for d0 ↔ d1.
func (tp *Tape) Transpose(a *Var, d0, d1 int) *Var {
	if !tp.OK(a) {
		return tp.Dead()
	}
	r := a.Value.Rank()
	x0, ok0 := normAxis(d0, r)
	x1, ok1 := normAxis(d1, r)
	if !ok0 || !ok1 {
		return tp.Fail(tensor.Errorf("transpose", fmt.Sprintf("axes %d, %d out of range for rank %d", d0, d1, r), a.Value.Shape))
	}
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	perm[x0], perm[x1] = x1, x0
	return tp.Permute(a, perm...)
}

// Slice is y = a[…, start:end, …] along axis (0 ≤ start ≤ end ≤ dim; a
// negative axis counts from the end).
//
//	a: (outer..., n, inner...)   →   y: (outer..., end−start, inner...)
//
// Backward: da[…, start:end, …] += dy.
func (tp *Tape) Slice(a *Var, axis, start, end int) *Var {
	if !tp.OK(a) {
		return tp.Dead()
	}
	s := a.Value.Shape
	ax, ok := normAxis(axis, len(s))
	if !ok || start < 0 || end < start || end > s[ax] {
		return tp.Fail(tensor.Errorf("slice", fmt.Sprintf("axis %d range [%d:%d] out of bounds", axis, start, end), s))
	}
	oshape := slices.Clone(s)
	oshape[ax] = end - start
	return tp.sliceAxis(a, ax, start, end, oshape)
}

// Index is y = a[…, i, …]: the sub-tensor at position i of axis, with the
// axis dropped (e.g. the class token x[:,0] of x (B,T,C) is Index(x, 1, 0)).
// Negative axis and i count from the end.
//
//	a: (outer..., n, inner...)   →   y: (outer..., inner...)
//
// Backward: da[…, i, …] += dy.
func (tp *Tape) Index(a *Var, axis, i int) *Var {
	if !tp.OK(a) {
		return tp.Dead()
	}
	s := a.Value.Shape
	ax, ok := normAxis(axis, len(s))
	if !ok {
		return tp.Fail(tensor.Errorf("index", fmt.Sprintf("axis %d out of range for rank %d", axis, len(s)), s))
	}
	j, ok := normAxis(i, s[ax])
	if !ok {
		return tp.Fail(tensor.Errorf("index", fmt.Sprintf("index %d out of range for axis %d of size %d", i, axis, s[ax]), s))
	}
	oshape := slices.Delete(slices.Clone(s), ax, ax+1)
	return tp.sliceAxis(a, ax, j, j+1, oshape)
}

// sliceAxis copies a[…, start:end, …] along ax into an output of oshape
// (which has end−start elements per outer index on that axis, or the axis
// dropped when it is 1).
func (tp *Tape) sliceAxis(a *Var, ax, start, end int, oshape []int) *Var {
	s := a.Value.Shape
	outer, n, inner := tensor.Numel(s[:ax]), s[ax], tensor.Numel(s[ax+1:])
	m := end - start
	// a: (outer, n, inner) → y: (outer, m, inner)
	y := tp.NewOutputRaw(oshape, a)
	yd, ad := y.Value.Data, a.Value.Data
	blk := m * inner
	grain := max(1, runGrain/max(blk, 1))
	parallel.For(outer, grain, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			copy(yd[o*blk:(o+1)*blk], ad[(o*n+start)*inner:])
		}
	})
	tp.Record(y, func() {
		if g := tp.GradOf(a); g != nil {
			dy := y.Grad.Data
			parallel.For(outer, grain, func(lo, hi int) {
				for o := lo; o < hi; o++ {
					off := (o*n + start) * inner
					tensor.Axpy(1, dy[o*blk:(o+1)*blk], g.Data[off:off+blk])
				}
			})
		}
	})
	return y
}

// Concat joins vs along axis (negative counts from the end); every operand has
// the same rank and the same dimensions off that axis.
//
//	vs[k]: (outer..., n_k, inner...)   →   y: (outer..., Σ n_k, inner...)
//
// Backward: dvs[k] += dy[…, off_k:off_k+n_k, …].
func (tp *Tape) Concat(axis int, vs ...*Var) *Var {
	if !tp.OK(vs...) {
		return tp.Dead()
	}
	if len(vs) == 0 {
		return tp.Fail(fmt.Errorf("autograd: concat: no operands"))
	}
	s0 := vs[0].Value.Shape
	ax, ok := normAxis(axis, len(s0))
	shapes := make([][]int, len(vs))
	for i, v := range vs {
		shapes[i] = v.Value.Shape
	}
	if !ok {
		return tp.Fail(tensor.Errorf("concat", fmt.Sprintf("axis %d out of range for rank %d", axis, len(s0)), shapes...))
	}
	total := 0
	for k, v := range vs {
		s := v.Value.Shape
		same := len(s) == len(s0)
		for d := 0; same && d < len(s); d++ {
			same = d == ax || s[d] == s0[d]
		}
		if !same {
			return tp.Fail(tensor.Errorf("concat", fmt.Sprintf("operand %d differs off axis %d", k, axis), shapes...))
		}
		total += s[ax]
	}
	outer, inner := tensor.Numel(s0[:ax]), tensor.Numel(s0[ax+1:])
	oshape := slices.Clone(s0)
	oshape[ax] = total
	// vs[k]: (outer, n_k, inner) → y: (outer, total, inner)
	y := tp.NewOutputRaw(oshape, vs...)
	yd := y.Value.Data
	rowLen := total * inner
	grain := max(1, runGrain/max(rowLen, 1))
	parallel.For(outer, grain, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			off := o * rowLen
			for _, v := range vs {
				blk := v.Value.Shape[ax] * inner
				copy(yd[off:off+blk], v.Value.Data[o*blk:(o+1)*blk])
				off += blk
			}
		}
	})
	tp.Record(y, func() {
		dy := y.Grad.Data
		start := 0
		for _, v := range vs {
			blk := v.Value.Shape[ax] * inner
			if g := tp.GradOf(v); g != nil {
				s := start
				parallel.For(outer, grain, func(lo, hi int) {
					for o := lo; o < hi; o++ {
						off := o*rowLen + s
						tensor.Axpy(1, dy[off:off+blk], g.Data[o*blk:(o+1)*blk])
					}
				})
			}
			start += blk
		}
	})
	return y
}
