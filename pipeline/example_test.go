package pipeline_test

import (
	"context"
	"fmt"
	"log"
	"os"

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

// The whole searched-GLoRA chain from a Go program (`glora run`): the
// shipped backbone adapted to a generated counting task under the quick
// recipe (one epoch per run: a smoke test, not a result), then merged and
// tested once. The folder holds the adapter, the merged model (a plain
// ViT, as fast as the base), report.md and the plots.
func Example() {
	task, err := pipeline.Open(pipeline.Spec{Base: "shipped", Data: "synth:count:train=150,test=60", Scheme: "holdout:0.2"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "glora-example-")
	defer os.RemoveAll(dir)
	r, err := pipeline.Run(context.Background(), task, pipeline.MustNamed(pipeline.Quick), pipeline.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d train / %d validation images, %d classes\n", r.NTrain, r.NVal, len(task.Classes))
	fmt.Printf("searched %d candidates under a budget of %d parameters; kept 1 of %d finalists, within the budget: %v\n",
		r.Candidates, r.Budget, len(r.Finalists), r.SupportParams <= r.Budget)
	fmt.Printf("tested on %d images\n", r.NTest)
	// Output:
	// 120 train / 30 validation images, 6 classes
	// searched 8 candidates under a budget of 73728 parameters; kept 1 of 2 finalists, within the budget: true
	// tested on 60 images
}

// Several methods on one task, compared as the demo compares them: each
// trains and keeps its best epoch on validation, and only then is every
// kept model scored on the test split, once.
func ExampleCompare() {
	task, err := pipeline.Open(pipeline.Spec{Data: "synth:count:train=150,test=60", Scheme: "holdout:0.2"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "glora-compare-")
	defer os.RemoveAll(dir)
	res, err := pipeline.Compare(context.Background(), task, pipeline.MustNamed(pipeline.Quick), []string{"linear", "lora"}, pipeline.Options{Dir: dir}, true)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res {
		fmt.Printf("%-6s %5d support + %d head parameters, tested on %d images\n", r.Method, r.Support, r.Head, r.Test.N)
	}
	// Output:
	// linear     0 support + 774 head parameters, tested on 60 images
	// lora   73728 support + 774 head parameters, tested on 60 images
}
