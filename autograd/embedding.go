package autograd

import (
	"fmt"
	"slices"

	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// Embedding gathers rows of table: y[p, :] = table[ids[p], :].
//
//	table: (V, D)   ids: Numel(shape) values in [0, V)   →   y: (shape..., D)
//
// With no shape, ids is a flat list: y is (len(ids), D). Backward scatter-adds:
// dtable[ids[p], :] += dy[p, :] (a repeated id accumulates every use). The ids
// are copied, so the caller may reuse its slice before Backward.
func (tp *Tape) Embedding(table *Var, ids []int, shape ...int) *Var {
	if !tp.OK(table) {
		return tp.Dead()
	}
	ts := table.Value.Shape
	if len(ts) != 2 {
		return tp.Fail(tensor.Errorf("embedding", "table must be (V, D)", ts))
	}
	if len(shape) == 0 {
		shape = []int{len(ids)}
	}
	if n := tensor.Numel(shape); n != len(ids) || slices.ContainsFunc(shape, func(d int) bool { return d < 0 }) {
		return tp.Fail(tensor.Errorf("embedding", fmt.Sprintf("%d ids do not fill the ids shape", len(ids)), ts, shape))
	}
	v, d := ts[0], ts[1]
	for p, id := range ids {
		if id < 0 || id >= v {
			return tp.Fail(fmt.Errorf("autograd: embedding: id %d at position %d is outside the table's %d rows %s",
				id, p, v, tensor.ShapeString(ts)))
		}
	}
	ids = slices.Clone(ids)
	// y: (len(ids), D) rows of table (V, D)
	y := tp.NewOutputRaw(append(slices.Clone(shape), d), table)
	yd, td := y.Value.Data, table.Value.Data
	parallel.For(len(ids), max(1, runGrain/max(d, 1)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			copy(yd[p*d:(p+1)*d], td[ids[p]*d:(ids[p]+1)*d])
		}
	})
	tp.Record(y, func() {
		if g := tp.GradOf(table); g != nil {
			dy := y.Grad.Data
			// serial: repeated ids write the same row
			for p, id := range ids {
				tensor.Axpy(1, dy[p*d:(p+1)*d], g.Data[id*d:(id+1)*d])
			}
		}
	})
	return y
}
