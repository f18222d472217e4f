package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glora/glora/data"
	"github.com/glora/glora/data/datatest"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/tensor"
)

// quadrants is a learnable synthetic dataset: a bright square in one of four
// quadrants of a 16×16 gray image; the label is the quadrant.
func quadrants(t *testing.T, n int, seed uint64) *data.Dataset {
	t.Helper()
	ds, err := datatest.Quadrants(n, seed)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func tinyModel(t *testing.T) *vit.Model {
	t.Helper()
	cfg, _ := vit.Preset("vit-micro")
	cfg.NumClasses = 4
	cfg.DropPath = 0.1
	m, err := vit.New(cfg, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func opts(dir string) Options {
	return Options{OutDir: dir, Epochs: 2, Batch: 16, LR: 3e-3, MinLR: 1e-4, WarmupEpochs: 0.5,
		WeightDecay: 0.05, LabelSmoothing: 0.1, ClipNorm: 1, Seed: 9, PadCrop: 2, HFlip: true, CheckpointEvery: 3,
		Checkpoint: vit.NewCheckpoint("vit-micro", vit.Config{})}
}

// stopAfter is a context whose Err turns non-nil after n calls (Run asks
// once per step).
type stopAfter struct {
	context.Context
	n atomic.Int32
}

func (c *stopAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestRunLearnsAndWritesOutputs(t *testing.T) {
	dir := t.TempDir()
	m := tinyModel(t)
	o := opts(dir)
	o.Checkpoint = vit.NewCheckpoint("vit-micro", m.Cfg)
	o.Epochs = 12
	o.PadCrop, o.HFlip = 0, false // a horizontal flip would swap the quadrant labels
	t0 := time.Now()
	sum, err := Run(context.Background(), m, quadrants(t, 512, 1), quadrants(t, 64, 2), o)
	if err != nil {
		t.Fatal(err)
	}
	wall, epochs := time.Since(t0).Seconds(), 0.0
	for _, h := range sum.History {
		epochs += h.Seconds
	}
	if epochs > wall {
		t.Fatalf("epochs report %.3fs in all, the run took %.3fs: time counted twice", epochs, wall)
	}
	t.Logf("best val acc %.3f at epoch %d", sum.Best.Accuracy, sum.BestEpoch)
	if sum.Best.Accuracy < 0.6 {
		t.Fatalf("val accuracy %.3f after 12 epochs: not learning", sum.Best.Accuracy)
	}
	if first, last := sum.History[0].TrainLoss, sum.History[len(sum.History)-1].TrainLoss; !(last < first) {
		t.Fatalf("train loss did not fall: %.4f → %.4f", first, last)
	}
	for _, f := range []string{"best/config.json", "best/model.safetensors", "checkpoint/state.json", "checkpoint/optim.safetensors", "curves.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing output %s: %v", f, err)
		}
	}
	best, _, err := vit.Load(filepath.Join(dir, "best"))
	if err != nil {
		t.Fatal(err)
	}
	mt, err := Evaluate(best, quadrants(t, 64, 2), 32, tensor.F32)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(mt.Accuracy-sum.Best.Accuracy) > 1e-9 || mt.Correct != sum.Best.Correct || mt.N != sum.Best.N {
		t.Fatalf("reloaded best model scores %.4f (%d/%d), the run recorded %.4f (%d/%d)", mt.Accuracy, mt.Correct, mt.N,
			sum.Best.Accuracy, sum.Best.Correct, sum.Best.N)
	}
}

// Without a validation set (training on the whole training split) best/
// holds the model of the last epoch and the history has no validation.
func TestRunWithoutValidationKeepsLastEpoch(t *testing.T) {
	dir := t.TempDir()
	m := tinyModel(t)
	o := opts(dir)
	sum, err := Run(context.Background(), m, quadrants(t, 48, 1), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.BestEpoch != o.Epochs || len(sum.History) != o.Epochs || sum.Best.N != 0 {
		t.Fatalf("best epoch %d, %d epochs of history, best N %d; want %d, %d, 0", sum.BestEpoch, len(sum.History), sum.Best.N, o.Epochs, o.Epochs)
	}
	best, _, err := vit.Load(filepath.Join(dir, "best"))
	if err != nil {
		t.Fatal(err)
	}
	sameParams(t, "best/ and the final model", best, m)
	if _, err := os.Stat(filepath.Join(dir, "curves.png")); err != nil {
		t.Fatal(err)
	}
}

// A run interrupted mid-epoch and resumed ends with exactly the weights of
// an uninterrupted run.
func TestInterruptAndResumeIsExact(t *testing.T) {
	trainSet, val := quadrants(t, 80, 1), quadrants(t, 32, 2)
	ref := tinyModel(t)
	if _, err := Run(context.Background(), ref, trainSet, val, opts(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := tinyModel(t)
	ctx := &stopAfter{Context: context.Background()}
	ctx.n.Store(7) // 5 steps an epoch: stop in epoch 2
	if _, err := Run(ctx, m, trainSet, val, opts(dir)); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
	// a fresh process: new model object, state from disk
	m2 := tinyModel(t)
	o := opts(dir)
	o.Resume = true
	if _, err := Run(context.Background(), m2, trainSet, val, o); err != nil {
		t.Fatal(err)
	}
	sameParams(t, "resumed and uninterrupted runs", m2, ref)
}

// A damaged or edited state.json is refused by name instead of resuming
// at a position no run could have reached (which would skip or repeat
// training silently).
func TestResumeRefusesAnImpossibleState(t *testing.T) {
	trainSet, val := quadrants(t, 80, 1), quadrants(t, 32, 2)
	dir := t.TempDir()
	ctx := &stopAfter{Context: context.Background()}
	ctx.n.Store(7) // 5 steps an epoch: stop in epoch 2, after its batch 2
	if _, err := Run(ctx, tinyModel(t), trainSet, val, opts(dir)); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
	path := StateFile(dir)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*State){
		"epoch -3":          func(s *State) { s.Epoch = -3 },
		"batch 1e12":        func(s *State) { s.Batch = 1e12 },
		"step -1":           func(s *State) { s.Step = -1 },
		"step +1":           func(s *State) { s.Step++ },
		"no history":        func(s *State) { s.History = nil },
		"best epoch 9":      func(s *State) { s.BestEpoch = 9 },
		"correct>seen":      func(s *State) { s.Correct = s.Seen + 1 },
		"loss sum -1":       func(s *State) { s.LossSum = -1 },
		"epoch 2, 1 record": func(s *State) { s.Epoch, s.Step = 2, 10+s.Batch },
	} {
		var st State
		if err := json.Unmarshal(good, &st); err != nil {
			t.Fatal(err)
		}
		edit(&st)
		b, _ := json.Marshal(st)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		o := opts(dir)
		o.Resume = true
		if _, err := Run(context.Background(), tinyModel(t), trainSet, val, o); err == nil || !strings.Contains(err.Error(), "is not a state this run could have saved") {
			t.Errorf("%s: resumed (%v)", name, err)
		}
	}
	// the untouched state still resumes
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	o := opts(dir)
	o.Resume = true
	if _, err := Run(context.Background(), tinyModel(t), trainSet, val, o); err != nil {
		t.Fatal(err)
	}
}

// sameParams fails the test unless got and want hold bit-identical parameters.
func sameParams(t *testing.T, what string, got, want *vit.Model) {
	t.Helper()
	a, b := want.Store.Params(), got.Store.Params()
	for i := range a {
		for j, v := range a[i].Value.Data {
			if b[i].Value.Data[j] != v {
				t.Fatalf("%s differ: %s[%d] is %g, want %g", what, a[i].Name, j, b[i].Value.Data[j], v)
			}
		}
	}
}

func TestRunRefusesToOverwriteAndChecksResumeOptions(t *testing.T) {
	dir := t.TempDir()
	trainSet, val := quadrants(t, 48, 1), quadrants(t, 16, 2)
	o := opts(dir)
	o.Epochs = 1
	if _, err := Run(context.Background(), tinyModel(t), trainSet, val, o); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), tinyModel(t), trainSet, val, o); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("second run into the same folder: want an error suggesting --resume, got %v", err)
	}
	o.Resume, o.Batch = true, 8
	if _, err := Run(context.Background(), tinyModel(t), trainSet, val, o); err == nil || !strings.Contains(err.Error(), "batch 16") {
		t.Fatalf("resume with another batch size: want an error naming the old one, got %v", err)
	}
}

func TestNaNLossNamesTheStep(t *testing.T) {
	m := tinyModel(t)
	m.Head.W.Value.Data[0] = float32(math.NaN())
	_, err := Run(context.Background(), m, quadrants(t, 48, 1), quadrants(t, 16, 2), opts(t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "step 1") || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("want an error naming step 1 and NaN, got %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	m := tinyModel(t)
	for _, mut := range []func(*Options){
		func(o *Options) { o.Epochs = 0 },
		func(o *Options) { o.Batch = 0 },
		func(o *Options) { o.LR = 0 },
		func(o *Options) { o.LabelSmoothing = 1 },
		func(o *Options) { o.OutDir = "" },
		func(o *Options) { o.PadCrop = -1 },
	} {
		o := opts(t.TempDir())
		mut(&o)
		if _, err := Run(context.Background(), m, quadrants(t, 32, 1), quadrants(t, 16, 2), o); err == nil {
			t.Errorf("options %+v: want an error", o)
		}
	}
}

// StopAfter ends a run early on its schedule; resuming finishes it with the
// same weights as a run that never stopped.
func TestStopAfterThenResume(t *testing.T) {
	trainSet, val := quadrants(t, 80, 1), quadrants(t, 32, 2)
	ref := tinyModel(t)
	if _, err := Run(context.Background(), ref, trainSet, val, opts(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := opts(dir)
	o.StopAfter = 1
	sum, err := Run(context.Background(), tinyModel(t), trainSet, val, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.History) != 1 {
		t.Fatalf("stopped run has %d epochs of history, want 1", len(sum.History))
	}
	m := tinyModel(t)
	o.StopAfter, o.Resume = 0, true
	if _, err := Run(context.Background(), m, trainSet, val, o); err != nil {
		t.Fatal(err)
	}
	sameParams(t, "stopped+resumed and uninterrupted runs", m, ref)
}

// A run resumed on other training or validation images is refused.
func TestResumeRefusesOtherData(t *testing.T) {
	trainSet, val := quadrants(t, 80, 1), quadrants(t, 32, 2)
	dir := t.TempDir()
	o := opts(dir)
	o.StopAfter = 1
	if _, err := Run(context.Background(), tinyModel(t), trainSet, val, o); err != nil {
		t.Fatal(err)
	}
	o.StopAfter, o.Resume = 0, true
	for name, sets := range map[string][2]*data.Dataset{"train": {quadrants(t, 79, 1), val}, "val": {trainSet, quadrants(t, 32, 3)}} {
		_, err := Run(context.Background(), tinyModel(t), sets[0], sets[1], o)
		if err == nil || !strings.Contains(err.Error(), "it started on other images") {
			t.Errorf("other %s images: %v", name, err)
		}
	}
	if _, err := Run(context.Background(), tinyModel(t), trainSet, val, o); err != nil {
		t.Fatalf("the same images: %v", err)
	}
}

// Probabilities are a distribution per image whose arg-max is Evaluate's
// prediction, the same whatever the batch size.
func TestProbabilitiesAgreeWithEvaluate(t *testing.T) {
	m := tinyModel(t)
	ds := quadrants(t, 37, 5)
	p, err := Probabilities(m, ds, 8, tensor.F32)
	if err != nil {
		t.Fatal(err)
	}
	all, err := Probabilities(m, ds, 37, tensor.F32)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != ds.Len() {
		t.Fatalf("%d rows for %d images", len(p), ds.Len())
	}
	mt, err := Evaluate(m, ds, 8, tensor.F32)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i, row := range p {
		sum, best := 0.0, 0
		for j, v := range row {
			sum += v
			if v > row[best] {
				best = j
			}
			if math.Abs(v-all[i][j]) > 1e-6 {
				t.Fatalf("image %d class %d: %g in batches of 8, %g in one batch", i, j, v, all[i][j])
			}
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Fatalf("image %d: probabilities sum to %g", i, sum)
		}
		if best == ds.Labels[i] {
			correct++
		}
	}
	if correct != mt.Correct {
		t.Fatalf("arg-max right on %d images, Evaluate counts %d", correct, mt.Correct)
	}
}
