package main

// What pretrain-lm and finetune-lm share: the training flags, the corpus
// split and its token streams, the run folder (claimed, resumed, the
// tokenizer kept in it), the training options and the summary.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/glora/glora/lmtrain"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/textdata"
	"github.com/glora/glora/tokenizer"
)

// lmTrainFlags are the training flags of the language-model commands.
type lmTrainFlags struct {
	SeqLen    int     `flag:"seq-len" json:"seq_len" help:"tokens per training window (a fresh model's max_position_embeddings; at most an existing model's)"`
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
	Out       string  `flag:"out" json:"-" help:"output folder: best/, checkpoint/, tokenizer.json, curves.png, summary.json (see docs/CLI.md)"`
	Resume    bool    `flag:"resume" json:"-" help:"continue the run saved in --out with its saved settings (a flag given again must match; --stop-after may change)"`
	Overwrite bool    `flag:"overwrite" json:"-" help:"start again in an --out that holds a run of this command"`
	JSON      bool    `flag:"json" json:"-" help:"print the summary as one JSON line on stdout; everything else goes to stderr"`
	Precision string  `flag:"precision" json:"-" help:"{precision}"`
}

// The language-model commands' split of a corpus's documents: 5% for
// validation, 5% for test (eval-lm reads it), the rest to train on.
const lmValFrac, lmTestFrac = 0.05, 0.05

func checkLMTrain(f lmTrainFlags) error {
	return firstErr(
		checkInt("seq-len", f.SeqLen, 2, 1<<16),
		checkInt("steps", f.Steps, 1, maxSteps),
		checkInt("batch", f.Batch, 1, maxBatch),
		checkFloat("lr", f.LR, 0, 10, true, false),
		checkFloat("min-lr", f.MinLR, 0, f.LR, false, false),
		checkInt("warmup", f.Warmup, 0, f.Steps),
		checkFloat("wd", f.WD, 0, 10, false, false),
		checkFloat("clip", f.Clip, 0, 1e9, false, false),
		checkInt("eval-every", f.EvalEvery, 0, f.Steps),
		checkInt("eval-tokens", f.EvalToks, 0, 1<<30),
		checkInt("stop-after", f.StopAfter, 0, f.Steps),
	)
}

// lmSummary is OUT/summary.json of a language-model run.
type lmSummary struct {
	lmtrain.Summary
	Method      string  `json:"method,omitempty"`
	Params      int     `json:"params"`
	Trainable   int     `json:"trainable_params"`
	TrainTokens int     `json:"train_tokens"`
	ValTokens   int     `json:"val_tokens"`
	Tokenizer   string  `json:"tokenizer"`
	Seconds     float64 `json:"seconds"`
	// Search is method searched's record (structure, budget, candidates,
	// the supernet's run, stage times).
	Search *lmtrain.SearchResult `json:"search,omitempty"`
	// Test is the test split's perplexity of the best model, read once at
	// the end (finetune-lm --test; glora run asks for it).
	Test *lmtrain.Eval `json:"test,omitempty"`
}

// lmRun is one pretrain-lm or finetune-lm invocation.
type lmRun struct {
	cmd            string
	stdout, stderr io.Writer
	prec           tensor.Precision
	t0             time.Time
	corpus         *textdata.Corpus // deduplicated, before the split
	trainC, valC   *textdata.Corpus
	testC          *textdata.Corpus
	trainTok       []int32
	valTok         []int32
	ctx            context.Context
	tokFrom        string // the tokenizer's file
	tok            *tokenizer.Tokenizer
}

func (r *lmRun) human(asJSON bool) io.Writer { return humanOut(asJSON, r.stdout, r.stderr) }

// settleLM checks --out and, resuming, replaces s (whose training flags
// are f) by the saved settings, the flags given again checked against them;
// --stop-after, --json and --precision are this invocation's.
func settleLM[T any](r *lmRun, s *T, f *lmTrainFlags, fs *flag.FlagSet, keys map[string]string) error {
	if f.Out == "" {
		return fmt.Errorf("--out is required (the run's folder)")
	}
	prec, err := applyPrecision(f.Precision, r.stderr)
	if err != nil {
		return err
	}
	r.prec, r.t0 = prec, time.Now()
	saved, err := claimOut("--out", f.Out, r.cmd, f.Resume, f.Overwrite)
	if err != nil {
		return err
	}
	if saved != nil {
		given, g := *s, *f
		explicit := explicitFlags(fs)
		if r.prec, err = resumePrecision(saved, r.prec, explicit["precision"], f.Out, r.cmd, r.stderr); err != nil {
			return err
		}
		if *s, err = mergeSaved(saved, given, explicit, keys, f.Out); err != nil {
			return err
		}
		f.StopAfter, f.Out, f.Resume, f.JSON, f.Precision = g.StopAfter, g.Out, true, g.JSON, g.Precision
	}
	return checkLMTrain(*f)
}

