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
	data, err := fs.ReadFile(sub, "tokenizer.json")
	if err != nil {
		return nil, llama.Checkpoint{}, nil, fmt.Errorf("backbones: %s: %w", ShippedLM, err)
	}
	tok, err := tokenizer.ParseJSON(data, ShippedLM+"/tokenizer.json")
	if err != nil {
		return nil, llama.Checkpoint{}, nil, fmt.Errorf("backbones: %w", err)
	}
	return m, ck, tok, nil
}
