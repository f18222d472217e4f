package pipeline_test

import (
	"fmt"

	"github.com/glora/glora/pipeline"
)

// A recipe's epochs are counted on 800 training images; a few-shot
// training set gets as many optimiser steps instead.
func ExampleRecipe_Hyper() {
	r := pipeline.MustNamed(pipeline.Default)
	for _, n := range []int{800, 10, 160} {
		h := r.Hyper("lora", n)
		fmt.Printf("%3d images: batch %2d, %3d epochs, lr %g\n", n, h.Batch, h.Epochs, h.LR)
	}
	// Output:
	// 800 images: batch 32,   8 epochs, lr 0.005
	//  10 images: batch 10, 200 epochs, lr 0.005
	// 160 images: batch 32,  40 epochs, lr 0.005
}
