package main

import (
	"fmt"
	"os"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/models/vit"
)

// shipped is the --model name of the shipped backbone (backbones.Shipped).
const shipped = backbones.Shipped

// modelHelp is the --model flag's help text.
const modelHelp = "model: shipped (the pretrained backbone embedded in glora), a checkpoint folder (config.json + model.safetensors), or a preset for a randomly initialised model (vit-micro, vit-fmnist-arch, vit-tiny, vit-small, vit-base)"

// loadModel resolves --model (resolveModel). The string returned
// describes the model for messages.
func loadModel(spec string, seed uint64) (*vit.Model, vit.Checkpoint, string, error) {
	m, ck, from, _, err := resolveModel(spec, seed, 0)
	return m, ck, from, err
}

// resolveModel is backbones.Resolve, which refuses a language model
// (shipped-lm, a Llama folder) with the commands that take one.
func resolveModel(spec string, seed uint64, classes int) (*vit.Model, vit.Checkpoint, string, bool, error) {
	m, ck, from, fresh, err := backbones.Resolve(spec, seed, classes)
	if err != nil && isLMFolder(spec) {
		err = fmt.Errorf("%s is a language model (LLaMA-style), and this command takes an image model (a ViT): eval-lm, generate, finetune-lm and convert take language models", spec)
	}
	return m, ck, from, fresh, err
}

// isLMFolder reports whether spec names a language model an image model
// could be mistaken for: shipped-lm, or a Llama folder (not a llama2.c
// file, which isLlama also takes).
func isLMFolder(spec string) bool {
	if spec == backbones.ShippedLM {
		return true
	}
	st, err := os.Stat(spec)
	return err == nil && st.IsDir() && isLlama(spec)
}
