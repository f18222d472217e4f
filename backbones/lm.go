package backbones

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/tokenizer"
)

//go:embed lm-fortune
var lmFiles embed.FS

// ShippedLM is the model spec of the language model embedded in the
// binary: a small LLaMA-style decoder trained on Debian's fortune
// databases (lm-fortune/README.md says how).
const ShippedLM = "shipped-lm"

// lmName is the shipped language model's folder.
const lmName = "lm-fortune"

// LoadLM returns the shipped language model and its tokenizer.
func LoadLM() (*llama.Model, llama.Checkpoint, *tokenizer.Tokenizer, error) {
	sub, err := fs.Sub(lmFiles, lmName)
	if err != nil {
		return nil, llama.Checkpoint{}, nil, err
	}
	m, ck, err := llama.LoadFS(sub, ShippedLM)
	if err != nil {
		return nil, llama.Checkpoint{}, nil, fmt.Errorf("backbones: %s: %w", ShippedLM, err)
	}
	tok, err := LMTokenizer()
	if err != nil {
		return nil, llama.Checkpoint{}, nil, err
	}
	return m, ck, tok, nil
}

// LMTokenizer returns the shipped language model's tokenizer alone.
func LMTokenizer() (*tokenizer.Tokenizer, error) {
	data, err := fs.ReadFile(lmFiles, lmName+"/tokenizer.json")
	if err != nil {
		return nil, fmt.Errorf("backbones: %s: %w", ShippedLM, err)
	}
	tok, err := tokenizer.ParseJSON(data, ShippedLM+"/tokenizer.json")
	if err != nil {
		return nil, fmt.Errorf("backbones: %w", err)
	}
	return tok, nil
}
