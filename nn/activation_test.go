package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	ag "github.com/glora/glora/autograd"
)

func TestActivationsForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 4))
	x := randVar(rng, false, 3, 1000)
	tp := ag.NewTape()
	n := len(x.Value.Data)
	exact, tanhF, silu := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, v := range x.Value.Data {
		xv := float64(v)
		exact[i] = xv * 0.5 * (1 + math.Erf(xv/math.Sqrt2))
		tanhF[i] = 0.5 * xv * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(xv+0.044715*xv*xv*xv)))
		silu[i] = xv / (1 + math.Exp(-xv))
	}
	checkClose(t, "gelu", GELU(tp, x, false).Value.Data, exact, 1e-6, 1e-5)
	checkClose(t, "gelu tanh", GELU(tp, x, true).Value.Data, tanhF, 1e-6, 1e-5)
	checkClose(t, "silu", SiLU(tp, x).Value.Data, silu, 1e-6, 1e-5)
}

func TestActivationsGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 4))
	x := randVar(rng, true, 2, 4, 7)
	gradCheck(t, "gelu", func(tp *ag.Tape, in []*ag.Var) *ag.Var { return GELU(tp, in[0], false) }, x)
	gradCheck(t, "gelu tanh", func(tp *ag.Tape, in []*ag.Var) *ag.Var { return GELU(tp, in[0], true) }, x)
	gradCheck(t, "silu", func(tp *ag.Tape, in []*ag.Var) *ag.Var { return SiLU(tp, in[0]) }, x)
	// large enough for several parallel parts
	xl := randVar(rng, true, 2, 2*elemGrain+5)
	worst, err := ag.GradCheck(func(tp *ag.Tape, in []*ag.Var) *ag.Var { return SiLU(tp, in[0]) },
		[]*ag.Var{xl}, 1e-2, 1e-2, 1e-2, 16)
	if err != nil {
		t.Fatalf("silu large: %v (max diff %.3g)", err, worst)
	}
}
