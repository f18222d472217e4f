package bench

import (
	"fmt"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/optim"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// GLoRAOptions configures `glora bench glora-train` and `lora-train`.
type GLoRAOptions struct {
	// LoRA times a LoRA step instead of the supernet's: LoRA of rank Rank
	// on the same layers (GLoRA's B path alone), the backbone frozen.
	LoRA          bool
	Config        vit.Config
	Batch         int
	Steps, Warmup int
	Rank          int
	Seed          uint64
	Precision     tensor.Precision // of the matrix products
	TraceGEMM     bool             // record the timed steps' matrix products by shape (tensor.GEMMShapes)
}

// GLoRATrain times GLoRA supernet training steps (docs/DESIGN.md §2) on a
// ViT: every Linear of the blocks wrapped (all-linear: 48 layers for
// ViT-Tiny), stored rank Rank, a new random structure every step, the
// backbone frozen, the head and the support tensors trained by AdamW
// (forward, cross-entropy, backward, update), on random images and labels.
// The structures come from Structure, which bench/torch_bench.py
// reproduces, so both sides run the same ones. GFLOP/s counts full
// fine-tuning's FLOPs (3× the forward pass, as vit-train), so it reads as
// an effective rate comparable with vit-train's.
func GLoRATrain(o GLoRAOptions) (Result, error) {
	step, name, err := gloraTrainStep(o)
	if err != nil {
		return Result{}, err
	}
	s, err := timeSteps(o.Warmup, o.Steps, o.TraceGEMM, step)
	if err != nil {
		return Result{}, err
	}
	return stepResult(name, o.Precision, o.Batch, o.Steps, s, 3*ViTFlops(o.Config, o.Batch)), nil
}

// gloraTrainStep builds GLoRATrain's model and returns its step i and the
// benchmark's name.
func gloraTrainStep(o GLoRAOptions) (func(i int) error, string, error) {
	rng := rand.New(rand.NewPCG(42, 42))
	c := o.Config
	c.DropPath = 0 // the same work every step (as vit-train)
	m, err := vit.New(c, rng)
	if err != nil {
		return nil, "", err
	}
	if m.Head == nil {
		return nil, "", fmt.Errorf("glora-train needs a model with a classification head")
	}
	// Backbone frozen; the head and every support tensor trainable.
	setup, name := finetune.Setup{Method: finetune.Supernet, Ranks: []int{o.Rank}, Seed: o.Seed}, "glora-train"
	if o.LoRA {
		setup, name = finetune.Setup{Method: finetune.LoRA, Rank: o.Rank, Seed: o.Seed}, "lora-train"
	}
	model, err := finetune.Attach(m, setup)
	if err != nil {
		return nil, "", err
	}
	sn := model.Net
	img := ag.NewVar(tensor.New(o.Batch, c.InChans, c.ImageSize, c.ImageSize), false)
	for i := range img.Value.Data {
		img.Value.Data[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, o.Batch)
	for i := range labels {
		labels[i] = rng.IntN(c.NumClasses)
	}
	// The one training step (train.Trainer) with the supernet's structure of
	// each step set by the hook, as training does (here from Structure,
	// which the PyTorch side reproduces, instead of Supernet.Sample).
	tr := train.NewTrainer(model, optim.NewAdamW(optim.DecayGroups(model.Params(), 0.05, nil), 1e-4, 0.9, 0.999, 1e-8))
	tr.Precision = o.Precision
	if !o.LoRA {
		tr.Hook = func(i int, _ *rand.Rand) error {
			return sn.SetStructure(Structure(sn.Targets(), sn.Space(), o.Seed, i))
		}
	}
	step := func(i int) error {
		_, err := tr.Step(i, img, labels)
		return err
	}
	return step, name, nil
}

// Structure is step's structure for the benchmark: for every target
// in order and every support A..E, choice number splitmix64() mod n of the
// space's allowed choices (Space.Allowed's order), from a splitmix64 state
// seeded with seed + step·0x100000001B3. bench/torch_bench.py draws the same
// structures with the same arithmetic. (Training draws with Supernet.Sample.)
func Structure(targets []glora.Target, sp glora.Space, seed uint64, step int) glora.Structure {
	state := seed + uint64(step)*0x100000001B3
	next := func() uint64 {
		state += 0x9E3779B97F4A7C15
		z := state
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		return z ^ (z >> 31)
	}
	st := make(glora.Structure, len(targets))
	for _, t := range targets {
		var lc glora.LayerChoice
		for s := glora.A; s <= glora.E; s++ {
			allowed := sp.Allowed(s, t.HasBias)
			lc[s] = allowed[next()%uint64(len(allowed))]
		}
		st[t.Path] = lc
	}
	return st
}
