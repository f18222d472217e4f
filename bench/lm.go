package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/lmtrain"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// Stories15M is the shape of llama2.c's stories15M model (dim 288, 6
// layers, 6 heads, hidden 768, vocabulary 32000, 256 positions, tied
// embeddings): the language-model benchmarks' default.
func Stories15M() llama.Config {
	return llama.Config{VocabSize: 32000, Dim: 288, Hidden: 768, Layers: 6, Heads: 6, KVHeads: 6, MaxSeq: 256,
		NormEps: 1e-5, RopeTheta: 10000, TiedEmbed: true, BOS: 1, EOS: 2}
}

// LMOptions configure the language-model benchmarks.
type LMOptions struct {
	Config    llama.Config
	Batch     int // lm-train: sequences per step
	SeqLen    int // lm-train: tokens per sequence
	Steps     int // lm-train: timed steps
	Warmup    int // lm-train: untimed steps
	Prompt    int // lm-generate: prompt tokens (one forward pass)
	Tokens    int // lm-generate: tokens decoded one at a time after the prompt
	Seed      uint64
	Precision tensor.Precision
	TraceGEMM bool // lm-train: record the timed steps' matrix products by shape (tensor.GEMMShapes)
	// Method of lm-train: "" or "full" (every parameter trains); "lora"
	// (LoRA of rank Rank on the seven projections of every layer, the
	// decoder frozen: lmtrain's lora); "glora" (the GLoRA supernet of
	// stored rank Rank on them, a new structure every step from Structure,
	// the decoder frozen).
	Method string
	Rank   int
}

// LMResult is a language-model benchmark's outcome (one line of
// `glora bench --json`).
type LMResult struct {
	Bench        string  `json:"bench"`
	Kernel       string  `json:"kernel"`
	Precision    string  `json:"precision"`
	Threads      int     `json:"threads"`
	Params       int     `json:"params"`
	Batch        int     `json:"batch"`
	SeqLen       int     `json:"seq_len"`
	Steps        int     `json:"steps"`
	Seconds      float64 `json:"seconds"`
	TokPerS      float64 `json:"tok_per_s"`
	PrefillMS    float64 `json:"prefill_ms,omitempty"` // lm-generate: the prompt's forward pass
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
}

func (r LMResult) String() string {
	extra := ""
	if r.PrefillMS > 0 {
		extra = fmt.Sprintf("  prompt of %d: %.1f ms", r.SeqLen, r.PrefillMS)
	}
	return fmt.Sprintf("%-16s %8.1f tok/s  %5.2fs  %.1fM params  batch=%d seq=%d%s  threads=%d  peak RSS %6.1f MiB  %s kernel=%s",
		r.Bench, r.TokPerS, r.Seconds, float64(r.Params)/1e6, r.Batch, r.SeqLen, extra, r.Threads,
		float64(r.PeakRSSBytes)/(1<<20), r.Precision, r.Kernel)
}

func lmModel(o LMOptions) (*llama.Model, error) {
	return llama.New(o.Config, rand.New(rand.NewPCG(o.Seed, 1)))
}

// LMTrain times training steps of a decoder (AdamW, next-token
// cross-entropy over every position) on random tokens: full fine-tuning,
// or with o.Method a LoRA or a GLoRA supernet step on the frozen decoder.
// Tokens per second are Batch·SeqLen per step.
func LMTrain(o LMOptions) (LMResult, error) {
	step, name, err := lmStep(o)
	if err != nil {
		return LMResult{}, err
	}
	secs, err := timeSteps(o.Warmup, o.Steps, o.TraceGEMM, step)
	if err != nil {
		return LMResult{}, err
	}
	return LMResult{Bench: name, Kernel: Kernel(o.Precision), Precision: o.Precision.String(),
		Threads: runtime.GOMAXPROCS(0), Params: o.Config.Params(), Batch: o.Batch, SeqLen: o.SeqLen, Steps: o.Steps,
		Seconds: secs, TokPerS: float64(o.Batch*o.SeqLen*o.Steps) / secs, PeakRSSBytes: PeakRSS()}, nil
}

