package transfer_test

import (
	"fmt"

	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/transfer"
)

// Plan lists the cells a suite runs: here one task under the VTAB-1k
// protocol and one few-shot task, two methods, one seed.
func ExampleConfig_Plan() {
	c := transfer.Config{Tasks: []string{"digits"}, FewShot: []string{"digits"}, Shots: []int{1},
		Methods: []string{pipeline.Searched, "lora"}, Seeds: 1}
	for _, cell := range c.Plan() {
		fmt.Println(cell.Key())
	}
	// Output:
	// vtab1k_digits_vtab1k_glora-searched_s0
	// vtab1k_digits_vtab1k_lora_s0
	// few-shot_digits_1shot_glora-searched_s0
	// few-shot_digits_1shot_lora_s0
}
