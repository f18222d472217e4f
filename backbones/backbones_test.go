package backbones

import (
	"math"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/data"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

func TestDefaultLoads(t *testing.T) {
	m, ck, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	c := m.Cfg
	if c.NumClasses != 10 || c.InChans != 1 || c.ImageSize != 28 {
		t.Fatalf("shipped backbone config %+v: want 10 classes, 1×28×28 input", c)
	}
	if n := m.Store.Count(false); n < 500_000 || n > 3_000_000 {
		t.Fatalf("shipped backbone has %d parameters, want about 1–3 M", n)
	}
	if !slices.Equal(ck.Labels, data.FashionMNISTClasses) {
		t.Fatalf("shipped backbone's class names %q, want Fashion-MNIST's %q", ck.Labels, data.FashionMNISTClasses)
	}
	t.Logf("%s: %d parameters, %s dialect, stored as %s", DefaultName, m.Store.Count(false), ck.Dialect, ck.DType)
}

// The shipped backbone scored 0.9084 top-1 on Fashion-MNIST's test split (f16
// weights); evaluation must reproduce that, give or take a few images whose
// arg-max another CPU's rounding could flip (the goal was ≥ 0.90).
func TestDefaultAccuracyOnFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluates 10,000 images")
	}
	_, test, err := data.FashionMNIST()
	if err != nil {
		t.Skipf("Fashion-MNIST not available: %v", err)
	}
	m, _, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := train.Evaluate(m, test, 500, tensor.F32)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test accuracy %.4f (%d/%d), loss %.4f", mt.Accuracy, mt.Correct, mt.N, mt.Loss)
	if mt.N != 10000 || mt.Correct < 9080 {
		t.Fatalf("shipped backbone: accuracy %.4f on %d test images, want ≥ 0.9080 on 10000 (it shipped with 0.9084)", mt.Accuracy, mt.N)
	}
}

func TestUnknownBackbone(t *testing.T) {
	if _, _, err := Load("vit-nonexistent"); err == nil {
		t.Fatal("want an error for an unknown backbone")
	}
}

// The shipped backbone records that it was trained on the whole of
// Fashion-MNIST's training split, so that no command scores its "val".
func TestDefaultRecordsItsTraining(t *testing.T) {
	_, ck, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if r := ck.Training; r == nil || r.Data != "fashion-mnist" || r.Scheme != "full" {
		t.Fatalf("training record %+v, want fashion-mnist, scheme full", r)
	}
}

