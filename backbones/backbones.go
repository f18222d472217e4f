// Package backbones holds the pretrained ViTs that ship with glora,
// embedded in the binary so that every command has a default model without
// any download. See vit-fmnist/README.md for how the default was trained.
package backbones

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/glora/glora/models/vit"
)

//go:embed vit-fmnist
var files embed.FS

// DefaultName is the shipped default backbone.
const DefaultName = "vit-fmnist"

// FS returns the embedded checkpoint folder of a shipped backbone
// (config.json, model.safetensors, README.md).
func FS(name string) (fs.FS, error) {
	sub, err := fs.Sub(files, name)
	if err != nil {
		return nil, err
	}
	if _, err := fs.Stat(sub, "config.json"); err != nil {
		return nil, fmt.Errorf("backbones: no shipped backbone %q", name)
	}
	return sub, nil
}

// Load returns a shipped backbone by name.
func Load(name string) (*vit.Model, vit.Checkpoint, error) {
	sub, err := FS(name)
	if err != nil {
		return nil, vit.Checkpoint{}, err
	}
	m, ck, err := vit.LoadFS(sub)
	if err != nil {
		return nil, vit.Checkpoint{}, fmt.Errorf("backbones: %s: %w", name, err)
	}
	return m, ck, nil
}

// Default returns the shipped default backbone.
func Default() (*vit.Model, vit.Checkpoint, error) { return Load(DefaultName) }
