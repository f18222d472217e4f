package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
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

// naiveCrossEntropy uses PyTorch's definition through the smoothed target
// distribution q = (1−s)·onehot + s/C: L = mean_n −Σ_c q_c·log p_c.
func naiveCrossEntropy(x []float32, labels []int, c int, s float64) float64 {
	ls := naiveLogSoftmax(x, c)
	var total float64
	for n, lb := range labels {
		for i := 0; i < c; i++ {
			q := s / float64(c)
			if i == lb {
				q += 1 - s
			}
			total -= q * ls[n*c+i]
		}
	}
	return total / float64(len(labels))
}

func TestCrossEntropy(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	x := randVar(rng, true, 2, 6, 10)
	labels := []int{0, 9, 3, 3, 7, 1}
	for _, s := range []float32{0, 0.1, 0.5} {
		tp := ag.NewTape()
		l := CrossEntropy(tp, x, labels, s)
		if tp.Err() != nil {
			t.Fatal(tp.Err())
		}
		if len(l.Value.Shape) != 0 {
			t.Fatalf("loss shape %v, want ()", l.Value.Shape)
		}
		checkClose(t, "crossentropy", l.Value.Data, []float64{naiveCrossEntropy(x.Value.Data, labels, 10, float64(s))}, 1e-5, 1e-5)
		gradCheck(t, "crossentropy", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
			return CrossEntropy(tp, in[0], labels, s)
		}, x)
	}
}

func TestCrossEntropyBackwardValue(t *testing.T) {
	// d/dlogits of the mean loss is (softmax − q)/N; check it directly.
	x := randVar(rand.New(rand.NewPCG(1, 1)), true, 1, 2, 3)
	tp := ag.NewTape()
	if err := tp.Backward(CrossEntropy(tp, x, []int{2, 0}, 0.3)); err != nil {
		t.Fatal(err)
	}
	ls := naiveLogSoftmax(x.Value.Data, 3)
	want := make([]float64, 6)
	for n, lb := range []int{2, 0} {
		for c := 0; c < 3; c++ {
			q := 0.3 / 3
			if c == lb {
				q += 0.7
			}
			want[n*3+c] = (math.Exp(ls[n*3+c]) - q) / 2
		}
	}
	checkClose(t, "dlogits", x.Grad.Data, want, 1e-6, 1e-5)
}

// TestCrossEntropyWideRows checks loss and gradient on rows as wide as a
// language model's vocabulary (split across workers, one with a masked
// −Inf logit when there is no smoothing) against float64, on both backward paths: a gradient buffer the
// pass creates (written in place) and one that already holds a gradient
// (accumulated into).
func TestCrossEntropyWideRows(t *testing.T) {
	const n, c = 13, 4099
	rng := rand.New(rand.NewPCG(7, 8))
	labels := make([]int, n)
	for i := range labels {
		labels[i] = rng.IntN(c)
	}
	for _, s := range []float32{0, 0.2} {
		for _, fresh := range []bool{true, false} {
			leaf := randVar(rng, true, 3, n, c)
			if s == 0 { // with smoothing, a −Inf logit makes the loss +Inf (as PyTorch's)
				leaf.Value.Data[5*c+17] = float32(math.Inf(-1))
				if labels[5] == 17 {
					labels[5] = 18
				}
			}
			want := naiveLogSoftmax(leaf.Value.Data, c)
			tp := ag.NewTape()
			x := leaf
			if fresh {
				x = tp.Reshape(leaf, n, c) // a tape value: its gradient buffer is the pass's own
			} else {
				leaf.Grad = tensor.New(n, c)
				for i := range leaf.Grad.Data {
					leaf.Grad.Data[i] = 0.25
				}
			}
			l := CrossEntropy(tp, x, labels, s)
			checkClose(t, "loss", l.Value.Data, []float64{naiveCrossEntropy(leaf.Value.Data, labels, c, float64(s))}, 1e-5, 1e-5)
			if err := tp.Backward(l); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				q := float64(s) / c
				if i%c == labels[i/c] {
					q += 1 - float64(s)
				}
				want[i] = (math.Exp(want[i]) - q) / n
				if !fresh {
					want[i] += 0.25
				}
			}
			checkClose(t, fmt.Sprintf("dlogits (s=%v, fresh=%v)", s, fresh), leaf.Grad.Data, want, 1e-8, 1e-5)
		}
	}
}

func TestCrossEntropyErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := randVar(rng, true, 1, 3, 4)
	tp := ag.NewTape()
	CrossEntropy(tp, x, []int{0, 4, 1}, 0)
	wantShapeErr(t, "label out of range", tp)
	if msg := tp.Err().Error(); !strings.Contains(msg, "label[1] = 4") {
		t.Fatalf("error %q does not name the index and value", msg)
	}
	tp = ag.NewTape()
	CrossEntropy(tp, x, []int{0, -1, 1}, 0)
	wantShapeErr(t, "negative label", tp)
	tp = ag.NewTape()
	CrossEntropy(tp, x, []int{0, 1}, 0)
	wantShapeErr(t, "label count", tp)
	tp = ag.NewTape()
	CrossEntropy(tp, randVar(rng, true, 1, 2, 3, 4), []int{0, 1}, 0)
	wantShapeErr(t, "rank", tp)
	tp = ag.NewTape()
	CrossEntropy(tp, x, []int{0, 1, 2}, 1.5)
	if tp.Err() == nil {
		t.Fatal("smoothing 1.5 accepted")
	}
	tp = ag.NewTape()
	Softmax(tp, ag.NewVar(tensor.Scalar(1), true))
	wantShapeErr(t, "softmax of a scalar", tp)
}
