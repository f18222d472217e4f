package glora

import (
	"fmt"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// Indices of a layer's stored tensors, in TensorNames' order.
const (
	iAd = iota
	iAu
	iBd
	iBu
	iCd
	iCu
	iD
	iE
)

// Layer is a frozen Linear layer (W0: (out, in), b0: (out) or none) with
// GLoRA's support paths (docs/DESIGN.md §1):
//
//	W' = W0 + W0⊙A + B
//	b' = b0 + b0⊙D + E + W0·C
//	y  = x·W'ᵀ + b'          x: (..., in) → y: (..., out)
//
// The stored support tensors are trainable parameters named
// "<module path>.glora_Ad" … ".glora_E" (PEFT's names and shapes, see
// LayerTensors); the current LayerChoice says which paths Forward reads.
// W0 and b0 never receive gradients.
//
// Forward pays only for the paths the choice uses (see fused.go): with every
// path none it is exactly the base Linear; only A = lora_r builds W' and the
// out×in weight gradient.
//
// Merge folds the choice into the base layer's W and b (Forward then runs
// the plain merged Linear); Unmerge puts the original W0 and b0 back, bit
// for bit.
type Layer struct {
	path   string
	base   *nn.Linear
	vars   [8]*ag.Var // TensorNames order
	choice LayerChoice

	merged    bool
	w0, b0    *tensor.Tensor // while merged: the original weight and bias (b0 nil for a bias-less base)
	addedBias bool           // while merged: the base had no bias and Merge gave it one

	// last is the current recorded forward pass's state where it kept y0,
	// until RecomputeOutput or the backward pass takes it (it holds the
	// tape through x: a layer outliving its tape must not keep it)
	last *fusedState
}

// NewLayer wraps base (its module path is path) with support tensors of
// stored rank R, initialised as NewLayerTensors does (every path zero: the
// layer computes the base layer's output) from rng. The choice starts with
// every path none.
func NewLayer(path string, base *nn.Linear, R int, rng *rand.Rand) (*Layer, error) {
	if err := checkBase(path, base); err != nil {
		return nil, err
	}
	if R < 1 {
		return nil, fmt.Errorf("glora: layer %q: rank %d must be ≥ 1", path, R)
	}
	t := NewLayerTensors(base.W.Value.Shape[0], base.W.Value.Shape[1], R, rng)
	return NewLayerWith(path, base, t)
}

// NewLayerWith wraps base with the given stored tensors (shared, not
// copied), e.g. read from an adapter file with FromMap; their shapes must
// fit the base layer.
func NewLayerWith(path string, base *nn.Linear, t LayerTensors) (*Layer, error) {
	if err := checkBase(path, base); err != nil {
		return nil, err
	}
	list := t.List()
	var vars [8]*ag.Var
	for i, v := range list {
		if v != nil {
			vars[i] = ag.Param(path+"."+TensorNames[i], v)
		}
	}
	return newLayerVars(path, base, vars)
}

// newLayerVars wraps base with the given parameters (TensorNames' order),
// checking their shapes.
func newLayerVars(path string, base *nn.Linear, vars [8]*ag.Var) (*Layer, error) {
	out, in := base.W.Value.Shape[0], base.W.Value.Shape[1]
	if vars[iAd] == nil || vars[iAd].Value.Rank() != 2 {
		return nil, fmt.Errorf("glora: layer %q: tensor %s missing or not 2-D", path, TensorNames[iAd])
	}
	sh := Shapes(out, in, vars[iAd].Value.Shape[1])
	for i, v := range vars {
		if v == nil || v.Value == nil || !tensor.SameShape(v.Value.Shape, sh[i]) {
			got := "missing"
			if v != nil && v.Value != nil {
				got = tensor.ShapeString(v.Value.Shape)
			}
			return nil, fmt.Errorf("glora: layer %q: tensor %s is %s, want %s", path, TensorNames[i], got, tensor.ShapeString(sh[i]))
		}
	}
	return &Layer{path: path, base: base, vars: vars}, nil
}

func checkBase(path string, base *nn.Linear) error {
	if base == nil || base.W == nil || base.W.Value == nil || base.W.Value.Rank() != 2 {
		return fmt.Errorf("glora: layer %q: the base must be a Linear with a 2-D weight", path)
	}
	if base.B != nil && (base.B.Value.Rank() != 1 || base.B.Value.Shape[0] != base.W.Value.Shape[0]) {
		return fmt.Errorf("glora: layer %q: bias %s does not fit weight %s", path,
			tensor.ShapeString(base.B.Value.Shape), tensor.ShapeString(base.W.Value.Shape))
	}
	return nil
}

// Path is the wrapped layer's module path.
func (l *Layer) Path() string { return l.path }

// Base is the wrapped Linear. While merged it holds the merged W and b.
func (l *Layer) Base() *nn.Linear { return l.base }

// In and Out are the layer's widths.
func (l *Layer) In() int  { return l.base.W.Value.Shape[1] }
func (l *Layer) Out() int { return l.base.W.Value.Shape[0] }

// HasBias reports whether the base layer (unmerged) has a bias.
func (l *Layer) HasBias() bool { return l.base.B != nil && !l.addedBias }

// Rank is the stored rank R.
func (l *Layer) Rank() int { return l.vars[iAd].Value.Shape[1] }

// Vars are the stored support tensors as trainable parameters, in
// TensorNames' order, named "<path>.glora_Ad" … ".glora_E".
func (l *Layer) Vars() [8]*ag.Var { return l.vars }

// Tensors are the stored support tensors' values (shared, not copied).
func (l *Layer) Tensors() LayerTensors {
	v := l.vars
	return LayerTensors{Ad: v[iAd].Value, Au: v[iAu].Value, Bd: v[iBd].Value, Bu: v[iBu].Value,
		Cd: v[iCd].Value, Cu: v[iCu].Value, D: v[iD].Value, E: v[iE].Value}
}

// Choice is the layer's current choice.
func (l *Layer) Choice() LayerChoice { return l.choice }

// SetChoice sets the paths Forward reads. The lora ranks must fit the
// stored rank; the layer itself lets C, D and E act on a bias-less base
// (b0 = 0; a Space without AddBias refuses that before it gets here). A
// merged layer refuses a different choice (Unmerge first).
func (l *Layer) SetChoice(lc LayerChoice) error {
	for s := range numSupports {
		c := lc[s]
		ok := c.Kind <= LoRA
		if c.Kind == LoRA {
			ok = ok && c.Rank >= 1 && s != D && s != E
		} else {
			ok = ok && c.Rank == 0 && !(s == C && c.Kind == Constant)
		}
		if !ok {
			return fmt.Errorf("glora: layer %q: %s = %s is not a valid choice", l.path, s, c)
		}
	}
	if err := CheckChoice(lc, l.Rank()); err != nil {
		return fmt.Errorf("glora: layer %q: %w", l.path, err)
	}
	if l.merged && lc != l.choice {
		return fmt.Errorf("glora: layer %q is merged with %v; unmerge before choosing %v", l.path, l.choice, lc)
	}
	l.choice = lc
	return nil
}

// Merged reports whether the choice is folded into the base layer.
func (l *Layer) Merged() bool { return l.merged }

// Forward computes y = x·W'ᵀ + b' for the current choice.
// x: (..., in) → y: (..., out).
func (l *Layer) Forward(tp *ag.Tape, x *ag.Var) *ag.Var { return l.ForwardThen(tp, x, nil) }

// ForwardThen is Forward that hands the output to then block by block,
// each block as soon as the layer's product has finished it, while it is
// still in cache (nn.ThenLayer): then(y, i0, i1, j0, j1) for rows
// i0 ≤ i < i1 and columns j0 ≤ j < j1 of y (N, Out()), the output's data.
// then must not change y.
func (l *Layer) ForwardThen(tp *ag.Tape, x *ag.Var, then func(y []float32, i0, i1, j0, j1 int)) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	if l.merged || l.choice.IsBase() {
		return tp.LinearThen(x, frozen(l.base.W), frozen(l.base.B), then)
	}
	return l.fused(tp, x, then)
}

