package finetune

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/data"
	"github.com/glora/glora/data/datatest"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// quadrants: a bright square in one of four quadrants of a 16×16 image.
func quadrants(t *testing.T, n int, seed uint64) *data.Dataset {
	t.Helper()
	ds, err := datatest.Quadrants(n, seed)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// base is a vit-micro with non-trivial weights everywhere and a 4-class head.
func base(t *testing.T) *vit.Model {
	t.Helper()
	cfg, _ := vit.Preset("vit-micro")
	cfg.NumClasses = 4
	m, err := vit.New(cfg, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for _, p := range m.Store.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] += float32(rng.NormFloat64() * 0.02)
		}
	}
	return m
}

func logits(t *testing.T, m train.Model, x *tensor.Tensor) []float32 {
	t.Helper()
	tp := ag.NewTape()
	tp.NoGrad = true
	y := m.Forward(tp, ag.NewVar(x, false), nil)
	if err := tp.Err(); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), y.Value.Data...)
}

func batch(t *testing.T) *tensor.Tensor {
	x := tensor.New(3, 1, 16, 16)
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	return x
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// Every method starts as the base model, trains exactly what it should, and
// counts its trainable parameters by docs/DESIGN.md's rules.
func TestAttachEveryMethod(t *testing.T) {
	x := batch(t)
	want := logits(t, base(t), x)
	for _, method := range append([]string{Supernet}, Methods...) {
		v := base(t)
		s := Setup{Method: method, Rank: 4, Seed: 1}
		if method == GLoRA {
			var err error
			s.Structure, err = glora.Named("ssf", glora.TargetsOf(v.Linears()[:len(v.Linears())-1]), 1, false)
			if err != nil {
				t.Fatal(err)
			}
		}
		m, err := Attach(v, s)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if got := logits(t, m, x); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: a fresh adapter changed the output (max-abs-diff %.3g)", method, maxAbsDiff(got, want))
		}
		support, head := m.Trainable()
		trainable := 0
		for _, p := range m.Params() {
			if p.RequiresGrad {
				trainable += p.Value.Numel()
			}
		}
		if head != 4*32+4 {
			t.Errorf("%s: head %d", method, head)
		}
		var wantSupport int
		targets := 4 * v.Cfg.Depth
		switch method {
		case Linear:
		case Full:
			wantSupport = v.Store.Count(false) - head
		case LoRA:
			wantSupport = 0
			for _, tg := range m.Net.Targets() {
				wantSupport += 4 * (tg.In + tg.Out)
			}
		case SSF, GLoRA:
			wantSupport = 0
			for _, tg := range m.Net.Targets() {
				wantSupport += 3 * tg.Out
			}
		case BitFit:
			wantSupport = 0
			for _, tg := range m.Net.Targets() {
				wantSupport += tg.Out
			}
		default:
			wantSupport = support // checked through the trainable tensors below
		}
		if support != wantSupport {
			t.Errorf("%s: %d support parameters, want %d", method, support, wantSupport)
		}
		if method == Supernet || method == IA3 || method == GLoRAFixed {
			if m.Net == nil || len(m.Net.Layers()) != targets {
				t.Fatalf("%s: %d GLoRA layers, want %d", method, len(m.Net.Layers()), targets)
			}
		}
		// Structure methods train only what their structure reads; a
		// supernet trains all it stores.
		// (glora-fixed's constants D and E read element 0 of stored vectors.)
		if method != Supernet && method != Full && method != GLoRAFixed && trainable != support+head {
			t.Errorf("%s: %d trainable parameters, want %d support + %d head", method, trainable, support, head)
		}
	}
}

