package autograd

import (
	"fmt"

	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// Reductions along one axis view the operand as (outer, n, inner), with n the
// reduced axis, and produce (outer, inner), shaped as the operand without the
// axis, or with it kept as size 1 when keepdim. Negative axes count from the end.

// Sum is y = Σ_axis a.
//
//	a: (outer..., n, inner...)   →   y: (outer..., inner...)  or  (outer..., 1, inner...) with keepdim
//
// Backward: da[o,j,i] += dy[o,i] for every j.
func (tp *Tape) Sum(a *Var, axis int, keepdim bool) *Var {
	return tp.sumMean("sum", a, axis, keepdim, false)
}

// Mean is y = (1/n)·Σ_axis a.
//
// Backward: da[o,j,i] += dy[o,i]/n.
func (tp *Tape) Mean(a *Var, axis int, keepdim bool) *Var {
	return tp.sumMean("mean", a, axis, keepdim, true)
}

func (tp *Tape) sumMean(op string, a *Var, axis int, keepdim, mean bool) *Var {
	if !tp.OK(a) {
		return tp.Dead()
	}
	outer, n, inner, oshape, err := reduceShape(op, a.Value.Shape, axis, keepdim)
	if err != nil {
		return tp.Fail(err)
	}
	scale := float32(1)
	if mean && n > 0 {
		scale = 1 / float32(n)
	}
	// a: (outer, n, inner) → y: (outer, inner)
	y := tp.NewOutput(oshape, a)
	ad, yd := a.Value.Data, y.Value.Data
	grain := max(1, runGrain/max(n*inner, 1))
	parallel.For(outer, grain, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			src, dst := ad[o*n*inner:(o+1)*n*inner], yd[o*inner:(o+1)*inner]
			if inner == 1 {
				dst[0] = scale * tensor.Sum(src)
				continue
			}
			for j := 0; j < n; j++ {
				tensor.Axpy(scale, src[j*inner:(j+1)*inner], dst)
			}
		}
	})
	tp.Record(y, func() {
		if g := tp.GradOf(a); g != nil {
			dy := y.Grad.Data
			parallel.For(outer, grain, func(lo, hi int) {
				for o := lo; o < hi; o++ {
					dst, d := g.Data[o*n*inner:(o+1)*n*inner], dy[o*inner:(o+1)*inner]
					if inner == 1 {
						s := scale * d[0]
						for j := range dst {
							dst[j] += s
						}
						continue
					}
					// da[o,j,:] += scale·dy[o,:]
					for j := 0; j < n; j++ {
						tensor.Axpy(scale, d, dst[j*inner:(j+1)*inner])
					}
				}
			})
		}
	})
	return y
}

// Max is y = max_axis a.
//
//	a: (outer..., n, inner...)   →   y: (outer..., inner...)  or keepdim
//
// Backward: da[o,j*,i] += dy[o,i] at the arg-max j* (the first one on ties).
// Reducing an axis of size 0 is an error.
func (tp *Tape) Max(a *Var, axis int, keepdim bool) *Var {
	if !tp.OK(a) {
		return tp.Dead()
	}
	outer, n, inner, oshape, err := reduceShape("max", a.Value.Shape, axis, keepdim)
	if err != nil {
		return tp.Fail(err)
	}
	if n == 0 {
		return tp.Fail(tensor.Errorf("max", fmt.Sprintf("axis %d is empty", axis), a.Value.Shape))
	}
	// a: (outer, n, inner) → y: (outer, inner), arg: (outer, inner) indices j*
	y := tp.NewOutputRaw(oshape, a)
	ad, yd := a.Value.Data, y.Value.Data
	arg := make([]int32, len(yd))
	grain := max(1, runGrain/(n*inner))
	parallel.For(outer, grain, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			src := ad[o*n*inner : (o+1)*n*inner]
			dst, am := yd[o*inner:(o+1)*inner], arg[o*inner:(o+1)*inner]
			copy(dst, src[:inner])
			clear(am)
			for j := 1; j < n; j++ {
				row := src[j*inner : (j+1)*inner]
				for i, v := range row {
					if v > dst[i] { // strict: the first maximum wins ties
						dst[i], am[i] = v, int32(j)
					}
				}
			}
		}
	})
	tp.Record(y, func() {
		if g := tp.GradOf(a); g != nil {
			dy := y.Grad.Data
			for o := 0; o < outer; o++ {
				for i := 0; i < inner; i++ {
					k := o*inner + i
					g.Data[(o*n+int(arg[k]))*inner+i] += dy[k]
				}
			}
		}
	})
	return y
}

// SumAll is y = Σ a over every element.
//
//	a: (...)   →   y: ()
//
// Backward: da += dy. The sum accumulates in float64 across blocks.
func (tp *Tape) SumAll(a *Var) *Var { return tp.sumAll(a, false) }

// MeanAll is y = (1/N)·Σ a over all N elements (NaN for N = 0).
//
// Backward: da += dy/N.
func (tp *Tape) MeanAll(a *Var) *Var { return tp.sumAll(a, true) }

func (tp *Tape) sumAll(a *Var, mean bool) *Var {
	if !tp.OK(a) {
		return tp.Dead()
	}
	ad := a.Value.Data
	y := tp.NewOutputRaw([]int{}, a)
	var s float64
	for lo := 0; lo < len(ad); lo += 4096 {
		s += float64(tensor.Sum(ad[lo:min(lo+4096, len(ad))]))
	}
	scale := float32(1)
	if mean {
		scale = 1 / float32(len(ad))
		s /= float64(len(ad))
	}
	y.Value.Data[0] = float32(s)
	tp.Record(y, func() {
		if g := tp.GradOf(a); g != nil {
			d := scale * y.Grad.Data[0]
			parallel.For(len(ad), runGrain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					g.Data[i] += d
				}
			})
		}
	})
	return y
}

// reduceShape resolves axis on shape s and returns the (outer, n, inner) view
// and the output shape of a reduction along it.
func reduceShape(op string, s []int, axis int, keepdim bool) (outer, n, inner int, out []int, err error) {
	ax, ok := normAxis(axis, len(s))
	if !ok {
		return 0, 0, 0, nil, tensor.Errorf(op, fmt.Sprintf("axis %d out of range for rank %d", axis, len(s)), s)
	}
	outer, n, inner = tensor.Numel(s[:ax]), s[ax], tensor.Numel(s[ax+1:])
	out = append([]int(nil), s[:ax]...)
	if keepdim {
		out = append(out, 1)
	}
	out = append(out, s[ax+1:]...)
	return outer, n, inner, out, nil
}

// normAxis maps a possibly negative axis onto [0, rank).
func normAxis(axis, rank int) (int, bool) {
	if axis < 0 {
		axis += rank
	}
	return axis, axis >= 0 && axis < rank
}
