package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/tokenizer"
)

// generateSettings are generate's flags (declarative: see decl.go).
type generateSettings struct {
	Model       string  `flag:"model" json:"model" help:"{lm-model}"`
	Tokenizer   string  `flag:"tokenizer" json:"tokenizer" help:"tokenizer.json (Hugging Face) or tokenizer.bin (llama2.c); default: the one beside the model (in its folder, or the checkpoint file's folder)"`
	Prompt      string  `flag:"prompt" json:"prompt" help:"text to continue (BOS is put before it); empty: start from BOS alone"`
	MaxTokens   int     `flag:"max-tokens" json:"max_tokens" help:"positions in all, the prompt's included, as llama2.c's -n (0: the model's max_position_embeddings)"`
	Temperature float64 `flag:"temperature" json:"temperature" help:"0 decodes greedily (the most probable token each step); higher samples more freely"`
	TopP        float64 `flag:"top-p" json:"top_p" help:"nucleus sampling: draw from the most probable tokens whose probabilities sum to this (1: all)"`
	Seed        uint64  `flag:"seed" json:"seed" help:"seed of the sampler"`
	JSON        bool    `flag:"json" json:"json" help:"print one JSON object (prompt, text, tokens, timing) instead of streaming the text"`
}

// runGenerate continues a prompt with a language model, streaming the text.
func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", "generate [--model shipped-lm|DIR|CHECKPOINT.bin] [--tokenizer FILE] [--prompt TEXT] [--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--json]", stderr)
	s := generateSettings{Model: backbones.ShippedLM, Temperature: 0.8, TopP: 0.9, MaxTokens: 256}
	bindFlags(fs, &s)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if s.MaxTokens < 0 {
		return fmt.Errorf("--max-tokens %d must be ≥ 0", s.MaxTokens)
	}
	if s.Temperature < 0 {
		return fmt.Errorf("--temperature %v must be ≥ 0", s.Temperature)
	}
	if s.TopP <= 0 || s.TopP > 1 {
		return fmt.Errorf("--top-p %v must be in (0, 1]", s.TopP)
	}
	m, _, err := loadLM(s.Model)
	if err != nil {
		return err
	}
	tok, tokPath, err := loadTokenizer(s.Tokenizer, s.Model, m.Cfg.VocabSize)
	if err != nil {
		return err
	}
	prompt, err := tok.Encode(s.Prompt, true, false)
	if err != nil {
		return fmt.Errorf("--prompt: %w", err)
	}
	if len(prompt) == 0 {
		return fmt.Errorf("--tokenizer %s has no BOS token to start from; give a --prompt", tokPath)
	}
	positions := m.Cfg.MaxSeq // what Generate allows, the prompt's included
	if s.MaxTokens > 0 {
		positions = min(s.MaxTokens, positions)
	}
	if len(prompt) >= positions {
		return fmt.Errorf("--prompt is %d tokens (BOS included), which leaves no position to generate in: --max-tokens counts positions, the prompt's included (%d here; the model has %d)",
			len(prompt), positions, m.Cfg.MaxSeq)
	}
	stream := tok.NewStream()
	var ids []int
	out := stdout
	if s.JSON {
		out = io.Discard
	}
	for _, id := range prompt {
		piece, err := stream.Next(id)
		if err != nil {
			return err
		}
		fmt.Fprint(out, piece)
	}
	t0 := time.Now()
	var first time.Duration
	err = m.Generate(prompt, llama.GenerateOptions{MaxTokens: s.MaxTokens, Temperature: s.Temperature, TopP: s.TopP, Seed: s.Seed},
		func(id int) error {
			if len(ids) == 0 {
				first = time.Since(t0)
			}
			ids = append(ids, id)
			piece, err := stream.Next(id)
			fmt.Fprint(out, piece)
			return err
		})
	fmt.Fprint(out, stream.Flush())
	if err != nil {
		return err
	}
	secs := time.Since(t0).Seconds()
	rate := 0.0
	if len(ids) > 1 {
		rate = float64(len(ids)-1) / (secs - first.Seconds())
	}
	if s.JSON {
		text, err := tok.Decode(ids)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, jsonLine(map[string]any{"model": s.Model, "tokenizer": tokPath, "prompt": s.Prompt,
			"prompt_tokens": prompt, "tokens": ids, "text": text, "seconds": secs,
			"first_token_seconds": first.Seconds(), "tokens_per_s": rate}))
		return nil
	}
	fmt.Fprintln(stdout)
	switch len(ids) {
	case 0:
		fmt.Fprintf(stderr, "no token generated in %.2fs (prompt of %d)\n", secs, len(prompt))
	case 1:
		fmt.Fprintf(stderr, "1 token in %.2fs (prompt of %d: %.0f ms to it)\n", secs, len(prompt), 1000*first.Seconds())
	default:
		fmt.Fprintf(stderr, "%d tokens in %.2fs (prompt of %d: %.0f ms to the first; then %.1f tokens/s)\n",
			len(ids), secs, len(prompt), 1000*first.Seconds(), rate)
	}
	return nil
}

// tokenizerNames are the files looked for beside a model.
var tokenizerNames = []string{"tokenizer.json", "tokenizer.bin"}

// loadTokenizer reads --tokenizer, or the tokenizer beside the model, and
// checks that it fits the model's vocabulary.
func loadTokenizer(path, model string, vocab int) (*tokenizer.Tokenizer, string, error) {
	if path == "" && model == backbones.ShippedLM {
		tok, err := backbones.LMTokenizer() // the model is loaded already
		return tok, backbones.ShippedLM + "/tokenizer.json", err
	}
	if path == "" {
		dir := model
		if st, err := os.Stat(model); err == nil && !st.IsDir() {
			dir = filepath.Dir(model)
		}
		for _, n := range tokenizerNames {
			if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
				path = filepath.Join(dir, n)
				break
			}
		}
		if path == "" {
			return nil, "", fmt.Errorf("no tokenizer.json or tokenizer.bin beside %s: give --tokenizer", model)
		}
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		return nil, "", fmt.Errorf("--tokenizer: %w", err)
	}
	if n := tok.VocabSize(); n > vocab {
		return nil, "", fmt.Errorf("--tokenizer %s has %d tokens, more than the model's vocabulary of %d", path, n, vocab)
	}
	return tok, path, nil
}
