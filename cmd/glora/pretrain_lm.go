package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/glora/glora/lmtrain"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/textdata"
	"github.com/glora/glora/tokenizer"
)

// pretrainLMSettings are pretrain-lm's flags (declarative: see decl.go),
// saved as OUT/pretrain-lm.settings.json.
type pretrainLMSettings struct {
	Data      string  `flag:"data" json:"data" help:"{text-data}"`
	Model     string  `flag:"model" json:"model" help:"start from this model (a Hugging Face Llama folder or a llama2.c file) instead of a fresh one; its tokenizer comes with it"`
	Tokenizer string  `flag:"tokenizer" json:"tokenizer" help:"tokenizer.json or tokenizer.bin to use; default: the one beside --model, else a BPE tokenizer of --vocab tokens trained on the training split"`
	Vocab     int     `flag:"vocab" json:"vocab" help:"vocabulary of the tokenizer trained when none is given (259 byte and special tokens, the rest merges)"`
	Dim       int     `flag:"dim" json:"dim" help:"fresh model: width (hidden_size)"`
	Layers    int     `flag:"layers" json:"layers" help:"fresh model: decoder layers"`
	Heads     int     `flag:"heads" json:"heads" help:"fresh model: query heads (dim must be a multiple)"`
	KVHeads   int     `flag:"kv-heads" json:"kv_heads" help:"fresh model: key/value heads (grouped-query attention; must divide --heads)"`
	Hidden    int     `flag:"hidden" json:"hidden" help:"fresh model: SwiGLU width (0: 8/3 of dim, rounded up to a multiple of 32)"`
	SeqLen    int     `flag:"seq-len" json:"seq_len" help:"tokens per training window (a fresh model's max_position_embeddings)"`
	Steps     int     `flag:"steps" json:"steps" help:"optimiser steps"`
	Batch     int     `flag:"batch" json:"batch" help:"windows per step"`
	LR        float64 `flag:"lr" json:"lr" help:"peak learning rate (AdamW, betas 0.9/0.95)"`
	MinLR     float64 `flag:"min-lr" json:"min_lr" help:"final learning rate of the cosine schedule"`
	Warmup    int     `flag:"warmup" json:"warmup" help:"linear warm-up steps"`
	WD        float64 `flag:"wd" json:"wd" help:"AdamW weight decay (matrices only)"`
	Clip      float64 `flag:"clip" json:"clip" help:"clip the gradient's global norm (0 = off)"`
	Seed      uint64  `flag:"seed" json:"seed" help:"seed of initialisation and of the windows drawn"`
	SplitSeed uint64  `flag:"split-seed" json:"split_seed" help:"seed of the documents' train/validation/test split"`
	EvalEvery int     `flag:"eval-every" json:"eval_every" help:"steps between validations and checkpoints (0: a tenth of the run)"`
	EvalToks  int     `flag:"eval-tokens" json:"eval_tokens" help:"validation tokens read per validation (0: all)"`
	StopAfter int     `flag:"stop-after" json:"-" help:"stop after this many steps (0 = all); --resume continues"`
	Out       string  `flag:"out" json:"-" help:"output folder: best/ (the model, with its tokenizer), checkpoint/, tokenizer.json, curves.png, summary.json"`
	Resume    bool    `flag:"resume" json:"-" help:"continue the run saved in --out with its saved settings (a flag given again must match; --stop-after may change)"`
	Overwrite bool    `flag:"overwrite" json:"-" help:"start again in an --out that holds a pretrain-lm run"`
	JSON      bool    `flag:"json" json:"-" help:"print the summary as one JSON line on stdout; everything else goes to stderr"`
	Precision string  `flag:"precision" json:"-" help:"{precision}"`
}

func defaultPretrainLM() pretrainLMSettings {
	return pretrainLMSettings{Data: "fortune", Vocab: 1024, Dim: 256, Layers: 4, Heads: 8, KVHeads: 4, SeqLen: 128,
		Steps: 2000, Batch: 16, LR: 2e-3, MinLR: 2e-4, Warmup: 100, WD: 0.1, Clip: 1, EvalToks: 50_000, Precision: "f32"}
}

// The language-model commands' split of a corpus's documents: 5% for
// validation, 5% for test (eval-lm reads it), the rest to train on.
const lmValFrac, lmTestFrac = 0.05, 0.05

// pretrainLMSummary is OUT/summary.json.
type pretrainLMSummary struct {
	lmtrain.Summary
	Params      int     `json:"params"`
	TrainTokens int     `json:"train_tokens"`
	ValTokens   int     `json:"val_tokens"`
	Tokenizer   string  `json:"tokenizer"`
	Seconds     float64 `json:"seconds"`
}

