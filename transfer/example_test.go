package transfer_test

import (
	"fmt"

	"github.com/glora/glora/transfer"
)

// A recipe's epochs are counted on 800 training images; a few-shot
// training set gets as many optimiser steps instead.
func ExampleRecipe_Hyper() {
	r := transfer.DefaultRecipe()
	for _, n := range []int{800, 10, 160} {
		h := r.Hyper("lora", n)
		fmt.Printf("%3d images: batch %2d, %3d epochs, lr %g\n", n, h.Batch, h.Epochs, h.LR)
	}
	// Output:
	// 800 images: batch 32,   8 epochs, lr 0.005
	//  10 images: batch 10, 200 epochs, lr 0.005
	// 160 images: batch 32,  40 epochs, lr 0.005
}

// Plan lists the cells a suite runs: here one task under the VTAB-1k
// protocol and one few-shot task, two methods, one seed.
func ExampleConfig_Plan() {
	c := transfer.Config{Tasks: []string{"digits"}, FewShot: []string{"digits"}, Shots: []int{1},
		Methods: []string{transfer.Searched, "lora"}, Seeds: 1}
	for _, cell := range c.Plan() {
		fmt.Println(cell.Key())
	}
	// Output:
	// vtab1k_digits_vtab1k_glora-searched_s0
	// vtab1k_digits_vtab1k_lora_s0
	// few-shot_digits_1shot_glora-searched_s0
	// few-shot_digits_1shot_lora_s0
}
