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