// lmSplits reads a corpus, drops repeated documents (so that no text is in
// two parts; the count dropped is said on log) and splits it as every
// language-model command does: 5% validation, 5% test, by seed.
func lmSplits(spec string, seed uint64, log io.Writer) (corpus, train, val, test *textdata.Corpus, err error) {
	corpus, err = textdata.Resolve(spec, textdata.Options{})
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("--data: %w", err)
	}
	corpus, dups := corpus.Dedup()
	if dups > 0 {
		fmt.Fprintf(log, "%s: %d repeated documents dropped\n", spec, dups)
	}
	train, val, test, err = textdata.Split(corpus, lmValFrac, lmTestFrac, seed)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("--data %s: %w", spec, err)
	}
	return corpus, train, val, test, nil
}

// loadCorpus reads and splits the corpus (lmSplits) and keeps its parts;
// it returns the training part. The test part is for --task classify's
// one final read.
func (r *lmRun) loadCorpus(spec string, seed uint64) (*textdata.Corpus, error) {
	var err error
	r.corpus, r.trainC, r.valC, r.testC, err = lmSplits(spec, seed, r.stderr)
	return r.trainC, err
}

// tokenize turns the training and validation documents into streams.
func (r *lmRun) tokenize(tok *tokenizer.Tokenizer) error {
	var err error
	if r.trainTok, err = lmtrain.Stream(tok, r.trainC.Texts()); err != nil {
		return err
	}
	r.valTok, err = lmtrain.Stream(tok, r.valC.Texts())
	return err
}

// describe is one line on the data.
func (r *lmRun) describe(spec string) string {
	return fmt.Sprintf("%s: %d training documents (%d tokens), %d validation (%d tokens)",
		spec, r.trainC.Len(), len(r.trainTok), r.valC.Len(), len(r.valTok))
}

// start prepares the run folder (settings saved) and keeps the tokenizer
// in it.
func (r *lmRun) start(settings any, f lmTrainFlags, tok *tokenizer.Tokenizer) error {
	if err := startOut(f.Out, r.cmd, f.Overwrite, f.Resume, settings, r.prec); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if !f.Resume {
		if err := tok.WriteJSON(filepath.Join(f.Out, "tokenizer.json")); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	return nil
}

// options are the run's lmtrain options; stop releases the signal handler.
func (r *lmRun) options(f lmTrainFlags, data string, tok *tokenizer.Tokenizer) (lmtrain.Options, func()) {
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	r.ctx = ctx
	return lmtrain.Options{OutDir: f.Out, Steps: f.Steps, Batch: f.Batch, SeqLen: f.SeqLen, LR: f.LR, MinLR: f.MinLR,
		WarmupSteps: f.Warmup, WeightDecay: f.WD, ClipNorm: f.Clip, Seed: f.Seed, EvalEvery: f.EvalEvery,
		EvalTokens: f.EvalToks, StopAfter: f.StopAfter, Resume: f.Resume, Data: data,
		Precision: r.prec, Log: r.stderr, Ctx: ctx,
		SaveExtra: func(dir string) error { return writeTokenizer(tok, dir) }}, stop
}

// failed turns a training error into the command's (an interrupted run
// says how to continue).
func (r *lmRun) failed(err error, out string) error {
	if r.ctx != nil && r.ctx.Err() != nil {
		return interrupted(r.ctx, r.cmd, out)
	}
	return err
}

// finish writes OUT/summary.json and reports.
func (r *lmRun) finish(out lmSummary, f lmTrainFlags, where string) error {
	out.TrainTokens, out.ValTokens, out.Seconds = len(r.trainTok), len(r.valTok), time.Since(r.t0).Seconds()
	if err := writeJSONAtomic(filepath.Join(f.Out, "summary.json"), out); err != nil {
		return err
	}
	h := r.human(f.JSON)
	if out.Stopped {
		fmt.Fprintf(h, "stopped after step %d: continue with glora %s --resume --out %s\n", out.History[len(out.History)-1].Step, r.cmd, f.Out)
	} else {
		fmt.Fprintf(h, "done in %s: best validation perplexity %.2f at step %d; %s\n",
			time.Since(r.t0).Round(time.Second), out.BestValPPL, out.BestStep, where)
	}
	if t := out.Test; t != nil {
		fmt.Fprintf(h, "test: perplexity %.2f of the best model on the test split (%d documents, %d tokens), read once, at the end\n",
			t.PPL, r.testC.Len(), t.Tokens)
	}
	if f.JSON {
		fmt.Fprintln(r.stdout, jsonLine(out))
	}
	return nil
}

// testEval is the perplexity of the model folder dir on the corpus's test
// split, in windows of seq tokens: the one read of the test split that
// finetune-lm --test (glora run) makes, after every choice.
func (r *lmRun) testEval(dir string, tok *tokenizer.Tokenizer, seq, batch int) (*lmtrain.Eval, error) {
	m, _, err := llama.LoadHF(dir)
	if err != nil {
		return nil, err
	}
	stream, err := lmtrain.Stream(tok, r.testC.Texts())
	if err != nil {
		return nil, err
	}
	ev, err := lmtrain.Evaluate(m, stream, seq, batch, 0, r.prec)
	if err != nil {
		return nil, err
	}
	return &ev, nil
}
