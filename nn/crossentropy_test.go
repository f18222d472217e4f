package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

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
}

// TestLinearCrossEntropy checks the fused output layer and loss against
// Linear followed by CrossEntropy: loss, arg-max count, and the gradients
// of x, w and b, over chunks that split the rows unevenly (16, 16, 5),
// narrow and wide rows, with and without a bias and label smoothing, and a
// loss gradient other than 1 (the loss scaled after).
func TestLinearCrossEntropy(t *testing.T) {
	defer func(f int) { chunkFloats = f }(chunkFloats)
	const n, in = 37, 24
	for _, c := range []int{10, 1100} {
		chunkFloats = 16 * c
		for _, bias := range []bool{false, true} {
			for _, s := range []float32{0, 0.1} {
				rng := rand.New(rand.NewPCG(uint64(c), 9))
				x, w := randVar(rng, true, 1, n, in), randVar(rng, true, 0.5, c, in)
				var b *ag.Var
				if bias {
					b = randVar(rng, true, 0.5, c)
				}
				labels := make([]int, n)
				for i := range labels {
					labels[i] = rng.IntN(c)
				}
				labels[3] = argmaxRow(x.Value.Data[3*in:4*in], w.Value.Data, b, c) // at least one hit
				run := func(fused bool) (loss float32, correct int, grads [][]float32) {
					for _, v := range []*ag.Var{x, w, b} {
						if v != nil {
							v.Grad = nil
						}
					}
					tp := ag.NewTape()
					var l *ag.Var
					if fused {
						l, correct = LinearCrossEntropy(tp, x, w, b, labels, s)
					} else {
						z := tp.Linear(x, w, b)
						correct = CountCorrect(z.Value, labels)
						l = CrossEntropy(tp, z, labels, s)
					}
					loss = l.Value.Data[0]
					if err := tp.Backward(tp.Scale(l, 3)); err != nil {
						t.Fatal(err)
					}
					for _, v := range []*ag.Var{x, w, b} {
						if v != nil {
							grads = append(grads, v.Grad.Data)
						}
					}
					return loss, correct, grads
				}
				l0, c0, g0 := run(false)
				l1, c1, g1 := run(true)
				name := fmt.Sprintf("C=%d bias=%v s=%v", c, bias, s)
				if c1 != c0 || c0 == 0 {
					t.Fatalf("%s: %d rows correct, Linear + CrossEntropy %d", name, c1, c0)
				}
				checkClose(t, name+": loss", []float32{l1}, []float64{float64(l0)}, 0, 1e-6)
				for i := range g0 {
					want := make([]float64, len(g0[i]))
					for j, v := range g0[i] {
						want[j] = float64(v)
					}
					checkClose(t, fmt.Sprintf("%s: gradient %d", name, i), g1[i], want, 1e-7, 1e-4)
				}
			}
		}
	}
}

// argmaxRow is the arg-max of x·wᵀ + b for one row x, in float64.
func argmaxRow(x, w []float32, b *ag.Var, c int) int {
	best, bv := 0, math.Inf(-1)
	for j := 0; j < c; j++ {
		var z float64
		for i, v := range x {
			z += float64(v) * float64(w[j*len(x)+i])
		}
		if b != nil {
			z += float64(b.Value.Data[j])
		}
		if z > bv {
			best, bv = j, z
		}
	}
	return best
}

func TestLinearCrossEntropyGrad(t *testing.T) {
	defer func(f int) { chunkFloats = f }(chunkFloats)
	chunkFloats = 2 * 7 // chunks of 2 rows: 2, 2, 1
	rng := rand.New(rand.NewPCG(3, 4))
	x, w, b := randVar(rng, true, 1, 5, 4), randVar(rng, true, 1, 7, 4), randVar(rng, true, 1, 7)
	labels := []int{0, 6, 2, 2, 5}
	gradCheck(t, "linearcrossentropy", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
		l, _ := LinearCrossEntropy(tp, in[0], in[1], in[2], labels, 0.2)
		return l
	}, x, w, b)
}

