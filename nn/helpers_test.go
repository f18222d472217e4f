package nn

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// randVar returns a Var of the given shape with N(0,1)·scale values.
func randVar(rng *rand.Rand, requiresGrad bool, scale float64, shape ...int) *ag.Var {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64() * scale)
	}
	return ag.NewVar(t, requiresGrad)
}

// gradCheck runs autograd.GradCheck with the package's usual tolerances.
func gradCheck(t *testing.T, name string, f func(tp *ag.Tape, in []*ag.Var) *ag.Var, in ...*ag.Var) {
	t.Helper()
	worst, err := ag.GradCheck(f, in, 1e-2, 1e-2, 1e-2, 0)
	t.Logf("%s: max |analytic-numeric| = %.3g", name, worst)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// checkClose fails unless got and want agree elementwise within
// atol + rtol·|want|.
func checkClose(t *testing.T, name string, got []float32, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > atol+rtol*math.Abs(want[i]) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: index %d: got %.7g, want %.7g", name, i, got[i], want[i])
		}
	}
}

// wantShapeErr fails unless the tape holds an error wrapping tensor.ErrShape.
func wantShapeErr(t *testing.T, name string, tp *ag.Tape) {
	t.Helper()
	if err := tp.Err(); !errors.Is(err, tensor.ErrShape) {
		t.Fatalf("%s: want a shape error, got %v", name, err)
	} else {
		t.Logf("%s: %v", name, err)
	}
}

// weightedSum is the test loss L = Σ x ⊙ r with a constant r, written here so
// that the tests and benchmarks depend on no other operation.
func weightedSum(tp *ag.Tape, x *ag.Var, r []float32) *ag.Var {
	out := tp.NewOutput([]int{}, x)
	var s float64
	for i, v := range x.Value.Data {
		s += float64(v) * float64(r[i])
	}
	out.Value.Data[0] = float32(s)
	tp.Record(out, func() {
		if g := tp.GradOf(x); g != nil {
			tensor.Axpy(out.Grad.Data[0], r, g.Data)
		}
	})
	return out
}

func toF64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// benchLoss is a stand-in loss for benchmarks: its value is 0 (not computed)
// and its backward seeds x's gradient with r, so that a benchmark times the
// operation under test and not the loss.
func benchLoss(tp *ag.Tape, x *ag.Var, r []float32) *ag.Var {
	out := tp.NewOutput([]int{}, x)
	tp.Record(out, func() {
		if g := tp.GradOf(x); g != nil {
			tensor.Axpy(out.Grad.Data[0], r, g.Data)
		}
	})
	return out
}