// TestBF16ForwardNearF32 runs the shipped backbone on 512 generated images
// (16 with -short; no data to install) with float32 and with bfloat16
// matrix products (the native bf16 kernel where the CPU has one):
// the logits differ (the rounding happened) by at most 2% of their range,
// and the arg-max agrees on at least 98% of the images.
func TestBF16ForwardNearF32(t *testing.T) {
	images := 512
	if testing.Short() { // e.g. under an instruction-set emulator
		images = 16
	}
	m, x, _ := shippedOnSynth(t, data.SynthSpec{Task: "orientation", Seed: 1, Train: 8, Test: images}, true)
	idx := make([]int, images)
	forward := func(p tensor.Precision) []float32 {
		tp := ag.NewTape()
		tp.NoGrad, tp.Precision = true, p
		xt, err := tensor.FromSlice(append([]float32(nil), x...), len(idx), 1, 28, 28)
		if err != nil {
			t.Fatal(err)
		}
		img := ag.NewVar(xt, false)
		out := m.Forward(tp, img, nil)
		if err := tp.Err(); err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), out.Value.Data...)
	}
	f32, bf16 := forward(tensor.F32), forward(tensor.BF16)
	lo, hi, worst := math.Inf(1), math.Inf(-1), 0.0
	for i := range f32 {
		lo, hi = min(lo, float64(f32[i])), max(hi, float64(f32[i]))
		worst = max(worst, math.Abs(float64(f32[i]-bf16[i])))
	}
	agree := 0
	k := len(f32) / len(idx)
	for i := range idx {
		if argmax(f32[i*k:(i+1)*k]) == argmax(bf16[i*k:(i+1)*k]) {
			agree++
		}
	}
	t.Logf("bf16 kernel %s; logits in [%.2f, %.2f]; bf16 against f32: max-abs-diff %.4f (%.2f%% of the range), arg-max agrees on %d/%d",
		tensor.BF16Kernel(), lo, hi, worst, 100*worst/(hi-lo), agree, len(idx))
	if worst == 0 || worst > 0.02*(hi-lo) || agree < len(idx)*98/100 {
		t.Fatalf("bf16 logits off by %.4f (range %.2f), arg-max agrees on %d/%d", worst, hi-lo, agree, len(idx))
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// TestBF16GradientsNearF32 takes one training step's gradients of the
// shipped backbone (every parameter, through attention, MLP, LayerNorm and
// the patch embedding) with float32 and with bfloat16 matrix products
// (the native kernel where the CPU has one, so its transposed backward
// products run too): the loss agrees within 1% and every parameter's
// gradient points the same way (cosine ≥ 0.98), as mixed precision must
// for training to follow the float32 run.
func TestBF16GradientsNearF32(t *testing.T) {
	images := 32
	if testing.Short() {
		images = 8
	}
	m, x, labels := shippedOnSynth(t, data.SynthSpec{Task: "orientation", Seed: 2, Train: images, Test: 8}, false)
	step := func(p tensor.Precision) (float32, [][]float32) {
		for _, v := range m.Params() {
			v.Grad = nil
		}
		tp := ag.NewTape()
		tp.Precision = p
		xt, err := tensor.FromSlice(append([]float32(nil), x...), len(labels), 1, 28, 28)
		if err != nil {
			t.Fatal(err)
		}
		loss := nn.CrossEntropy(tp, m.Forward(tp, ag.NewVar(xt, false), nil), labels, 0)
		if err := tp.Backward(loss); err != nil {
			t.Fatal(err)
		}
		var grads [][]float32
		for _, v := range m.Params() {
			grads = append(grads, append([]float32(nil), v.Grad.Data...))
		}
		return loss.Value.Data[0], grads
	}
	l32, g32 := step(tensor.F32)
	l16, g16 := step(tensor.BF16)
	worst := 1.0
	for i := range g32 {
		var dot, n32, n16 float64
		for j := range g32[i] {
			a, b := float64(g32[i][j]), float64(g16[i][j])
			dot, n32, n16 = dot+a*b, n32+a*a, n16+b*b
		}
		if n32 == 0 {
			continue
		}
		worst = min(worst, dot/math.Sqrt(n32*n16))
	}
	t.Logf("bf16 kernel %s: loss %.5f (f32) vs %.5f (bf16); worst gradient cosine over %d parameters %.5f",
		tensor.BF16Kernel(), l32, l16, len(g32), worst)
	if math.Abs(float64(l16-l32)) > 0.01*math.Abs(float64(l32)) || worst < 0.98 {
		t.Fatalf("bf16 step strays from f32: loss %.5f vs %.5f, worst gradient cosine %.5f", l16, l32, worst)
	}
}

// shippedOnSynth loads the shipped backbone and the generated images of
// spec's test split (useTest) or training split, preprocessed for it:
// (B, 1, 28, 28) values and the labels.
func shippedOnSynth(t *testing.T, spec data.SynthSpec, useTest bool) (*vit.Model, []float32, []int) {
	t.Helper()
	trainSet, testSet, err := data.Synth(spec)
	if err != nil {
		t.Fatal(err)
	}
	set := trainSet
	if useTest {
		set = testSet
	}
	m, _, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, set.Len())
	for i := range idx {
		idx[i] = i
	}
	x, err := data.Batch(set, idx, train.PreprocessFor(m.Cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, x, set.Labels
}
