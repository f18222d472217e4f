package autograd

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/glora/glora/tensor"
)

// GradCheck compares the analytic gradients of f with central finite
// differences. f builds its output on the tape from inputs; the check reduces
// the output to the scalar L = Σ out ⊙ R with a fixed random R, so every
// output element's gradient is exercised. Every input that requires a gradient
// is checked element by element (at most maxPerInput elements each, spread
// evenly; ≤0 means all). An element passes when
// |analytic − numeric| ≤ atol + rtol·|numeric|. It returns the largest absolute
// difference seen and an error naming the first failing input and index.
func GradCheck(f func(tp *Tape, inputs []*Var) *Var, inputs []*Var, eps, atol, rtol float64, maxPerInput int) (float64, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	var proj []float32
	eval := func() (float64, error) {
		tp := NewTape()
		tp.NoGrad = true
		out := f(tp, inputs)
		if tp.Err() != nil {
			return 0, tp.Err()
		}
		var s float64
		for i, v := range out.Value.Data {
			s += float64(v) * float64(proj[i])
		}
		return s, nil
	}
	// analytic
	tp := NewTape()
	out := f(tp, inputs)
	if tp.Err() != nil {
		return 0, tp.Err()
	}
	proj = make([]float32, out.Value.Numel())
	for i := range proj {
		proj[i] = float32(rng.NormFloat64())
	}
	for _, in := range inputs {
		if in.Grad != nil {
			in.Grad.Zero()
		}
	}
	r := NewVar(&tensor.Tensor{Shape: out.Value.Shape, Data: proj}, false)
	loss := tp.dotForCheck(out, r)
	if err := tp.Backward(loss); err != nil {
		return 0, err
	}
	worst := 0.0
	for ii, in := range inputs {
		if !in.RequiresGrad {
			continue
		}
		if in.Grad == nil {
			return 0, fmt.Errorf("gradcheck: input %d (%s) received no gradient", ii, in.Name)
		}
		n := in.Value.Numel()
		step := 1
		if maxPerInput > 0 && n > maxPerInput {
			step = n / maxPerInput
		}
		for j := 0; j < n; j += step {
			orig := in.Value.Data[j]
			in.Value.Data[j] = orig + float32(eps)
			lp, err := eval()
			if err != nil {
				return 0, err
			}
			in.Value.Data[j] = orig - float32(eps)
			lm, err := eval()
			if err != nil {
				return 0, err
			}
			in.Value.Data[j] = orig
			num := (lp - lm) / (2 * eps)
			ana := float64(in.Grad.Data[j])
			d := math.Abs(ana - num)
			worst = math.Max(worst, d)
			if d > atol+rtol*math.Abs(num) || math.IsNaN(ana) {
				return worst, fmt.Errorf("gradcheck: input %d (%s %s) index %d: analytic %.6g, numeric %.6g",
					ii, in.Name, tensor.ShapeString(in.Value.Shape), j, ana, num)
			}
		}
	}
	return worst, nil
}

// dotForCheck is L = Σ a ⊙ b as a scalar Var (b constant), used by GradCheck
// so that it does not depend on the operations it checks.
func (tp *Tape) dotForCheck(a, b *Var) *Var {
	out := tp.NewOutput([]int{}, a)
	var s float64
	for i, v := range a.Value.Data {
		s += float64(v) * float64(b.Value.Data[i])
	}
	out.Value.Data[0] = float32(s)
	tp.Record(out, func() {
		if g := tp.GradOf(a); g != nil {
			go1 := out.Grad.Data[0]
			for i, bv := range b.Value.Data {
				g.Data[i] += go1 * bv
			}
		}
	})
	return out
}
