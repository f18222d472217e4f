package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/glora/glora/models/llama"
)

// lmModelHelp is the --model help of the language-model commands.
const lmModelHelp = "language model: a Hugging Face Llama folder (config.json + model.safetensors, or shards with model.safetensors.index.json) or a llama2.c checkpoint file (model.bin)"

// textDataHelp is --data's help for the language-model commands.
const textDataHelp = "text corpus: fortune (Debian's fortune databases), fortune:NAME,… (some of them), spam (npm's SpamAssassin mail, labelled ham/spam), text:FILE (documents separated by blank lines) or text:FOLDER (one document per .txt file); options ,docs=file|paragraphs|lines and ,labels=folders|files (see docs/CLI.md)"

// isLlama tells whether --model names a LLaMA-style decoder: a llama2.c
// checkpoint file, or a folder whose config.json says model_type "llama".
func isLlama(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	if !st.IsDir() {
		return true // a file: only llama2.c checkpoints are files
	}
	data, err := os.ReadFile(filepath.Join(path, llama.ConfigFile))
	if err != nil {
		return false
	}
	var c struct {
		ModelType string `json:"model_type"`
	}
	return json.Unmarshal(data, &c) == nil && c.ModelType == "llama"
}

// loadLM reads --model as a LLaMA-style decoder.
func loadLM(path string) (*llama.Model, llama.Checkpoint, error) {
	if path == "" {
		return nil, llama.Checkpoint{}, fmt.Errorf("--model is required (%s)", lmModelHelp)
	}
	m, ck, err := llama.Load(path)
	if err != nil {
		return nil, llama.Checkpoint{}, fmt.Errorf("--model %s: %w", path, err)
	}
	return m, ck, nil
}
