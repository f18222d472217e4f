package autograd

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
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

// A tape's precision applies to its own products only: two tapes at
// different precisions running at once each get what they get alone.
func TestTapePrecisionIsPerTape(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x, w := tensor.New(64, 96), tensor.New(80, 96)
	for _, v := range [][]float32{x.Data, w.Data} {
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
	}
	run := func(p tensor.Precision) []float32 {
		tp := NewTape()
		tp.Precision = p
		xv, wv := NewVar(x, true), NewVar(w, true)
		y := tp.Linear(xv, wv, nil)
		if err := tp.Backward(tp.SumAll(y)); err != nil {
			t.Error(err)
			return nil
		}
		return append(append([]float32(nil), y.Value.Data...), wv.Grad.Data...)
	}
	alone := map[tensor.Precision][]float32{tensor.F32: run(tensor.F32), tensor.BF16: run(tensor.BF16)}
	if slices.Equal(alone[tensor.F32], alone[tensor.BF16]) {
		t.Fatal("bf16 and f32 gave the same numbers: the tape's precision was not used")
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		p := []tensor.Precision{tensor.F32, tensor.BF16}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := run(p); !slices.Equal(got, alone[p]) {
				t.Errorf("%v run beside another precision differs from %v alone", p, p)
			}
		}()
	}
	wg.Wait()
}
