package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/glora/glora/tokenizer"
)

// trainTokenizerSettings are train-tokenizer's flags (declarative: see decl.go).
type trainTokenizerSettings struct {
	Data        string  `flag:"data" json:"data" help:"{text-data}"`
	Out         string  `flag:"out" json:"out" help:"where to write: FILE.json (Hugging Face tokenizer.json), FILE.bin (llama2.c's tokenizer.bin) or a folder (tokenizer.json, tokenizer_config.json and tokenizer.bin)"`
	Vocab       int     `flag:"vocab" json:"vocab" help:"vocabulary size: 3 special tokens, 256 byte tokens, then merged pieces and the alphabet"`
	SplitSeed   uint64  `flag:"split-seed" json:"split_seed" help:"seed of the corpus split (pretrain-lm's): the tokenizer learns from the training documents only, and is measured on the validation ones"`
	Coverage    float64 `flag:"character-coverage" json:"character_coverage" help:"share of character occurrences the alphabet covers (the rarest characters are left to byte fallback)"`
	SplitDigits bool    `flag:"split-digits" json:"split_digits" help:"every digit a token of its own (LLaMA's choice)"`
	MaxLen      int     `flag:"max-length" json:"max_length" help:"model_max_length written to tokenizer_config.json (0: left out)"`
	Overwrite   bool    `flag:"overwrite" json:"-" help:"replace an existing --out"`
	JSON        bool    `flag:"json" json:"-" help:"print the result as one JSON line"`
}

// runTrainTokenizer trains a SentencePiece-style BPE vocabulary (byte
// fallback, LLaMA's layout) on a corpus's training documents.
func runTrainTokenizer(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train-tokenizer", "train-tokenizer --data SPEC --out tokenizer.json|tokenizer.bin|DIR [--vocab N] [--split-digits] [--json]", stderr)
	s := trainTokenizerSettings{Vocab: 2048, Coverage: 0.9995}
	bindFlags(fs, &s)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if s.Data == "" || s.Out == "" {
		return fmt.Errorf("--data and --out are required")
	}
	if err := firstErr(checkInt("vocab", s.Vocab, 260, 1<<20), checkInt("max-length", s.MaxLen, 0, 1<<24)); err != nil {
		return err
	}
	if !(s.Coverage > 0 && s.Coverage <= 1) {
		return fmt.Errorf("--character-coverage %v: want a share in (0, 1]", s.Coverage)
	}
	ext := strings.ToLower(filepath.Ext(s.Out))
	folder := ext != ".json" && ext != ".bin"
	if _, err := os.Stat(s.Out); err == nil && !s.Overwrite {
		return fmt.Errorf("--out %s exists (--overwrite replaces it)", s.Out)
	}
	_, train, val, _, err := lmSplits(s.Data, s.SplitSeed, stderr)
	if err != nil {
		return err
	}
	h := humanOut(s.JSON, stdout, stderr)
	fmt.Fprintf(h, "training a %d-token BPE tokenizer on %s: %d training documents…\n", s.Vocab, s.Data, train.Len())
	t0 := time.Now()
	tok, err := tokenizer.TrainBPE(train.Texts(), s.Vocab, &tokenizer.TrainOptions{CharacterCoverage: s.Coverage, SplitDigits: s.SplitDigits})
	if err != nil {
		return fmt.Errorf("--vocab: %w", err)
	}
	secs := time.Since(t0).Seconds()
	// compression on documents the tokenizer never saw
	chars, toks := 0, 0
	for _, d := range val.Texts() {
		ids, err := tok.Encode(d, false, false)
		if err != nil {
			return err
		}
		chars += utf8.RuneCountInString(d)
		toks += len(ids)
	}
	var written []string
	switch {
	case folder:
		if err := os.MkdirAll(s.Out, 0o755); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		if err := tok.WriteHF(s.Out, s.MaxLen); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		if err := tok.WriteLlama2c(filepath.Join(s.Out, "tokenizer.bin")); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		written = []string{"tokenizer.json", "tokenizer_config.json", "tokenizer.bin"}
		for i, f := range written {
			written[i] = filepath.Join(s.Out, f)
		}
	case ext == ".json":
		if err := tok.WriteJSON(s.Out); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		written = []string{s.Out}
	default:
		if err := tok.WriteLlama2c(s.Out); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		written = []string{s.Out}
	}
	perChar := 0.0
	if chars > 0 {
		perChar = float64(toks) / float64(chars)
	}
	res := map[string]any{"data": s.Data, "vocab": tok.VocabSize(), "train_documents": train.Len(),
		"val_documents": val.Len(), "val_characters": chars, "val_tokens": toks, "tokens_per_character": perChar,
		"seconds": secs, "files": written}
	if s.JSON {
		fmt.Fprintln(stdout, jsonLine(res))
		return nil
	}
	fmt.Fprintf(stdout, "done in %.1f s: %d tokens; on the %d validation documents %.3f tokens per character (%d tokens for %d characters)\nwrote %s\n",
		secs, tok.VocabSize(), val.Len(), perChar, toks, chars, strings.Join(written, ", "))
	return nil
}
