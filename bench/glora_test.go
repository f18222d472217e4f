package bench

import (
	"testing"

	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/vit"
)

// TestBenchStructureMatchesTorchBench: bench/torch_bench.py's
// bench_structure draws these choices for the first four layers (seed 1,
// rank 8) at steps 0 and 5, so both benchmarks run the same structures.
func TestBenchStructureMatchesTorchBench(t *testing.T) {
	targets := []glora.Target{
		{Path: "blocks.0.attn.qkv", In: 192, Out: 576, HasBias: true},
		{Path: "blocks.0.attn.proj", In: 192, Out: 192, HasBias: true},
		{Path: "blocks.0.mlp.fc1", In: 192, Out: 768, HasBias: true},
		{Path: "blocks.0.mlp.fc2", In: 768, Out: 192, HasBias: true},
	}
	want := map[int][]string{
		0: {"A=vector B=none C=lora_8 D=none E=vector", "A=lora_8 B=vector C=lora_8 D=vector E=constant",
			"A=vector B=constant C=none D=constant E=constant", "A=none B=none C=none D=none E=vector"},
		5: {"A=lora_8 B=constant C=lora_8 D=vector E=vector", "A=vector B=lora_8 C=none D=none E=none",
			"A=constant B=constant C=vector D=none E=none", "A=constant B=vector C=lora_8 D=vector E=none"},
	}
	for step, w := range want {
		st := Structure(targets, glora.Space{Ranks: []int{8}}, 1, step)
		for i, tg := range targets {
			if got := st[tg.Path].String(); got != w[i] {
				t.Errorf("step %d %s: %s, torch_bench draws %s", step, tg.Path, got, w[i])
			}
		}
	}
}

func TestBenchGLoRATrainRuns(t *testing.T) {
	cfg, err := vit.Preset("vit-micro")
	if err != nil {
		t.Fatal(err)
	}
	r, err := GLoRATrain(GLoRAOptions{Config: cfg, Batch: 2, Steps: 2, Warmup: 1, Rank: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Bench != "glora-train" || r.ImgPerS <= 0 || r.Steps != 2 {
		t.Fatalf("%+v", r)
	}
}

func TestBenchLoRATrainRuns(t *testing.T) {
	cfg, err := vit.Preset("vit-micro")
	if err != nil {
		t.Fatal(err)
	}
	r, err := GLoRATrain(GLoRAOptions{LoRA: true, Config: cfg, Batch: 2, Steps: 2, Warmup: 1, Rank: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Bench != "lora-train" || r.ImgPerS <= 0 || r.Steps != 2 {
		t.Fatalf("%+v", r)
	}
}
