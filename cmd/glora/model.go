package main

import (
	"github.com/glora/glora/backbones"
	"github.com/glora/glora/models/vit"
)

// shipped is the --model name of the shipped backbone (backbones.Shipped).
const shipped = backbones.Shipped

// modelHelp is the --model flag's help text.
const modelHelp = "model: shipped (the pretrained backbone embedded in glora), a checkpoint folder (config.json + model.safetensors), or a preset for a randomly initialised model (vit-micro, vit-fmnist-arch, vit-tiny, vit-small, vit-base)"

// loadModel resolves --model (backbones.Resolve). The string returned
// describes the model for messages.
func loadModel(spec string, seed uint64) (*vit.Model, vit.Checkpoint, string, error) {
	m, ck, from, _, err := backbones.Resolve(spec, seed, 0)
	return m, ck, from, err
}