// A supernet trains through train.Run with the sampling hook, resumes
// exactly, scores structures with merged weights as the unmerged supernet
// computes them, and exports an adapter and a merged model that reproduce
// the structure's logits.
func TestSupernetTrainSearchExport(t *testing.T) {
	trainSet, val := quadrants(t, 64, 1), quadrants(t, 32, 2)
	dir := t.TempDir()
	run := func(ctx context.Context, resume bool) (*Model, error) {
		v := base(t)
		m, err := Attach(v, Setup{Method: Supernet, Ranks: []int{2, 4}, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		lora, _ := glora.Named("lora", m.Net.Targets(), 4, false)
		m.EvalStructure = lora
		pre := train.PreprocessFor(v.Cfg)
		o := train.Options{OutDir: dir, Epochs: 2, Batch: 16, LR: 3e-3, MinLR: 1e-4, WarmupEpochs: 0.5,
			ClipNorm: 1, Seed: 9, CheckpointEvery: 3, Resume: resume, Hook: m.SampleHook(),
			CheckpointTrainableOnly: true, BaseRef: "test base", Preprocess: &pre,
			SaveBest: func(d string) error { return m.SaveAdapter(d, "test base") }}
		_, err = train.Run(ctx, m, trainSet, val, o)
		return m, err
	}
	m, err := run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := allValues(m)

	// Killed after 5 steps and resumed, the run ends bit for bit where the
	// uninterrupted one did (the same draws, data order and optimiser state).
	dir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	pre := train.PreprocessFor(base(t).Cfg)
	v := base(t)
	k, _ := Attach(v, Setup{Method: Supernet, Ranks: []int{2, 4}, Seed: 7})
	hook := k.SampleHook()
	o := train.Options{OutDir: dir, Epochs: 2, Batch: 16, LR: 3e-3, MinLR: 1e-4, WarmupEpochs: 0.5,
		ClipNorm: 1, Seed: 9, CheckpointEvery: 3, Preprocess: &pre, CheckpointTrainableOnly: true, BaseRef: "test base",
		SaveBest: func(d string) error { return k.SaveAdapter(d, "test base") },
		Hook: func(step int, r *rand.Rand) error {
			if steps++; steps == 5 {
				cancel()
			}
			return hook(step, r)
		}}
	if _, err := train.Run(ctx, k, trainSet, val, o); err == nil {
		t.Fatal("the interrupted run did not stop")
	}
	resumed, err := run(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if allValues(resumed) != want {
		t.Fatal("the resumed supernet differs from the uninterrupted one")
	}
	x := batch(t)
	rng := rand.New(rand.NewPCG(3, 4))
	st := m.Net.Space().Sample(rng, m.Net.Targets())
	if err := m.Net.SetStructure(st); err != nil {
		t.Fatal(err)
	}
	m.EvalStructure = st
	unmerged := logits(t, m, x)
	pre = train.PreprocessFor(m.ViT.Cfg)
	score, err := m.Evaluator(val, pre, 16, tensor.F32)(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	m.EvalStructure = st
	direct, err := train.EvaluateModel(m, val, pre, 16, tensor.F32)
	if err != nil {
		t.Fatal(err)
	}
	if score.Accuracy != direct.Accuracy || math.Abs(score.Loss-direct.Loss) > 1e-5 {
		t.Fatalf("merged score %+v, unmerged %.4f / %.6f", score, direct.Accuracy, direct.Loss)
	}
	if m.Net.Merged() {
		t.Fatal("the evaluator left the supernet merged")
	}

	// The structure as an adapter: saved, loaded and attached to a fresh
	// base, it reproduces the logits; merged and saved as a plain model, too.
	m.Method = GLoRA
	adir, mdir := filepath.Join(dir, "adapter"), filepath.Join(dir, "merged")
	if err := m.SaveAdapter(adir, "test base"); err != nil {
		t.Fatal(err)
	}
	if err := m.SaveMerged(mdir, vit.NewCheckpoint("vit-micro", m.ViT.Cfg), safetensors.F32); err != nil {
		t.Fatal(err)
	}
	if got := logits(t, m, x); fmt.Sprint(got) != fmt.Sprint(unmerged) {
		t.Fatal("SaveMerged changed the model")
	}
	a, err := glora.LoadAdapter(adir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Attach(base(t), Setup{Method: GLoRA, Structure: a.Structure, Init: a})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(logits(t, again, x), unmerged); d > 1e-5 {
		t.Fatalf("adapter round trip: max-abs-diff %.3g", d)
	}
	merged, _, err := vit.Load(mdir)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(logits(t, merged, x), unmerged); d > 1e-5 {
		t.Fatalf("merged model: max-abs-diff %.3g", d)
	}
	t.Logf("adapter and merged model reproduce the structure's logits (max-abs-diff ≤ 1e-5)")
}

// allValues prints every trainable value of m (support tensors, head).
func allValues(m *Model) string {
	var vals [][]float32
	for _, p := range m.Params() {
		if p.RequiresGrad {
			vals = append(vals, p.Value.Data)
		}
	}
	return fmt.Sprint(vals)
}
