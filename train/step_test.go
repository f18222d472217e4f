package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/data"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/optim"
	"github.com/glora/glora/tensor"
)

// linearModel is a train.Model that is not a ViT: logits = flatten(x)·Wᵀ + b,
// with a frozen "scale" parameter that Forward does not use. It records the
// first draw of every training rng it is given.
type linearModel struct {
	store *nn.Store
	lin   *nn.Linear
	draws []uint64
}

func newLinearModel(t *testing.T, in, classes int) *linearModel {
	t.Helper()
	s := nn.NewStore()
	b := nn.NewBuilder(s, rand.New(rand.NewPCG(5, 5)))
	lin, err := nn.NewLinear(b.Sub("fc"), in, classes, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Param("scale", nn.Ones, 3); err != nil {
		t.Fatal(err)
	}
	s.Freeze("scale")
	return &linearModel{store: s, lin: lin}
}

func (m *linearModel) Forward(tp *ag.Tape, x *ag.Var, rng *rand.Rand) *ag.Var {
	if rng != nil {
		m.draws = append(m.draws, rng.Uint64())
	}
	s := x.Value.Shape
	return m.lin.Forward(tp, tp.Reshape(x, s[0], tensor.Numel(s[1:])))
}

func (m *linearModel) Params() []*ag.Var { return m.store.Params() }

// batch of n random 1×4×4 images whose label is the quadrant of the
// brightest pixel.
func linearBatch(rng *rand.Rand, n int) (*ag.Var, []int) {
	x := tensor.New(n, 1, 4, 4)
	labels := make([]int, n)
	for i := range labels {
		q := rng.IntN(4)
		labels[i] = q
		img := x.Data[i*16 : (i+1)*16]
		for j := range img {
			img[j] = float32(rng.NormFloat64() * 0.1)
		}
		img[(q/2)*8+(q%2)*2] += 3
	}
	return ag.NewVar(x, false), labels
}

func TestTrainerStepTrainsAnyModel(t *testing.T) {
	m := newLinearModel(t, 16, 4)
	tr := NewTrainer(m, optim.NewAdamW(optim.DecayGroups(m.Params(), 0.01, nil), 0.05, 0.9, 0.999, 1e-8))
	tr.ClipNorm, tr.LabelSmoothing, tr.Seed = 1, 0.1, 7
	var hooked []int
	tr.Hook = func(step int, rng *rand.Rand) error { hooked = append(hooked, step); return nil }
	rng := rand.New(rand.NewPCG(1, 1))
	var first, last StepResult
	for step := 0; step < 40; step++ {
		x, labels := linearBatch(rng, 32)
		r, err := tr.Step(step, x, labels)
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = r
		}
		last = r
	}
	if !(last.Loss < first.Loss/2) || last.Correct < 28 {
		t.Fatalf("loss %.4f → %.4f, last batch %d/32 correct: not learning", first.Loss, last.Loss, last.Correct)
	}
	if first.GradNorm <= 0 {
		t.Errorf("gradient norm %v with clipping on, want > 0", first.GradNorm)
	}
	if len(hooked) != 40 || hooked[0] != 0 || hooked[39] != 39 {
		t.Fatalf("hook saw steps %v, want 0…39", hooked)
	}
	if v, _ := m.store.Get("scale"); v.Value.Data[0] != 1 || v.Grad != nil {
		t.Fatalf("frozen parameter changed (%v) or got a gradient", v.Value.Data)
	}
	for _, p := range m.lin.W.Grad.Data {
		if p != 0 {
			t.Fatal("gradients not zeroed after the step")
		}
	}
}

// The hook's source depends only on (Seed, step), and is not the forward
// pass's: adding a hook that draws leaves the forward's draws as they were.
func TestHookSourceIsSeededAndSeparate(t *testing.T) {
	run := func(hook Hook) []uint64 {
		m := newLinearModel(t, 16, 4)
		tr := NewTrainer(m, optim.NewAdamW(optim.DecayGroups(m.Params(), 0, nil), 1e-3, 0.9, 0.999, 1e-8))
		tr.Seed, tr.Hook = 3, hook
		x, labels := linearBatch(rand.New(rand.NewPCG(2, 2)), 8)
		for _, step := range []int{0, 1, 5} {
			if _, err := tr.Step(step, x, labels); err != nil {
				t.Fatal(err)
			}
		}
		return m.draws
	}
	var hookDraws [2][]uint64
	for i := range hookDraws {
		i := i
		run(func(step int, rng *rand.Rand) error {
			hookDraws[i] = append(hookDraws[i], rng.Uint64(), rng.Uint64())
			return nil
		})
	}
	if len(hookDraws[0]) != 6 || hookDraws[0][0] != hookDraws[1][0] || hookDraws[0][5] != hookDraws[1][5] {
		t.Fatalf("hook draws differ between identical runs: %v vs %v", hookDraws[0], hookDraws[1])
	}
	without := run(nil)
	with := run(func(step int, rng *rand.Rand) error { rng.Uint64(); return nil })
	for i := range without {
		if with[i] != without[i] {
			t.Fatalf("a drawing hook changed the forward pass's draw at step %d", i)
		}
	}
	if hookDraws[0][0] == without[0] {
		t.Fatal("the hook and the forward pass got the same source")
	}
}

