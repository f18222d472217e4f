package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/lmtrain"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/textdata"
	"github.com/glora/glora/tokenizer"
)

// evalLMSettings are eval-lm's flags (declarative: see decl.go).
type evalLMSettings struct {
	Model     string `flag:"model" json:"model" help:"{lm-model}"`
	Tokenizer string `flag:"tokenizer" json:"tokenizer" help:"tokenizer.json or tokenizer.bin; default: the one beside the model"`
	Data      string `flag:"data" json:"data" help:"{text-data}"`
	Split     string `flag:"split" json:"split" help:"documents to score: test, val, train (pretrain-lm's split of the corpus by --split-seed: 5% / 5% / the rest, after dropping repeats) or all"`
	SplitSeed uint64 `flag:"split-seed" json:"split_seed" help:"seed of the split (pretrain-lm's --split-seed)"`
	SeqLen    int    `flag:"seq-len" json:"seq_len" help:"tokens of context per window (0: the model's max_position_embeddings, at most 512); a classifier reads each document's first this many (0: 128, finetune-lm's)"`
	Batch     int    `flag:"batch" json:"batch" help:"windows per forward pass"`
	MaxTokens int    `flag:"max-tokens" json:"max_tokens" help:"score only the first this many tokens (0: all)"`
	Precision string `flag:"precision" json:"-" help:"{precision}"`
	JSON      bool   `flag:"json" json:"-" help:"print the result as one JSON line"`
	Plot      string `flag:"plot" json:"plot" help:"a classifier's confusion matrix as a PNG to this file"`
}

// runEvalLM reports a language model's perplexity on a text corpus.
func runEvalLM(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval-lm", "eval-lm [--model shipped-lm|DIR|FILE] [--data SPEC] [--split test|val|train|all] [--tokenizer FILE] [--seq-len T] [--plot FILE.png] [--json]", stderr)
	s := evalLMSettings{Model: backbones.ShippedLM, Data: "fortune", Split: "test", Batch: 8, Precision: "f32"}
	bindFlags(fs, &s)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := firstErr(checkInt("seq-len", s.SeqLen, 0, 1<<16), checkInt("batch", s.Batch, 1, maxBatch),
		checkInt("max-tokens", s.MaxTokens, 0, 1<<30), checkPlotPath(s.Plot)); err != nil {
		return err
	}
	prec, err := applyPrecision(s.Precision, stderr)
	if err != nil {
		return err
	}
	m, ck, err := loadLM(s.Model)
	if err != nil {
		return err
	}
	tok, tokPath, err := loadTokenizer(s.Tokenizer, s.Model, m.Cfg.VocabSize)
	if err != nil {
		return err
	}
	var docs *textdata.Corpus
	if s.Split == "all" {
		if docs, err = textdata.Resolve(s.Data, textdata.Options{}); err != nil {
			return fmt.Errorf("--data: %w", err)
		}
	} else {
		_, train, val, test, err := lmSplits(s.Data, s.SplitSeed, io.Discard)
		if err != nil {
			return err
		}
		switch s.Split {
		case "test":
			docs = test
		case "val", "validation":
			docs = val
		case "train":
			docs = train
		default:
			return fmt.Errorf("--split %q: want test, val, train or all", s.Split)
		}
	}
	if ck.Score != nil {
		return evalClassifier(s, m, ck, tok, docs, prec, stdout)
	}
	if s.Plot != "" {
		return fmt.Errorf("--plot draws a classifier's confusion matrix; --model %s is a language model, scored by perplexity", s.Model)
	}
	stream, err := lmtrain.Stream(tok, docs.Texts())
	if err != nil {
		return err
	}
	seq := s.SeqLen
	if seq == 0 {
		seq = min(m.Cfg.MaxSeq, 512)
	}
	if seq > m.Cfg.MaxSeq {
		return fmt.Errorf("--seq-len %d exceeds the model's max_position_embeddings %d", seq, m.Cfg.MaxSeq)
	}
	t0 := time.Now()
	ev, err := lmtrain.Evaluate(m, stream, seq, s.Batch, s.MaxTokens, prec)
	if err != nil {
		return err
	}
	res := map[string]any{"model": s.Model, "tokenizer": tokPath, "data": s.Data, "split": s.Split,
		"documents": docs.Len(), "tokens": ev.Tokens, "loss": ev.Loss, "perplexity": ev.PPL,
		"tokens_per_s": ev.TokPerS, "seq_len": seq, "seconds": time.Since(t0).Seconds()}
	if s.JSON {
		fmt.Fprintln(stdout, jsonLine(res))
		return nil
	}
	fmt.Fprintf(stdout, "%s %s split: %d documents, %d tokens predicted: loss %.4f nats, perplexity %.2f (windows of %d; %.0f tokens/s)\n",
		s.Data, s.Split, docs.Len(), ev.Tokens, ev.Loss, ev.PPL, seq, ev.TokPerS)
	return nil
}

