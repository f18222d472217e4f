package optim

import (
	"fmt"

	"github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// SGD is torch.optim.SGD (maximize off). For each parameter p with gradient
// g, with wd the group's WeightDecay, μ = Momentum, τ = Dampening:
//
//	d ← g + wd·p                                  (L2 decay, added to the gradient)
//	b ← d on the first step, else μ·b + (1−τ)·d   (when μ ≠ 0)
//	d ← d + μ·b if Nesterov, else b               (when μ ≠ 0)
//	p ← p − lr·d
//
// The momentum buffer b is float32, created on a parameter's first step
// with a gradient.
type SGD struct {
	LR, Momentum, Dampening float64
	Nesterov                bool
	Groups                  []Group

	buf map[*autograd.Var][]float32
}

// NewSGD returns an SGD over groups (dampening 0).
func NewSGD(groups []Group, lr, momentum float64, nesterov bool) *SGD {
	return &SGD{LR: lr, Momentum: momentum, Nesterov: nesterov, Groups: groups}
}

// Update performs one step with the current gradients and o.LR, skipping
// parameters with nil Grad and frozen ones (RequiresGrad false). It fails,
// changing nothing, on a gradient whose size differs from its parameter's.
func (o *SGD) Update() error {
	for _, g := range o.Groups {
		for _, p := range g.Params {
			if p.Grad != nil && len(p.Grad.Data) != len(p.Value.Data) {
				return fmt.Errorf("optim: sgd: %w", tensor.Errorf("update", "gradient of "+nameOf(p)+" does not match its parameter", p.Value.Shape, p.Grad.Shape))
			}
		}
	}
	if o.buf == nil {
		o.buf = map[*autograd.Var][]float32{}
	}
	lr, wd := float32(o.LR), float32(0)
	mu, damp := float32(o.Momentum), float32(1-o.Dampening)
	for _, grp := range o.Groups {
		wd = float32(grp.WeightDecay)
		for _, p := range grp.Params {
			if p.Grad == nil || !p.RequiresGrad {
				continue
			}
			w, g := p.Value.Data, p.Grad.Data
			if o.Momentum == 0 {
				parallel.For(len(w), block, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						w[i] -= lr * (g[i] + wd*w[i])
					}
				})
				continue
			}
			b, ok := o.buf[p]
			if !ok {
				b = make([]float32, len(w))
				o.buf[p] = b
			}
			first, nest := !ok, o.Nesterov
			parallel.For(len(w), block, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					d := g[i] + wd*w[i]
					if first {
						b[i] = d
					} else {
						b[i] = mu*b[i] + damp*d
					}
					if nest {
						d += mu * b[i]
					} else {
						d = b[i]
					}
					w[i] -= lr * d
				}
			})
		}
	}
	return nil
}

// State returns the momentum buffers for a checkpoint (copies), keyed
// "<name>.momentum_buffer" for each parameter that has one (naming as in
// AdamW.State).
func (o *SGD) State() map[string]*tensor.Tensor {
	ps, keys := paramKeys(o.Groups)
	out := map[string]*tensor.Tensor{}
	for i, p := range ps {
		if b, ok := o.buf[p]; ok {
			out[keys[i]+".momentum_buffer"] = &tensor.Tensor{Shape: append([]int(nil), p.Value.Shape...), Data: append([]float32(nil), b...)}
		}
	}
	return out
}

// Load restores a State (copying it). A parameter without an entry starts
// without a buffer (as before its first step); an entry whose size differs
// from its parameter's is an error naming it, and then nothing changes.
func (o *SGD) Load(state map[string]*tensor.Tensor) error {
	ps, keys := paramKeys(o.Groups)
	nb := map[*autograd.Var][]float32{}
	for i, p := range ps {
		k := keys[i] + ".momentum_buffer"
		t, ok := state[k]
		if !ok || t == nil {
			continue
		}
		if len(t.Data) != len(p.Value.Data) {
			return fmt.Errorf("optim: sgd state: entry %q: %w", k, tensor.Errorf("load", "buffer does not match its parameter", t.Shape, p.Value.Shape))
		}
		nb[p] = append([]float32(nil), t.Data...)
	}
	o.buf = nb
	return nil
}
