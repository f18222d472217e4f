package optim

import (
	"fmt"
	"math"

	"github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// AdamW is torch.optim.AdamW (amsgrad off, maximize off). For each parameter
// p with gradient g, at its step t (1, 2, …), with lr = o.LR and wd the
// group's WeightDecay:
//
//	p ← p·(1 − lr·wd)                       (decoupled weight decay, first)
//	m ← β1·m + (1−β1)·g
//	v ← β2·v + (1−β2)·g²
//	p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
//
// m and v are float32, created (zero) the first time a parameter has a
// gradient. Like PyTorch, each parameter keeps its own step count t, so a
// parameter skipped for having no gradient does not advance.
type AdamW struct {
	LR, Beta1, Beta2, Eps float64
	Groups                []Group
	Step                  int // number of Update calls

	state map[*autograd.Var]*adamState
}

type adamState struct {
	step int
	m, v []float32 // exp_avg, exp_avg_sq
}

// NewAdamW returns an AdamW over groups (PyTorch's defaults are lr 1e-3,
// betas (0.9, 0.999), eps 1e-8).
func NewAdamW(groups []Group, lr, beta1, beta2, eps float64) *AdamW {
	return &AdamW{LR: lr, Beta1: beta1, Beta2: beta2, Eps: eps, Groups: groups, state: map[*autograd.Var]*adamState{}}
}

// Update performs one optimisation step with the current gradients and o.LR.
// Parameters with nil Grad, and frozen ones (RequiresGrad false), are
// skipped: they get no state. It returns an error, changing
// nothing, if a gradient's size differs from its parameter's.
func (o *AdamW) Update() error {
	for _, g := range o.Groups {
		for _, p := range g.Params {
			if p.Grad != nil && len(p.Grad.Data) != len(p.Value.Data) {
				return fmt.Errorf("optim: adamw: %w", tensor.Errorf("update", "gradient of "+nameOf(p)+" does not match its parameter", p.Value.Shape, p.Grad.Shape))
			}
		}
	}
	if o.state == nil {
		o.state = map[*autograd.Var]*adamState{}
	}
	o.Step++
	for _, g := range o.Groups {
		for _, p := range g.Params {
			if p.Grad == nil || !p.RequiresGrad {
				continue
			}
			s := o.state[p]
			if s == nil {
				n := len(p.Value.Data)
				s = &adamState{m: make([]float32, n), v: make([]float32, n)}
				o.state[p] = s
			}
			s.step++
			o.updateParam(p.Value.Data, p.Grad.Data, s, g.WeightDecay)
		}
	}
	return nil
}

// updateParam is the fused per-parameter loop: decay, moments, step, in one
// pass over memory, split into blocks run in parallel for big parameters.
// The scalars are computed in float64 and rounded once, as PyTorch does.
func (o *AdamW) updateParam(w, g []float32, s *adamState, wd float64) {
	t := float64(s.step)
	bc1 := 1 - math.Pow(o.Beta1, t)
	bc2 := 1 - math.Pow(o.Beta2, t)
	// PyTorch divides by the scalar √(1−β2ᵗ) as a multiply by its float32 reciprocal.
	c := tensor.AdamWCoef{Beta1: float32(o.Beta1), OneMinusBeta1: float32(1 - o.Beta1),
		Beta2: float32(o.Beta2), OneMinusBeta2: float32(1 - o.Beta2), InvBC2: 1 / float32(math.Sqrt(bc2)),
		Eps: float32(o.Eps), Decay: float32(1 - o.LR*wd), StepSize: float32(o.LR / bc1)}
	m, v := s.m, s.v
	parallel.For(len(w), block, func(lo, hi int) {
		tensor.AdamWUpdate(w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], &c)
	})
}

// State returns the optimiser state for a checkpoint, sharing no memory with
// the optimiser: for each trainable parameter (keyed by its Name, see below)
// "<name>.exp_avg" and "<name>.exp_avg_sq" (the parameter's shape),
// "<name>.step" (shape (1)), and "step" (shape (1)), o.Step. A parameter
// never updated has zero moments and step 0. A parameter without a Name is
// keyed "param<i>", i its index across all groups; a repeated name gets
// "#<i>" appended. Steps are stored as float32 (exact below 2²⁴).
func (o *AdamW) State() map[string]*tensor.Tensor {
	ps, keys := paramKeys(o.Groups)
	out := map[string]*tensor.Tensor{"step": {Shape: []int{1}, Data: []float32{float32(o.Step)}}}
	for i, p := range ps {
		m := tensor.New(p.Value.Shape...)
		v := tensor.New(p.Value.Shape...)
		step := 0
		if s := o.state[p]; s != nil {
			copy(m.Data, s.m)
			copy(v.Data, s.v)
			step = s.step
		}
		out[keys[i]+".exp_avg"] = m
		out[keys[i]+".exp_avg_sq"] = v
		out[keys[i]+".step"] = &tensor.Tensor{Shape: []int{1}, Data: []float32{float32(step)}}
	}
	return out
}

// Load restores a State (copying it). Every trainable parameter needs its
// "<name>.exp_avg" and "<name>.exp_avg_sq" entries with the parameter's
// element count, and "step" must be present; "<name>.step" is optional
// (default: "step"). On error nothing is changed; the error names the
// missing or mis-shaped entry.
func (o *AdamW) Load(state map[string]*tensor.Tensor) error {
	st, ok := state["step"]
	if !ok || st == nil || len(st.Data) != 1 {
		return fmt.Errorf("optim: adamw state: entry %q missing or not a single value", "step")
	}
	step, err := stepOf("step", st.Data[0])
	if err != nil {
		return err
	}
	ps, keys := paramKeys(o.Groups)
	ns := make(map[*autograd.Var]*adamState, len(ps))
	for i, p := range ps {
		s := &adamState{step: step}
		for _, e := range []struct {
			suffix string
			dst    *[]float32
		}{{".exp_avg", &s.m}, {".exp_avg_sq", &s.v}} {
			k := keys[i] + e.suffix
			t, ok := state[k]
			if !ok || t == nil {
				return fmt.Errorf("optim: adamw state: entry %q missing", k)
			}
			if len(t.Data) != len(p.Value.Data) {
				return fmt.Errorf("optim: adamw state: entry %q: %w", k, tensor.Errorf("load", "moment does not match its parameter", t.Shape, p.Value.Shape))
			}
			*e.dst = append([]float32(nil), t.Data...)
		}
		if t, ok := state[keys[i]+".step"]; ok && t != nil {
			if len(t.Data) != 1 {
				return fmt.Errorf("optim: adamw state: entry %q: %w", keys[i]+".step", tensor.Errorf("load", "want a single value", t.Shape))
			}
			if s.step, err = stepOf(keys[i]+".step", t.Data[0]); err != nil {
				return err
			}
		}
		ns[p] = s
	}
	o.Step = step
	o.state = ns
	return nil
}

func stepOf(key string, f float32) (int, error) {
	if f < 0 || f != float32(math.Trunc(float64(f))) || math.IsInf(float64(f), 0) {
		return 0, fmt.Errorf("optim: state entry %q: step %v is not a count", key, f)
	}
	return int(f), nil
}

func nameOf(p *autograd.Var) string {
	if p.Name == "" {
		return "a parameter"
	}
	return fmt.Sprintf("%q", p.Name)
}
