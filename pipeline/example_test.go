package pipeline_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
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

// The whole searched-GLoRA chain from a Go program: the shipped backbone
// adapted to a generated counting task under the quick recipe (one epoch
// per run: a smoke test, not a result), then merged and tested once.
func Example() {
	task, err := pipeline.Open(pipeline.Spec{Base: "shipped", Data: "synth:count:train=150,test=60", Scheme: "holdout:0.2"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "glora-example-")
	defer os.RemoveAll(dir)
	out, err := pipeline.TrainMethod(context.Background(), pipeline.Searched, task.Task, pipeline.MustNamed(pipeline.Quick),
		pipeline.Options{Dir: dir, Fresh: task.Fresh})
	if err != nil {
		log.Fatal(err)
	}
	m, err := task.Test(out.Merged, tensor.F32) // the merged model: a plain ViT, as fast as the base
	if err != nil {
		log.Fatal(err)
	}
	s := out.Searched
	fmt.Printf("%d train / %d validation images, %d classes\n", task.Train.Len(), task.Val.Len(), len(task.Classes))
	fmt.Printf("searched %d candidates under a budget of %d parameters; kept 1 of %d finalists, within the budget: %v\n",
		len(s.Search.Candidates), s.Budget, len(s.FinalistNames), out.Support <= s.Budget)
	fmt.Printf("tested on %d images\n", m.N)
	// Output:
	// 120 train / 30 validation images, 6 classes
	// searched 8 candidates under a budget of 73728 parameters; kept 1 of 2 finalists, within the budget: true
	// tested on 60 images
}
