package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/optim"
	"github.com/glora/glora/tensor"
)

// Model is what train trains and evaluates: anything that maps a batch of
// images to logits and lists its parameters. *vit.Model is one; a GLoRA
// supernet wrapping a ViT is another.
type Model interface {
	// Forward maps images x (B, C, H, W) to logits (B, classes) on tp. A
	// non-nil rng means training and drives the model's random choices
	// (drop-path); nil means inference.
	Forward(tp *ag.Tape, x *ag.Var, rng *rand.Rand) *ag.Var
	// Params lists every parameter, each with a unique Name (its checkpoint
	// key); RequiresGrad marks the trainable ones.
	Params() []*ag.Var
}

// LossModel is a Model that computes its training loss itself, without
// handing the logits out: a language model, whose logits (B·T, vocabulary)
// would be a training step's largest buffers (llama.CausalLM). Trainer
// calls Loss instead of Forward and nn.CrossEntropy.
type LossModel interface {
	Model
	// Loss is nn.CrossEntropy(Forward(tp, x, rng), labels, smoothing) and
	// the number of rows whose arg-max logit is the label.
	Loss(tp *ag.Tape, x *ag.Var, labels []int, smoothing float32, rng *rand.Rand) (*ag.Var, int)
}

// Hook runs at the start of a training step, before the forward pass, with
// the step's index (0-based: the number of optimiser steps taken before it)
// and a source seeded by the trainer's Seed and the step alone, so a resumed
// run draws the same. A GLoRA supernet draws every layer's structure for the
// step here. The source is separate from the forward pass's (drop-path), so
// adding a hook does not change those draws. An error ends the step.
type Hook func(step int, rng *rand.Rand) error

// Trainer runs training steps of a model with AdamW. Build it with
// NewTrainer, then set the fields it needs.
type Trainer struct {
	Model          Model
	Opt            *optim.AdamW
	LabelSmoothing float32                // cross-entropy label smoothing ε ∈ [0, 1)
	ClipNorm       float64                // > 0: clip the global gradient L2 norm to this
	Seed           uint64                 // seeds the per-step sources of Forward and Hook
	LR             func(step int) float64 // the learning rate of a step; nil keeps Opt.LR
	Hook           Hook                   // nil: none
	Precision      tensor.Precision       // of the step's matrix products, forward and backward (zero: F32)

	tp     *ag.Tape
	params []*ag.Var // the trainable ones, fixed at NewTrainer
}

// NewTrainer returns a Trainer of m's trainable parameters (RequiresGrad at
// this call) updated by opt, which should be built over the same parameters
// (optim.DecayGroups(m.Params(), …) leaves the frozen ones out).
func NewTrainer(m Model, opt *optim.AdamW) *Trainer {
	return &Trainer{Model: m, Opt: opt, tp: ag.NewTape(), params: trainable(m.Params())}
}

// StepResult is the outcome of one training step.
type StepResult struct {
	Loss     float64 // the batch's mean loss (with label smoothing, the smoothed objective)
	Correct  int     // rows whose arg-max logit is the label
	LR       float64 // the learning rate used
	GradNorm float64 // the gradient norm before clipping; 0 without clipping
}

// Step runs training step `step` (0-based) on images x (B, C, H, W) with
// labels:
//
//	lr ← LR(step) (when LR is set)
//	Hook(step, rand(Seed, stream 2⁶³ + step + 1))
//	logits = Forward(x, rand(Seed, stream step + 1))
//	loss   = cross-entropy(logits, labels, LabelSmoothing);  backward
//	         (a LossModel's Loss(x, labels, LabelSmoothing, the same source))
//	clip the gradients' global norm to ClipNorm (when > 0)
//	AdamW update; zero the gradients
//
// It returns the loss and the number of correct rows. A NaN/Inf loss, or a
// NaN/Inf gradient norm when clipping, is an error naming the step (1-based,
// as people count), and then the gradients are zeroed and no parameter has
// changed.
func (t *Trainer) Step(step int, x *ag.Var, labels []int) (StepResult, error) {
	fail := func(err error) (StepResult, error) {
		optim.ZeroGrad(t.params)
		return StepResult{}, fmt.Errorf("step %d: %w", step+1, err)
	}
	if step < 0 {
		return StepResult{}, fmt.Errorf("step %d: negative step index", step)
	}
	if t.LR != nil {
		t.Opt.LR = t.LR(step)
	}
	if t.Hook != nil {
		if err := t.Hook(step, rand.New(rand.NewPCG(t.Seed, 1<<63+uint64(step)+1))); err != nil {
			return fail(fmt.Errorf("hook: %w", err))
		}
	}
	rng := rand.New(rand.NewPCG(t.Seed, uint64(step)+1)) // drop-path draws of this step
	t.tp.Reset()
	t.tp.Precision = t.Precision
	var loss *ag.Var
	correct := 0
	if lm, ok := t.Model.(LossModel); ok {
		loss, correct = lm.Loss(t.tp, x, labels, t.LabelSmoothing, rng)
	} else {
		logits := t.Model.Forward(t.tp, x, rng)
		loss = nn.CrossEntropy(t.tp, logits, labels, t.LabelSmoothing)
		correct = CountCorrect(logits.Value, labels)
	}
	if err := t.tp.Backward(loss); err != nil {
		return fail(err)
	}
	r := StepResult{Loss: float64(loss.Value.Data[0]), LR: t.Opt.LR}
	if t.ClipNorm > 0 {
		if r.GradNorm = optim.ClipGradNorm(t.params, t.ClipNorm); math.IsNaN(r.GradNorm) || math.IsInf(r.GradNorm, 0) {
			return fail(fmt.Errorf("gradient norm is %v", r.GradNorm))
		}
	}
	if err := t.Opt.Update(); err != nil {
		return fail(err)
	}
	optim.ZeroGrad(t.params)
	r.Correct = correct
	return r, nil
}

// trainable lists the parameters of ps that require a gradient.
func trainable(ps []*ag.Var) []*ag.Var {
	var out []*ag.Var
	for _, p := range ps {
		if p.RequiresGrad {
			out = append(out, p)
		}
	}
	return out
}
