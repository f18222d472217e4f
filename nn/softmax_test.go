package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// naiveLogSoftmax is log softmax over rows of length c, in float64.
func naiveLogSoftmax(x []float32, c int) []float64 {
	out := make([]float64, len(x))
	for r := 0; r < len(x)/c; r++ {
		var s float64
		for i := 0; i < c; i++ {
			s += math.Exp(float64(x[r*c+i]))
		}
		for i := 0; i < c; i++ {
			out[r*c+i] = float64(x[r*c+i]) - math.Log(s)
		}
	}
	return out
}

func TestSoftmaxForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 3))
	x := randVar(rng, false, 3, 4, 3, 17)
	x.Value.Data[5] = 80 // large logits must not overflow
	tp := ag.NewTape()
	ls := naiveLogSoftmax(x.Value.Data, 17)
	p := make([]float64, len(ls))
	for i, v := range ls {
		p[i] = math.Exp(v)
	}
	checkClose(t, "softmax", Softmax(tp, x).Value.Data, p, 1e-6, 1e-4)
	checkClose(t, "logsoftmax", LogSoftmax(tp, x).Value.Data, ls, 1e-5, 1e-5)
}

func TestSoftmaxGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	x := randVar(rng, true, 1, 3, 2, 5)
	gradCheck(t, "softmax", func(tp *ag.Tape, in []*ag.Var) *ag.Var { return Softmax(tp, in[0]) }, x)
	gradCheck(t, "logsoftmax", func(tp *ag.Tape, in []*ag.Var) *ag.Var { return LogSoftmax(tp, in[0]) }, x)
}

func TestSoftmaxErrors(t *testing.T) {
	tp := ag.NewTape()
	Softmax(tp, ag.NewVar(tensor.Scalar(1), true))
	wantShapeErr(t, "softmax of a scalar", tp)
}
