package main

import (
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/models/vit"
)

// loadModel resolves --model: "" is the shipped backbone, a folder is a
// checkpoint (config.json + model.safetensors, timm or transformers
// dialect), anything else a preset name (randomly initialised from seed).
func loadModel(spec string, seed uint64) (*vit.Model, vit.Checkpoint, string, error) {
	if spec == "" {
		m, ck, err := backbones.Default()
		return m, ck, "shipped backbone " + backbones.DefaultName, err
	}
	if st, err := os.Stat(spec); err == nil && st.IsDir() {
		m, ck, err := vit.Load(spec)
		return m, ck, spec, err
	}
	cfg, err := vit.Preset(spec)
	if err != nil {
		return nil, vit.Checkpoint{}, "", fmt.Errorf("--model %q is neither a checkpoint folder nor a preset: %w", spec, err)
	}
	m, err := vit.New(cfg, rand.New(rand.NewPCG(seed, 0x76697420)))
	if err != nil {
		return nil, vit.Checkpoint{}, "", err
	}
	return m, vit.NewCheckpoint(spec, cfg), "preset " + spec + " (random init)", nil
}
