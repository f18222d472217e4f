package pipeline

import (
	"testing"

	"github.com/glora/glora/finetune"
)

func TestRecipeHyperKeepsStepsForSmallSets(t *testing.T) {
	r := MustNamed(Default)
	h := r.Hyper(finetune.LoRA, RefTrain)
	if h.Epochs != 8 || h.Batch != 32 || h.LR != 5e-3 || h.MinLR != 5e-5 || h.WarmupEpochs != 0.8 {
		t.Fatalf("800 images: %+v", h)
	}
	steps := 8 * 25 // 8 epochs of ceil(800/32) steps
	for _, n := range []int{10, 20, 100, 160, 799} {
		h := r.Hyper(finetune.LoRA, n)
		perEpoch := (n + h.Batch - 1) / h.Batch
		if h.Batch != min(32, n) {
			t.Errorf("n=%d: batch %d", n, h.Batch)
		}
		if got := h.Epochs * perEpoch; got < steps || got >= steps+perEpoch {
			t.Errorf("n=%d: %d epochs × %d steps = %d, want the %d steps of 800 images", n, h.Epochs, perEpoch, got, steps)
		}
		if want := 0.8 * float64(h.Epochs) / 8; h.WarmupEpochs != want {
			t.Errorf("n=%d: warm-up %g epochs, want %g (a tenth of the run)", n, h.WarmupEpochs, want)
		}
	}
	if h := r.Hyper(finetune.LoRA, 5000); h.Epochs != 8 {
		t.Errorf("a larger set keeps the epochs: %+v", h)
	}
}

// A user who sets 1 epoch and sees 25 is told why (found trying run on a
// 36-image folder).
func TestRecipeEpochsNote(t *testing.T) {
	r := MustNamed(Default)
	if n := r.EpochsNote(finetune.LoRA, RefTrain); n != "" {
		t.Fatalf("800 images: %q", n)
	}
	r.Runs[SupernetRun] = Schedule{Epochs: 1, LR: 5e-3}
	want := " (the recipe's 1 epoch count 800 images: 26 training images get as many optimiser steps in 25 epochs)"
	if n := r.EpochsNote(SupernetRun, 26); n != want {
		t.Fatalf("got %q\nwant %q", n, want)
	}
}