// frozen is a gradient-free view of a base parameter (nil stays nil), so
// the base never accumulates a gradient through the layer.
func frozen(v *ag.Var) *ag.Var {
	if v == nil {
		return nil
	}
	return &ag.Var{Value: v.Value, Name: v.Name}
}

// merge computes the merged weight and bias of the current choice from the
// original W0 and b0 (MergeLinear: NaN/Inf is an error) without replacing
// anything.
func (l *Layer) merge() (w, b *tensor.Tensor, err error) {
	var b0 *tensor.Tensor
	if l.base.B != nil {
		b0 = l.base.B.Value
	}
	t := l.Tensors()
	w, b, err = MergeLinear(l.base.W.Value, b0, &t, l.choice)
	if err != nil {
		return nil, nil, fmt.Errorf("glora: merge layer %q: %w", l.path, err)
	}
	return w, b, nil
}

// commit installs a merged weight and bias, keeping the originals.
func (l *Layer) commit(w, b *tensor.Tensor) {
	l.w0 = l.base.W.Value
	l.base.W.Value = w
	switch {
	case b == nil:
		l.b0 = nil
	case l.base.B == nil:
		l.b0 = nil
		l.addedBias = true
		l.base.B = &ag.Var{Value: b, Name: l.path + ".bias"}
	default:
		l.b0 = l.base.B.Value
		l.base.B.Value = b
	}
	l.merged = true
}

// Merge folds the current choice into the base layer (docs/DESIGN.md §4):
//
//	W = W0 + W0⊙A + B,   b = b0 + b0⊙D + E + W0·C
//
// from the original W0. The base's W (and b) then hold new tensors; the
// originals are kept for Unmerge. A bias-less base whose choice uses C, D
// or E gains a bias Var named "<path>.bias" (frozen; it is not in the
// model's Store). A result with NaN or Inf is an error and replaces
// nothing. Merging a merged layer does nothing.
func (l *Layer) Merge() error {
	if l.merged {
		return nil
	}
	w, b, err := l.merge()
	if err != nil {
		return err
	}
	l.commit(w, b)
	return nil
}

// Unmerge puts the original W0 and b0 back (the very tensors Merge took
// out, so bit for bit) and removes a bias Merge added. It does nothing on
// an unmerged layer.
func (l *Layer) Unmerge() {
	if !l.merged {
		return
	}
	l.base.W.Value = l.w0
	switch {
	case l.addedBias:
		l.base.B = nil
	case l.b0 != nil:
		l.base.B.Value = l.b0
	}
	l.w0, l.b0, l.merged, l.addedBias = nil, nil, false, false
}
