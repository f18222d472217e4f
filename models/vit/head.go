package vit

import (
	"fmt"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

// HeadRNG is the seeded source a fresh head is drawn from: stream "head"
// of seed, so that a run's head does not depend on other draws.
func HeadRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x68656164)) }

// ResetHead replaces the classification head with a new one of classes
// outputs: head.weight (classes, D) drawn from a normal of std 0.02
// truncated at ±0.04 (timm's head init) when rng is non-nil, zeros when rng
// is nil; head.bias (classes) zero. It updates Cfg.NumClasses.
//
// The head parameters keep their names and *ag.Var identities (their
// values are replaced), so call it before building an optimizer, whose
// per-parameter state would have the old size. A model without a head gets
// one. Removing the head (classes = 0) is not supported: nn.Store cannot
// drop parameters.
func (m *Model) ResetHead(classes int, rng *rand.Rand) error {
	if classes < 1 {
		return fmt.Errorf("vit: reset head: classes %d must be ≥ 1", classes)
	}
	D := m.Cfg.Dim
	w, b := tensor.New(classes, D), tensor.New(classes)
	if rng != nil {
		nn.TruncNormal(0.02)(rng, w)
	}
	if m.Head == nil {
		root := nn.NewBuilder(m.Store, rng)
		wv, err := root.Param("head.weight", nil, classes, D)
		if err != nil {
			return fmt.Errorf("vit: reset head: %w", err)
		}
		bv, err := root.Param("head.bias", nil, classes)
		if err != nil {
			return fmt.Errorf("vit: reset head: %w", err)
		}
		m.Head = &nn.Linear{W: wv, B: bv}
	}
	set := func(v *ag.Var, t *tensor.Tensor) {
		v.Value, v.Grad, v.RequiresGrad = t, nil, true
	}
	set(m.Head.W, w)
	if m.Head.B == nil {
		return fmt.Errorf("vit: reset head: head has no bias parameter")
	}
	set(m.Head.B, b)
	m.Cfg.NumClasses = classes
	return nil
}

// NewCheckpoint describes a fresh model (e.g. from a preset) to be saved in
// glora's own format: timm's config.json dialect and timm tensor names.
func NewCheckpoint(name string, c Config) Checkpoint {
	return Checkpoint{Config: c, Dialect: Timm, Naming: Timm, DType: safetensors.F32,
		Extra: map[string]any{"glora_preset": name}}
}
