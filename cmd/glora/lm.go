package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/tokenizer"
)

// lmModelHelp is the --model help of the language-model commands.
const lmModelHelp = "language model: shipped-lm (the small decoder embedded in glora, trained on fortunes), a Hugging Face Llama folder (config.json + model.safetensors, or shards with model.safetensors.index.json) or a llama2.c checkpoint file (model.bin)"

// textDataHelp is --data's help for the language-model commands.
const textDataHelp = "text corpus: fortune (Debian's fortune databases), fortune:NAME,… (some of them), spam (npm's SpamAssassin mail, labelled ham/spam), man[:SECTIONS] (Debian's English manual pages, e.g. man:1,8), text:FILE (documents separated by blank lines) or text:FOLDER (one document per .txt file); options ,docs=file|paragraphs|lines and ,labels=folders|files|sections (see docs/CLI.md)"

// isLlama tells whether --model names a LLaMA-style decoder: a llama2.c
// checkpoint file, or a folder whose config.json says model_type "llama".
func isLlama(path string) bool {
	if path == backbones.ShippedLM {
		return true
	}
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
	if path == backbones.ShippedLM {
		m, ck, _, err := backbones.LoadLM()
		return m, ck, err
	}
	m, ck, err := llama.Load(path)
	if err != nil {
		if _, verr := backbones.InputConfig(path); verr == nil { // an image model (its config read, no weights)
			return nil, llama.Checkpoint{}, fmt.Errorf("--model %s is an image model (a ViT), and this command takes a language model: eval, predict, finetune and run take image models", path)
		}
		return nil, llama.Checkpoint{}, fmt.Errorf("--model %s: %w", path, err)
	}
	return m, ck, nil
}

// inspectLM shows a language model: its format, shape and parameters.
func inspectLM(path string, asJSON bool, stdout io.Writer) error {
	m, ck, err := loadLM(path)
	if err != nil {
		return err
	}
	c := m.Cfg
	// a classifier folder (finetune-lm --task classify's merged/): its head
	var labels []string
	if ck.Score != nil {
		if _, labels, err = llama.AsClassifier(m, ck, path); err != nil {
			return err
		}
	}
	if asJSON {
		out := map[string]any{"model": path, "format": ck.Format, "dtype": ck.DType,
			"config": c, "parameters": c.Params(), "linears": len(m.Linears())}
		if labels != nil {
			out["classes"], out["labels"] = len(labels), labels
		}
		fmt.Fprintln(stdout, jsonLine(out))
		return nil
	}
	tied := "untied output layer"
	if c.TiedEmbed {
		tied = "output tied to the embedding"
	}
	switch {
	case c.AttnBias && c.MLPBias:
		tied += ", biases on every projection"
	case c.AttnBias:
		tied += ", biases on the attention projections"
	case c.MLPBias:
		tied += ", biases on the MLP projections"
	}
	fmt.Fprintf(stdout, "%s: LLaMA-style decoder (%s format, stored as %s)\n", path, ck.Format, ck.DType)
	fmt.Fprintf(stdout, "vocabulary %d, width %d, %d layers, %d query / %d key-value heads of %d, SwiGLU %d, %d positions, rope theta %g, RMSNorm eps %g, %s; BOS %d, EOS %d\n",
		c.VocabSize, c.Dim, c.Layers, c.Heads, c.KVHeads, c.Head(), c.Hidden, c.MaxSeq, c.RopeTheta, c.NormEps, tied, c.BOS, c.EOS)
	fmt.Fprintf(stdout, "%d parameters; %d Linear layers GLoRA can wrap (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj per layer; lm_head is the head)\n",
		c.Params(), len(m.Linears())-1)
	if labels != nil {
		fmt.Fprintf(stdout, "a sequence classifier (LlamaForSequenceClassification): score.weight (%d, %d) on the last token's hidden state, %d classes: %s\n",
			len(labels), c.Dim, len(labels), strings.Join(labels, ", "))
	}
	return nil
}

// writeTokenizer puts tok beside the model in dir as Hugging Face reads it:
// tokenizer.json and tokenizer_config.json (model_max_length from the
// folder's config.json, when it has one).
func writeTokenizer(tok *tokenizer.Tokenizer, dir string) error {
	maxLen := 0
	if raw, err := os.ReadFile(filepath.Join(dir, llama.ConfigFile)); err == nil {
		if cfg, _, err := llama.ParseConfig(raw); err == nil {
			maxLen = cfg.MaxSeq
		}
	}
	return tok.WriteHF(dir, maxLen)
}