// lmStep builds LMTrain's model for o.Method and returns its training
// step i (random windows of a random stream) and the benchmark's name, as
// gloraTrainStep does.
func lmStep(o LMOptions) (func(i int) error, string, error) {
	m, err := lmModel(o)
	if err != nil {
		return nil, "", err
	}
	lm := llama.CausalLM{Model: m}
	name, hook, err := lmMethod(&lm, o)
	if err != nil {
		return nil, "", err
	}
	opt := lmtrain.NewAdamW(lm.Params(), 1e-4, 0.1)
	tr := train.NewTrainer(lm, opt)
	tr.Precision, tr.Hook = o.Precision, hook
	rng := rand.New(rand.NewPCG(o.Seed, 2))
	stream := make([]int32, o.Batch*(o.SeqLen+1)*4)
	for i := range stream {
		stream[i] = int32(rng.IntN(o.Config.VocabSize))
	}
	x := tensor.New(o.Batch, o.SeqLen)
	xv := ag.NewVar(x, false)
	return func(i int) error {
		starts := make([]int, o.Batch)
		for b := range starts {
			starts[b] = rng.IntN(len(stream) - o.SeqLen - 1)
		}
		xs, labels, err := llama.Windows(stream, starts, o.SeqLen)
		if err != nil {
			return err
		}
		copy(x.Data, xs)
		_, err = tr.Step(i, xv, labels)
		return err
	}, name, nil
}

// lmMethod prepares lm for o.Method and returns the benchmark's name and
// the trainer's hook (nil but for the supernet's structure of each step).
func lmMethod(lm *llama.CausalLM, o LMOptions) (string, train.Hook, error) {
	switch o.Method {
	case "", "full":
		return "lm-train", nil, nil
	case "lora":
		t, err := lmtrain.Attach(lm.Model, lmtrain.FinetuneOptions{Method: "lora", Rank: o.Rank, Options: lmtrain.Options{Seed: o.Seed}})
		if err != nil {
			return "", nil, err
		}
		lm.Extra = t.Net.Trainable()
		return "lm-lora-train", nil, nil
	case "glora":
		lm.Model.Store.SetTrainable(func(string, *ag.Var) bool { return false })
		net, err := glora.Attach(lm.Model, glora.Options{Space: glora.Space{Ranks: []int{o.Rank}}, Seed: o.Seed})
		if err != nil {
			return "", nil, err
		}
		lm.Extra = net.Trainable()
		hook := func(i int, _ *rand.Rand) error {
			return net.SetStructure(Structure(net.Targets(), net.Space(), o.Seed, i))
		}
		return "lm-glora-train", hook, nil
	}
	return "", nil, fmt.Errorf("bench: lm-train method %q (want full, lora or glora)", o.Method)
}

// LMGenerate times batch-1 decoding with the key/value cache: a prompt of
// Prompt random tokens in one forward pass, then Tokens tokens one at a
// time, each the arg-max of the last (so every step runs whatever the
// model predicts). Tokens per second are the one-at-a-time tokens.
func LMGenerate(o LMOptions) (LMResult, error) {
	m, err := lmModel(o)
	if err != nil {
		return LMResult{}, err
	}
	if o.Prompt < 1 || o.Prompt+o.Tokens > o.Config.MaxSeq {
		return LMResult{}, fmt.Errorf("bench: a prompt of %d and %d tokens do not fit %d positions", o.Prompt, o.Tokens, o.Config.MaxSeq)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 3))
	prompt := make([]int, o.Prompt)
	for i := range prompt {
		prompt[i] = rng.IntN(o.Config.VocabSize)
	}
	cache, err := m.NewCache(1, o.Prompt+o.Tokens)
	if err != nil {
		return LMResult{}, err
	}
	tp := ag.NewTape()
	tp.NoGrad, tp.Precision = true, o.Precision
	smp := llama.NewSampler(0, 0, 0)
	t0 := time.Now()
	y := m.Step(tp, cache, prompt, 1, len(prompt))
	if err := tp.Err(); err != nil {
		return LMResult{}, err
	}
	next := smp.Sample(y.Value.Data)
	prefill := time.Since(t0)
	t1 := time.Now()
	for i := 0; i < o.Tokens; i++ {
		tp.Reset()
		y = m.Step(tp, cache, []int{next}, 1, 1)
		if err := tp.Err(); err != nil {
			return LMResult{}, err
		}
		next = smp.Sample(y.Value.Data)
	}
	secs := time.Since(t1).Seconds()
	return LMResult{Bench: "lm-generate", Kernel: Kernel(o.Precision), Precision: o.Precision.String(),
		Threads: runtime.GOMAXPROCS(0), Params: o.Config.Params(), Batch: 1, SeqLen: o.Prompt, Steps: o.Tokens,
		Seconds: secs, TokPerS: float64(o.Tokens) / secs, PrefillMS: prefill.Seconds() * 1000, PeakRSSBytes: PeakRSS()}, nil
}
