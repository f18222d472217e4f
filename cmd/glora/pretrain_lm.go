package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"

	"github.com/glora/glora/lmtrain"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/textdata"
	"github.com/glora/glora/tokenizer"
)

// pretrainLMSettings are pretrain-lm's flags (declarative: see decl.go),
// saved as OUT/pretrain-lm.settings.json.
type pretrainLMSettings struct {
	Data      string `flag:"data" json:"data" help:"{text-data}"`
	Model     string `flag:"model" json:"model" help:"start from this model (a Hugging Face Llama folder or a llama2.c file) instead of a fresh one; its tokenizer comes with it"`
	Tokenizer string `flag:"tokenizer" json:"tokenizer" help:"tokenizer.json or tokenizer.bin to use; default: the one beside --model, else a BPE tokenizer of --vocab tokens trained on the training split"`
	Vocab     int    `flag:"vocab" json:"vocab" help:"vocabulary of the tokenizer trained when none is given (259 byte and special tokens, the rest merges)"`
	Dim       int    `flag:"dim" json:"dim" help:"fresh model: width (hidden_size)"`
	Layers    int    `flag:"layers" json:"layers" help:"fresh model: decoder layers"`
	Heads     int    `flag:"heads" json:"heads" help:"fresh model: query heads (dim must be a multiple)"`
	KVHeads   int    `flag:"kv-heads" json:"kv_heads" help:"fresh model: key/value heads (grouped-query attention; must divide --heads; when left out, 4 if it divides --heads, else --heads)"`
	Hidden    int    `flag:"hidden" json:"hidden" help:"fresh model: SwiGLU width (0: 8/3 of dim, rounded up to a multiple of 32)"`
	lmTrainFlags
}

func defaultPretrainLM() pretrainLMSettings {
	return pretrainLMSettings{Data: "fortune", Vocab: 1024, Dim: 256, Layers: 4, Heads: 8, KVHeads: 4,
		lmTrainFlags: lmTrainFlags{SeqLen: 128, Steps: 2000, Batch: 16, LR: 2e-3, MinLR: 2e-4, Warmup: 100 /* at most a tenth of --steps */, WD: 0.1,
			Clip: 1, EvalToks: 50_000, Precision: "f32"}}
}

// runPretrainLM trains a LLaMA-style decoder on a text corpus.
func runPretrainLM(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pretrain-lm", "pretrain-lm --data SPEC --out DIR [--model DIR|FILE] [--tokenizer FILE | --vocab N] [--dim D --layers L --heads H --kv-heads K --seq-len T] [--steps N --batch B --lr LR …] [--resume] [--json]", stderr)
	s := defaultPretrainLM()
	keys := bindFlags(fs, &s)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	explicit := explicitFlags(fs)
	if !explicit["warmup"] {
		s.Warmup = min(s.Warmup, s.Steps/10)
	}
	if !explicit["kv-heads"] && (s.KVHeads > s.Heads || s.Heads%s.KVHeads != 0) {
		s.KVHeads = max(s.Heads, 1) // the default does not divide --heads: one key/value head per head
	}
	r := &lmRun{cmd: "pretrain-lm", stdout: stdout, stderr: stderr}
	if err := settleLM(r, &s, &s.lmTrainFlags, fs, keys); err != nil {
		return err
	}
	if err := checkPretrainLM(s); err != nil {
		return err
	}
	trainC, err := r.loadCorpus(s.Data, s.SplitSeed)
	if err != nil {
		return err
	}
	tok, tokFrom, err := pretrainTokenizer(s, trainC, stderr)
	if err != nil {
		return err
	}
	m, ck, err := pretrainBase(s, tok)
	if err != nil {
		return err
	}
	if err := r.tokenize(tok); err != nil {
		return err
	}
	fmt.Fprintf(r.human(s.JSON), "%s; tokenizer %s (%d tokens); model %d layers × %d, %.2fM parameters\n",
		r.describe(s.Data), tokFrom, tok.VocabSize(), m.Cfg.Layers, m.Cfg.Dim, float64(m.Cfg.Params())/1e6)
	if err := r.start(s, s.lmTrainFlags, tok); err != nil {
		return err
	}
	o, stop := r.options(s.lmTrainFlags, s.Data, tok)
	defer stop()
	sum, err := lmtrain.Train(m, ck, r.trainTok, r.valTok, o)
	if err != nil {
		return r.failed(err, s.Out)
	}
	out := lmSummary{Summary: sum, Params: m.Cfg.Params(), Trainable: m.Cfg.Params(), Tokenizer: tokFrom}
	return r.finish(out, s.lmTrainFlags, fmt.Sprintf("model in %s (try: glora generate --model %s --prompt \"…\")", sum.BestDir, sum.BestDir))
}