func TestStepErrorsNameTheStep(t *testing.T) {
	m := newLinearModel(t, 16, 4)
	tr := NewTrainer(m, optim.NewAdamW(optim.DecayGroups(m.Params(), 0, nil), 1e-3, 0.9, 0.999, 1e-8))
	x, labels := linearBatch(rand.New(rand.NewPCG(2, 2)), 8)
	before := append([]float32(nil), m.lin.W.Value.Data...)
	x.Value.Data[0] = float32(math.NaN())
	if _, err := tr.Step(2, x, labels); err == nil || !strings.Contains(err.Error(), "step 3") || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("NaN loss: want an error naming step 3 and NaN, got %v", err)
	}
	for i, v := range m.lin.W.Value.Data {
		if v != before[i] {
			t.Fatal("a failed step changed a parameter")
		}
	}
	tr.Hook = func(int, *rand.Rand) error { return context.Canceled }
	x.Value.Data[0] = 0
	if _, err := tr.Step(0, x, labels); err == nil || !strings.Contains(err.Error(), "step 1: hook") {
		t.Fatalf("failing hook: want an error naming step 1 and the hook, got %v", err)
	}
}

// Run trains a model that is not a ViT when told its input pipeline and how
// to save it, and says what is missing otherwise.
func TestRunNonViTModel(t *testing.T) {
	trainSet, val := quadrants(t, 64, 1), quadrants(t, 32, 2)
	o := opts(t.TempDir())
	o.PadCrop, o.HFlip, o.Epochs = 0, false, 3
	if _, err := Run(context.Background(), newLinearModel(t, 256, 4), trainSet, val, o); err == nil || !strings.Contains(err.Error(), "Options.Preprocess") {
		t.Fatalf("no input pipeline: want an error naming Options.Preprocess, got %v", err)
	}
	o.Preprocess = &data.Preprocess{Channels: 1, Height: 16, Width: 16}
	if _, err := Run(context.Background(), newLinearModel(t, 256, 4), trainSet, val, o); err == nil || !strings.Contains(err.Error(), "Options.SaveBest") {
		t.Fatalf("no best-model writer: want an error naming Options.SaveBest, got %v", err)
	}
	var saved []string
	o.SaveBest = func(dir string) error { saved = append(saved, dir); return nil }
	o.OutDir = t.TempDir()
	sum, err := Run(context.Background(), newLinearModel(t, 256, 4), trainSet, val, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) == 0 || saved[0] != filepath.Join(o.OutDir, "best") || len(sum.History) != 3 {
		t.Fatalf("best saved into %v, %d epochs of history", saved, len(sum.History))
	}
}

// lossModel is linearModel computing its loss itself (LossModel), with
// the output layer and the loss fused; its Forward fails, so a trainer that
// asked for logits would fail.
type lossModel struct{ *linearModel }

func (m lossModel) Forward(tp *ag.Tape, _ *ag.Var, _ *rand.Rand) *ag.Var {
	return tp.Fail(errors.New("the trainer asked a LossModel for logits"))
}

func (m lossModel) Loss(tp *ag.Tape, x *ag.Var, labels []int, s float32, _ *rand.Rand) (*ag.Var, int) {
	sh := x.Value.Shape
	return nn.LinearCrossEntropy(tp, tp.Reshape(x, sh[0], tensor.Numel(sh[1:])), m.lin.W, m.lin.B, labels, s)
}

// A LossModel trains through its Loss (the logits are never asked for)
// and reports its count of correct rows, as the same model does through
// Forward and the cross-entropy.
func TestTrainerStepUsesLoss(t *testing.T) {
	results := map[bool][]StepResult{}
	for _, fused := range []bool{false, true} {
		m := newLinearModel(t, 16, 4)
		var model Model = m
		if fused {
			model = lossModel{m}
		}
		tr := NewTrainer(model, optim.NewAdamW(optim.DecayGroups(m.Params(), 0.01, nil), 0.05, 0.9, 0.999, 1e-8))
		tr.LabelSmoothing = 0.1
		rng := rand.New(rand.NewPCG(1, 1))
		for step := 0; step < 20; step++ {
			x, labels := linearBatch(rng, 32)
			r, err := tr.Step(step, x, labels)
			if err != nil {
				t.Fatal(err)
			}
			results[fused] = append(results[fused], r)
		}
	}
	for i, r := range results[true] {
		want := results[false][i]
		if r.Correct != want.Correct || math.Abs(r.Loss-want.Loss) > 1e-5*(1+want.Loss) {
			t.Fatalf("step %d: loss %v, %d correct through Loss; %v, %d through Forward", i, r.Loss, r.Correct, want.Loss, want.Correct)
		}
	}
	if last := results[true][19]; last.Correct < 28 {
		t.Fatalf("last batch %d/32 correct: not learning", last.Correct)
	}
}