// evalClassifier is eval-lm on a classifier folder (finetune-lm --task
// classify's merged/): its accuracy on the split's documents, each read as
// it was trained (BOS, then the first --seq-len tokens), the corpus's
// labels matched to the classifier's by name.
func evalClassifier(s evalLMSettings, m *llama.Model, ck llama.Checkpoint, tok *tokenizer.Tokenizer, docs *textdata.Corpus, prec tensor.Precision, stdout io.Writer) error {
	c, labels, err := llama.AsClassifier(m, ck, s.Model) // the folder loadLM read, not read again
	if err != nil {
		return err
	}
	if !docs.Labelled() {
		return fmt.Errorf("--model %s is a classifier of %s: --data %s has no labels to score it on", s.Model, strings.Join(labels, ", "), s.Data)
	}
	index := map[string]int{}
	for i, l := range labels {
		index[l] = i
	}
	ids := make([]int, docs.Len())
	for i, d := range docs.Docs {
		name := docs.Classes[d.Label]
		k, ok := index[name]
		if !ok {
			return fmt.Errorf("--data %s: class %q is not one of the classifier's (%s)", s.Data, name, strings.Join(labels, ", "))
		}
		ids[i] = k
	}
	seq := classifierWindow(s.SeqLen, c.LM.Cfg.MaxSeq)
	set, err := lmtrain.EncodeLabelled(tok, docs.Texts(), ids, seq)
	if err != nil {
		return err
	}
	t0 := time.Now()
	mt, err := lmtrain.Score(c, set, s.Batch, prec)
	if err != nil {
		return err
	}
	perClass := perClassRows(mt, labels)
	if s.Plot != "" {
		if err := plotConfusion(s.Plot, s.Model, s.Data, s.Split, mt, labels); err != nil {
			return err
		}
	}
	res := map[string]any{"model": s.Model, "data": s.Data, "split": s.Split, "documents": docs.Len(), "classes": labels,
		"accuracy": mt.Accuracy, "loss": mt.Loss, "seq_len": seq, "seconds": time.Since(t0).Seconds(),
		"per_class": perClass, "confusion": mt.Confusion}
	if s.JSON {
		fmt.Fprintln(stdout, jsonLine(res))
		return nil
	}
	fmt.Fprintf(stdout, "%s %s split: %d documents (first %d tokens each), classes %s: accuracy %.4f, loss %.4f\n",
		s.Data, s.Split, docs.Len(), seq, strings.Join(labels, ", "), mt.Accuracy, mt.Loss)
	printPerClass(stdout, perClass, "documents")
	if s.Plot != "" {
		notePlot(stdout, s.Plot, labels)
	}
	return nil
}

// classifierWindow is the tokens a classifier reads of each document:
// --seq-len, or finetune-lm's default 128 for 0, at most the model's
// positions.
func classifierWindow(seqLen, maxSeq int) int {
	if seqLen == 0 {
		seqLen = 128
	}
	return min(seqLen, maxSeq)
}