func checkPretrainLM(s pretrainLMSettings) error {
	return firstErr(
		checkInt("vocab", s.Vocab, 260, 1<<17),
		checkInt("dim", s.Dim, 2, 1<<14),
		checkInt("layers", s.Layers, 1, 256),
		checkInt("heads", s.Heads, 1, 1024),
		checkInt("kv-heads", s.KVHeads, 1, s.Heads),
		checkInt("hidden", s.Hidden, 0, 1<<16),
	)
}

// pretrainTokenizer is --tokenizer, the one beside --model, the run's own
// (resuming), or one trained on the training documents.
func pretrainTokenizer(s pretrainLMSettings, trainC *textdata.Corpus, log io.Writer) (*tokenizer.Tokenizer, string, error) {
	own := filepath.Join(s.Out, "tokenizer.json")
	switch {
	case s.Resume:
		tok, err := tokenizer.Load(own)
		if err != nil {
			return nil, "", fmt.Errorf("--resume: %w", err)
		}
		return tok, own, nil
	case s.Tokenizer != "" || s.Model != "":
		vocab := 1 << 30
		tok, path, err := loadTokenizer(s.Tokenizer, s.Model, vocab)
		return tok, path, err
	}
	fmt.Fprintf(log, "training a %d-token BPE tokenizer on %d documents…\n", s.Vocab, trainC.Len())
	tok, err := tokenizer.TrainBPE(trainC.Texts(), s.Vocab, nil)
	if err != nil {
		return nil, "", fmt.Errorf("--vocab: %w", err)
	}
	return tok, fmt.Sprintf("BPE %d trained on the training split", s.Vocab), nil
}

// pretrainBase is --model, or a fresh model of the flags' shape.
func pretrainBase(s pretrainLMSettings, tok *tokenizer.Tokenizer) (*llama.Model, llama.Checkpoint, error) {
	vocab := tok.VocabSize()
	if s.Model != "" {
		m, ck, err := loadLM(s.Model)
		if err != nil {
			return nil, ck, err
		}
		if vocab > m.Cfg.VocabSize {
			return nil, ck, fmt.Errorf("--model %s has a vocabulary of %d, the tokenizer %d", s.Model, m.Cfg.VocabSize, vocab)
		}
		if s.SeqLen > m.Cfg.MaxSeq {
			return nil, ck, fmt.Errorf("--seq-len %d exceeds --model's max_position_embeddings %d", s.SeqLen, m.Cfg.MaxSeq)
		}
		return m, ck, nil
	}
	hidden := s.Hidden
	if hidden == 0 {
		hidden = (8*s.Dim/3 + 31) / 32 * 32
	}
	cfg := llama.Config{VocabSize: vocab, Dim: s.Dim, Hidden: hidden, Layers: s.Layers, Heads: s.Heads, KVHeads: s.KVHeads,
		MaxSeq: s.SeqLen, NormEps: 1e-5, RopeTheta: 10000, TiedEmbed: true, BOS: tok.BOS(), EOS: tok.EOS()}
	if err := cfg.Validate(); err != nil {
		return nil, llama.Checkpoint{}, fmt.Errorf("--dim/--heads/--kv-heads: %w", err)
	}
	m, err := llama.New(cfg, rand.New(rand.NewPCG(s.Seed, 0x6c6c616d61)))
	return m, llama.Checkpoint{Config: cfg}, err
}