// runPretrainLM trains a LLaMA-style decoder on a text corpus.
func runPretrainLM(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pretrain-lm", "pretrain-lm --data SPEC --out DIR [--model DIR|FILE] [--tokenizer FILE | --vocab N] [--dim D --layers L --heads H --kv-heads K --seq-len T] [--steps N --batch B --lr LR …] [--resume] [--json]", stderr)
	s := defaultPretrainLM()
	keys := bindFlags(fs, &s)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if s.Out == "" {
		return fmt.Errorf("--out is required (the run's folder)")
	}
	human := stdout
	if s.JSON {
		human = stderr
	}
	prec, err := applyPrecision(s.Precision, stderr)
	if err != nil {
		return err
	}
	saved, err := claimOut("--out", s.Out, "pretrain-lm", s.Resume, s.Overwrite)
	if err != nil {
		return err
	}
	if saved != nil {
		given := s
		if s, err = mergeSaved(saved, given, explicitFlags(fs), keys, s.Out); err != nil {
			return err
		}
		s.StopAfter, s.Out, s.Resume, s.JSON, s.Precision = given.StopAfter, given.Out, true, given.JSON, given.Precision
	}
	if err := checkPretrainLM(s); err != nil {
		return err
	}
	t0 := time.Now()
	corpus, err := textdata.Resolve(s.Data, textdata.Options{})
	if err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	corpus, dups := corpus.Dedup() // no text in two splits
	if dups > 0 {
		fmt.Fprintf(stderr, "%s: %d repeated documents dropped\n", s.Data, dups)
	}
	trainC, valC, _, err := textdata.Split(corpus, lmValFrac, lmTestFrac, s.SplitSeed)
	if err != nil {
		return fmt.Errorf("--data %s: %w", s.Data, err)
	}
	tok, tokFrom, err := pretrainTokenizer(s, trainC, stderr)
	if err != nil {
		return err
	}
	m, ck, err := pretrainBase(s, tok)
	if err != nil {
		return err
	}
	trainTok, err := lmtrain.Stream(tok, texts(trainC))
	if err != nil {
		return err
	}
	valTok, err := lmtrain.Stream(tok, texts(valC))
	if err != nil {
		return err
	}
	fmt.Fprintf(human, "%s: %d training documents (%d tokens), %d validation (%d tokens); tokenizer %s (%d tokens); model %d layers × %d, %.2fM parameters\n",
		s.Data, trainC.Len(), len(trainTok), valC.Len(), len(valTok), tokFrom, tok.VocabSize(), m.Cfg.Layers, m.Cfg.Dim, float64(m.Cfg.Params())/1e6)
	if err := startOut(s.Out, "pretrain-lm", s.Overwrite, s.Resume, s); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	tokFile := filepath.Join(s.Out, "tokenizer.json")
	if !s.Resume {
		if err := tok.WriteJSON(tokFile); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := lmtrain.Options{OutDir: s.Out, Steps: s.Steps, Batch: s.Batch, SeqLen: s.SeqLen, LR: s.LR, MinLR: s.MinLR,
		WarmupSteps: s.Warmup, WeightDecay: s.WD, ClipNorm: s.Clip, Seed: s.Seed, EvalEvery: s.EvalEvery,
		EvalTokens: s.EvalToks, StopAfter: s.StopAfter, Resume: s.Resume, Data: s.Data,
		Precision: prec, Log: stderr, Ctx: ctx,
		SaveExtra: func(dir string) error { return tok.WriteJSON(filepath.Join(dir, "tokenizer.json")) }}
	sum, err := lmtrain.Train(m, ck, trainTok, valTok, o)
	if err != nil {
		if ctx.Err() != nil {
			return interrupted(ctx, "pretrain-lm", s.Out)
		}
		return err
	}
	out := pretrainLMSummary{Summary: sum, Params: m.Cfg.Params(), TrainTokens: len(trainTok), ValTokens: len(valTok),
		Tokenizer: tokFrom, Seconds: time.Since(t0).Seconds()}
	if err := writeJSONAtomic(filepath.Join(s.Out, "summary.json"), out); err != nil {
		return err
	}
	if sum.Stopped {
		fmt.Fprintf(human, "stopped after step %d: continue with glora pretrain-lm --resume --out %s\n", sum.History[len(sum.History)-1].Step, s.Out)
	} else {
		fmt.Fprintf(human, "done in %s: best validation perplexity %.2f at step %d; model in %s (try: glora generate --model %s --prompt \"…\")\n",
			time.Since(t0).Round(time.Second), sum.BestValPPL, sum.BestStep, sum.BestDir, sum.BestDir)
	}
	if s.JSON {
		fmt.Fprintln(stdout, jsonLine(out))
	}
	return nil
}

func checkPretrainLM(s pretrainLMSettings) error {
	return firstErr(
		checkInt("vocab", s.Vocab, 260, 1<<17),
		checkInt("dim", s.Dim, 2, 1<<14),
		checkInt("layers", s.Layers, 1, 256),
		checkInt("heads", s.Heads, 1, 1024),
		checkInt("kv-heads", s.KVHeads, 1, s.Heads),
		checkInt("hidden", s.Hidden, 0, 1<<16),
		checkInt("seq-len", s.SeqLen, 2, 1<<16),
		checkInt("steps", s.Steps, 1, maxSteps),
		checkInt("batch", s.Batch, 1, maxBatch),
		checkFloat("lr", s.LR, 0, 10, true, false),
		checkFloat("min-lr", s.MinLR, 0, s.LR, false, false),
		checkInt("warmup", s.Warmup, 0, s.Steps),
		checkFloat("wd", s.WD, 0, 10, false, false),
		checkFloat("clip", s.Clip, 0, 1e9, false, false),
		checkInt("eval-every", s.EvalEvery, 0, s.Steps),
		checkInt("eval-tokens", s.EvalToks, 0, 1<<30),
		checkInt("stop-after", s.StopAfter, 0, s.Steps),
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
	tok, err := tokenizer.TrainBPE(texts(trainC), s.Vocab, nil)
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

// texts are a corpus's documents' texts.
func texts(c *textdata.Corpus) []string {
	out := make([]string, len(c.Docs))
	for i, d := range c.Docs {
		out[i] = d.Text
	}
	return out
}
