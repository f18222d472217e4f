package lmtrain

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// pattern is a stream of cycles "1 a b c … a b c …" with a period and
// tokens drawn per cycle: predictable after one period.
func pattern(n int, seed uint64) []int32 {
	rng := rand.New(rand.NewPCG(seed, 0))
	var s []int32
	for len(s) < n {
		p := 2 + rng.IntN(3)
		base := make([]int32, p)
		for i := range base {
			base[i] = int32(3 + rng.IntN(20))
		}
		s = append(s, 1)
		for k := 0; k < 12; k++ {
			s = append(s, base[k%p])
		}
	}
	return s[:n]
}

func tinyModel(t *testing.T) *llama.Model {
	cfg := llama.Config{VocabSize: 24, Dim: 32, Hidden: 64, Layers: 2, Heads: 4, KVHeads: 2, MaxSeq: 32,
		NormEps: 1e-5, RopeTheta: 10000, BOS: 1, EOS: 2}
	m, err := llama.New(cfg, rand.New(rand.NewPCG(7, 7)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// pretrained is tinyModel trained briefly on the pattern stream (a base to
// adapt: a random frozen head could not express confident predictions
// whatever an adapter did), with the streams and its validation loss.
func pretrained(t *testing.T) (pre *llama.Model, trainTok, valTok []int32, valLoss float64) {
	t.Helper()
	trainTok, valTok = pattern(4000, 1), pattern(600, 2)
	pre = tinyModel(t)
	if _, err := Train(pre, llama.Checkpoint{}, trainTok, valTok, opts("")); err != nil {
		t.Fatal(err)
	}
	ev, err := Evaluate(pre, valTok, 24, 8, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return pre, trainTok, valTok, ev.Loss
}

func opts(dir string) Options {
	return Options{OutDir: dir, Steps: 120, Batch: 8, SeqLen: 24, LR: 1e-2, MinLR: 1e-3, WarmupSteps: 10,
		WeightDecay: 0.01, ClipNorm: 1, Seed: 3, EvalEvery: 30}
}

// TestTrainLearnsAndResumesExactly: the loss falls well below chance on a
// learnable stream, the best model is written, and a run stopped at step 20
// and resumed ends with the same weights as one run straight through.
func TestTrainLearnsAndResumesExactly(t *testing.T) {
	trainTok, valTok := pattern(4000, 1), pattern(600, 2)
	dirA, dirB := t.TempDir(), t.TempDir()
	a := tinyModel(t)
	sa, err := Train(a, llama.Checkpoint{}, trainTok, valTok, opts(dirA))
	if err != nil {
		t.Fatal(err)
	}
	chance := math.Log(24)
	if sa.BestValLoss > 0.85*chance || len(sa.History) != 4 {
		t.Fatalf("best val loss %.3f (chance %.3f) after %d records", sa.BestValLoss, chance, len(sa.History))
	}
	if _, _, err := llama.LoadHF(sa.BestDir); err != nil {
		t.Fatal(err)
	}
	b := tinyModel(t)
	o := opts(dirB)
	o.StopAfter = 60
	sb, err := Train(b, llama.Checkpoint{}, trainTok, valTok, o)
	if err != nil {
		t.Fatal(err)
	}
	if !sb.Stopped || len(sb.History) != 2 {
		t.Fatalf("stopped %v with %d records", sb.Stopped, len(sb.History))
	}
	b = tinyModel(t) // a fresh process: everything comes from the checkpoint
	o.StopAfter, o.Resume = 0, true
	sb, err = Train(b, llama.Checkpoint{}, trainTok, valTok, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range a.Params() {
		q, _ := b.Store.Get(p.Name)
		if !slices.Equal(p.Value.Data, q.Value.Data) {
			t.Fatalf("%s differs after resuming", p.Name)
		}
	}
	if len(sb.History) != 4 || sa.History[3].ValLoss != sb.History[3].ValLoss || sa.History[3].TrainLoss != sb.History[3].TrainLoss {
		t.Fatalf("records differ: %+v vs %+v", sa.History, sb.History)
	}
	o.LR = 5e-3
	if _, err := Train(tinyModel(t), llama.Checkpoint{}, trainTok, valTok, o); err == nil {
		t.Fatal("resumed with another lr")
	}
}

// TestEvaluate matches a direct computation: consecutive windows, the
// last one shorter.
func TestEvaluate(t *testing.T) {
	m := tinyModel(t)
	tok := pattern(50, 5) // windows of 16+1: 3 full (48 predictions) + 1 of 1
	ev, err := Evaluate(m, tok, 16, 2, 0, tensor.F32)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Tokens != 49 {
		t.Fatalf("%d tokens predicted, want 49", ev.Tokens)
	}
	sum := 0.0
	for s := 0; s < 49; s += 16 {
		T := min(16, 49-s)
		ids := make([]int, T)
		labels := make([]int, T)
		for i := range ids {
			ids[i], labels[i] = int(tok[s+i]), int(tok[s+i+1])
		}
		tp := ag.NewTape()
		logits := m.Forward(tp, ids, 1, T)
		loss := nn.CrossEntropy(tp, tp.Reshape(logits, T, 24), labels, 0)
		sum += float64(loss.Value.Data[0]) * float64(T)
	}
	if want := sum / 49; math.Abs(ev.Loss-want) > 1e-5 || math.Abs(ev.PPL-math.Exp(want)) > 1e-3 {
		t.Fatalf("loss %.6f, want %.6f", ev.Loss, want)
	}
}

// TestBadOptions: each impossible setting is an error, before any work.
func TestBadOptions(t *testing.T) {
	tok := pattern(200, 1)
	for _, f := range []func(*Options){
		func(o *Options) { o.SeqLen = 64 },  // > max_position_embeddings
		func(o *Options) { o.Steps = 0 },    //
		func(o *Options) { o.MinLR = 1 },    // > lr
		func(o *Options) { o.SeqLen = 500 }, // longer than the data and the model
	} {
		o := opts(t.TempDir())
		f(&o)
		if _, err := Train(tinyModel(t), llama.Checkpoint{}, tok, tok, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	bad := slices.Clone(tok)
	bad[7] = 99
	if _, err := Train(tinyModel(t), llama.Checkpoint{}, bad, tok, opts(t.TempDir())); err == nil {
		t.Error("a token outside the vocabulary was accepted")
	}
}

// TestInterruptResumes: a run whose context ends mid-way writes a
// checkpoint of the step it finished, and resuming from it ends with the
// weights and records of an uninterrupted run.
func TestInterruptResumes(t *testing.T) {
	trainTok, valTok := pattern(4000, 1), pattern(600, 2)
	a := tinyModel(t)
	sa, err := Train(a, llama.Checkpoint{}, trainTok, valTok, opts(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	o := opts(dir)
	o.Ctx = ctx
	o.Hook = func(step int, _ *rand.Rand) error {
		if step == 44 {
			cancel()
		}
		return nil
	}
	if _, err := Train(tinyModel(t), llama.Checkpoint{}, trainTok, valTok, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	o.Ctx, o.Hook, o.Resume = nil, nil, true
	b := tinyModel(t)
	sb, err := Train(b, llama.Checkpoint{}, trainTok, valTok, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range a.Params() {
		q, _ := b.Store.Get(p.Name)
		if !slices.Equal(p.Value.Data, q.Value.Data) {
			t.Fatalf("%s differs after an interrupted run resumed", p.Name)
		}
	}
	for i := range sa.History {
		if sa.History[i].TrainLoss != sb.History[i].TrainLoss || sa.History[i].ValLoss != sb.History[i].ValLoss {
			t.Fatalf("record %d: %+v vs %+v", i, sa.History[i], sb.History[i])
		}
	}
}
