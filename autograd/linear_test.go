package autograd

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/glora/glora/tensor"
)

// randVar returns a Var of the given shape with N(0,1) values.
func randVar(rng *rand.Rand, requiresGrad bool, shape ...int) *Var {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64())
	}
	return NewVar(t, requiresGrad)
}

func TestLinearGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	x := randVar(rng, true, 2, 3, 5)
	w := randVar(rng, true, 4, 5)
	b := randVar(rng, true, 4)
	worst, err := GradCheck(func(tp *Tape, in []*Var) *Var {
		return tp.Linear(in[0], in[1], in[2])
	}, []*Var{x, w, b}, 1e-2, 1e-2, 1e-2, 0)
	t.Logf("linear: max |analytic-numeric| = %.3g", worst)
	if err != nil {
		t.Fatal(err)
	}
}

func TestLinearShapeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	tp := NewTape()
	y := tp.Linear(randVar(rng, true, 2, 3), randVar(rng, true, 4, 5), nil)
	if !errors.Is(tp.Err(), tensor.ErrShape) {
		t.Fatalf("want shape error, got %v", tp.Err())
	}
	// later ops are no-ops and keep the first error
	tp.Linear(y, randVar(rng, true, 4, 5), nil)
	if err := tp.Backward(y); !errors.Is(err, tensor.ErrShape) {
		t.Fatalf("Backward: want the recorded shape error, got %v", err)
	}
	t.Log(tp.Err())
}