// TestLinearCrossEntropyFrozen checks that only the inputs that need a
// gradient get one, added to what they hold, and that a tape without
// gradients gives the loss alone.
func TestLinearCrossEntropyFrozen(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x, w := randVar(rng, true, 1, 6, 8), randVar(rng, false, 1, 1200, 8)
	labels := []int{1, 2, 3, 4, 5, 1199}
	tp := ag.NewTape()
	want := CrossEntropy(tp, tp.Linear(x, w, nil), labels, 0)
	if err := tp.Backward(want); err != nil {
		t.Fatal(err)
	}
	ref := append([]float64(nil), float64s(x.Grad.Data)...)
	for i := range ref {
		ref[i] *= 2 // a second pass adds the same again
	}
	tp = ag.NewTape()
	l, _ := LinearCrossEntropy(tp, x, w, nil, labels, 0)
	if err := tp.Backward(l); err != nil {
		t.Fatal(err)
	}
	if w.Grad != nil {
		t.Fatal("a frozen weight got a gradient")
	}
	checkClose(t, "dx", x.Grad.Data, ref, 1e-7, 1e-4)
	tp = ag.NewTape()
	tp.NoGrad = true
	l, _ = LinearCrossEntropy(tp, x, w, nil, labels, 0)
	checkClose(t, "loss without gradients", l.Value.Data, []float64{float64(want.Value.Data[0])}, 0, 1e-6)
}

func float64s(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func TestLinearCrossEntropyErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x, w := randVar(rng, true, 1, 3, 4), randVar(rng, true, 1, 5, 4)
	for _, tc := range []struct {
		name   string
		x, w   *ag.Var
		b      *ag.Var
		labels []int
	}{
		{"label count", x, w, nil, []int{0, 1}},
		{"label out of range", x, w, nil, []int{0, 5, 1}},
		{"width", x, randVar(rng, true, 1, 5, 3), nil, []int{0, 1, 2}},
		{"bias", x, w, randVar(rng, true, 1, 4), []int{0, 1, 2}},
		{"rank", randVar(rng, true, 1, 1, 3, 4), w, nil, []int{0, 1, 2}},
	} {
		tp := ag.NewTape()
		LinearCrossEntropy(tp, tc.x, tc.w, tc.b, tc.labels, 0)
		wantShapeErr(t, tc.name, tp)
	}
}

// TestIsArgmax checks the vector-max shortcut against Argmax: ties (the
// first wins), a label after or before the maximum, −Inf rows, a NaN.
func TestIsArgmax(t *testing.T) {
	inf := float32(math.Inf(-1))
	nan := float32(math.NaN())
	for _, x := range [][]float32{
		{1, 3, 2}, {3, 3, 1}, {1, 2, 3, 3}, {inf, inf}, {inf, 0, inf}, {nan, 1, 2}, {1, nan, 0},
		make([]float32, 40),
	} {
		for label := range x {
			if got, want := isArgmax(x, label, tensor.Max(x)), Argmax(x) == label; got != want {
				t.Errorf("isArgmax(%v, %d) = %v, Argmax says %v", x, label, got, want)
			}
		}
	}
}

// TestLinearCrossEntropyPrecision: the fused op runs its products at the
// tape's precision, as Linear does: in bf16 its loss and gradients are
// near Linear + CrossEntropy's in bf16, and not those of f32.
func TestLinearCrossEntropyPrecision(t *testing.T) {
	const n, in, c = 24, 40, 1100
	rng := rand.New(rand.NewPCG(21, 22))
	x, w := randVar(rng, true, 1, n, in), randVar(rng, true, 0.5, c, in)
	labels := make([]int, n)
	for i := range labels {
		labels[i] = rng.IntN(c)
	}
	run := func(p tensor.Precision, fused bool) (float32, []float32) {
		x.Grad, w.Grad = nil, nil
		tp := ag.NewTape()
		tp.Precision = p
		var l *ag.Var
		if fused {
			l, _ = LinearCrossEntropy(tp, x, w, nil, labels, 0)
		} else {
			l = CrossEntropy(tp, tp.Linear(x, w, nil), labels, 0)
		}
		if err := tp.Backward(l); err != nil {
			t.Fatal(err)
		}
		return l.Value.Data[0], append(append([]float32(nil), x.Grad.Data...), w.Grad.Data...)
	}
	lb, gb := run(tensor.BF16, true)
	lu, gu := run(tensor.BF16, false)
	lf, gf := run(tensor.F32, true)
	checkClose(t, "bf16 loss", []float32{lb}, []float64{float64(lu)}, 0, 1e-5)
	checkClose(t, "bf16 gradients", gb, float64s(gu), 1e-6, 1e-3)
	if lb == lf && slices.Equal(gb, gf) {
		t.Fatal("the fused op gave f32's floats on a bf16 tape")
	}
}
