package nn

import (
	"math"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// Layer is anything that maps x to y on a tape. Models hold their Linear
// layers through this interface so that adapters (GLoRA) can wrap them.
type Layer interface {
	Forward(tp *ag.Tape, x *ag.Var) *ag.Var
}

// Linear is y = x·Wᵀ + b with W (out, in) and b (out) or nil, named
// "<scope>.weight" and "<scope>.bias" as in PyTorch.
type Linear struct {
	W, B *ag.Var
}

// NewLinear creates a Linear under b with PyTorch's default init
// (Kaiming-uniform weight, bias U(±1/√in)) unless init is given.
func NewLinear(b Builder, in, out int, bias bool, init Init) (*Linear, error) {
	if init == nil {
		init = KaimingUniform
	}
	w, err := b.Param("weight", init, out, in)
	if err != nil {
		return nil, err
	}
	l := &Linear{W: w}
	if bias {
		binit := func(rng *rand.Rand, t *tensor.Tensor) {
			bound := 1 / math.Sqrt(float64(in))
			for i := range t.Data {
				t.Data[i] = float32((rng.Float64()*2 - 1) * bound)
			}
		}
		if l.B, err = b.Param("bias", binit, out); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Forward computes y = x·Wᵀ + b. x: (..., in) → (..., out).
func (l *Linear) Forward(tp *ag.Tape, x *ag.Var) *ag.Var { return tp.Linear(x, l.W, l.B) }

// ForwardThen is Forward that hands y to then block by block, as its
// product finishes each (ThenLayer; autograd's Tape.LinearThen).
func (l *Linear) ForwardThen(tp *ag.Tape, x *ag.Var, then func(y []float32, i0, i1, j0, j1 int)) *ag.Var {
	return tp.LinearThen(x, l.W, l.B, then)
}

// Out is the number of output features.
func (l *Linear) Out() int { return l.W.Value.Shape[0] }

// ReadsInput implements InputReader: the backward pass reads x only for
// the weight's gradient, dW = dyᵀ·x.
func (l *Linear) ReadsInput() bool { return l.W.RequiresGrad }

// InputReader is a layer that can say whether the backward pass of its
// latest forward pass reads the value of its input x (a frozen Linear
// passes the gradient back as dy·W, which does not; a GLoRA layer's reads
// depend on its structure).
type InputReader interface {
	// ReadsInput reports whether the backward pass of the layer's latest
	// forward pass reads x's value.
	ReadsInput() bool
}

// ReadsInput is l.ReadsInput() where l is an InputReader, and true for
// other layers.
func ReadsInput(l Layer) bool {
	if r, ok := l.(InputReader); ok {
		return r.ReadsInput()
	}
	return true
}

// DiscardInput discards x (Tape.Discard), the input of the layers ls, when
// none of their backward passes reads it (ReadsInput), and reports whether
// it did. The caller vouches that no other backward pass reads x: an
// input only its layers read, or one made by an op whose backward pass
// does not read its output (LayerNorm, GELU), which the caller otherwise
// rebuilds for the layers (Tape.Recompute).
func DiscardInput(tp *ag.Tape, x *ag.Var, ls ...Layer) bool {
	for _, l := range ls {
		if ReadsInput(l) {
			return false
		}
	}
	tp.Discard(x)
	return true
}

// OutputRecomputer is a layer that can rebuild its output in the backward
// pass from what its own backward pass keeps anyway, at elementwise cost,
// so that the output need not be held between the passes (a GLoRA layer
// with a vector or constant A keeps x·W0ᵀ for A's gradient; its output is
// that scaled and shifted).
type OutputRecomputer interface {
	// RecomputeOutput arranges (autograd's Tape.Recompute) for y, the
	// layer's output of this forward pass, to be released now and rebuilt
	// before its consumers' backward passes, which must read y.Value when
	// they run; it reports whether it did. Call it after y's last use in
	// the forward pass.
	RecomputeOutput(tp *ag.Tape, y *ag.Var) bool
}

// RecomputeOutput is l.RecomputeOutput(tp, y) where l is an
// OutputRecomputer; other layers keep y (rebuilding it would cost their
// product again). It reports whether y was released.
func RecomputeOutput(tp *ag.Tape, l Layer, y *ag.Var) bool {
	if r, ok := l.(OutputRecomputer); ok {
		return r.RecomputeOutput(tp, y)
	}
	return false
}

// ThenLayer is a Layer whose output y (N, Out()) comes from one matrix
// product that can hand each block of y to a function as soon as the
// product has finished it, while the block is still in the core's cache
// (tensor.Precision.SgemmThen): an elementwise op on y then costs little
// more than its arithmetic instead of a pass over y in memory. Linear and
// GLoRA's layers are ThenLayers; LinearGELU uses it.
type ThenLayer interface {
	Layer
	// Out is the width of y.
	Out() int
	// ForwardThen is Forward that calls then(y, i0, i1, j0, j1), y being the
	// output's data, for blocks of rows i0 ≤ i < i1 and columns j0 ≤ j < j1
	// that tile y, each once it holds its final values, possibly on several
	// goroutines at once. then must not change y.
	ForwardThen(tp *ag.Tape, x *ag.Var, then func(y []float32, i0, i1, j0, j1 int)) *ag.Var
}
