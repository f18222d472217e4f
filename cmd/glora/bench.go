package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/glora/glora/bench"
	"github.com/glora/glora/models/vit"
)

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "bench [flags] [sgemm|vit-train|vit-forward|all]", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per line instead of a table")
	batch := fs.Int("batch", 32, "images per step (vit benchmarks)")
	steps := fs.Int("steps", 3, "timed steps (vit benchmarks)")
	warmup := fs.Int("warmup", 1, "untimed warm-up steps (vit benchmarks)")
	size := fs.Int("n", 1024, "matrix size n for sgemm (n×n×n)")
	iters := fs.Int("iters", 5, "sgemm repetitions (best is reported)")
	preset := fs.String("model", "vit-tiny", "ViT preset for the vit benchmarks")
	if err := parseFlags(fs, args, 1); err != nil {
		return err
	}
	which := "all"
	if fs.NArg() == 1 {
		which = fs.Arg(0)
	}
	switch {
	case *batch < 1:
		return fmt.Errorf("--batch must be ≥ 1, got %d", *batch)
	case *steps < 1:
		return fmt.Errorf("--steps must be ≥ 1, got %d", *steps)
	case *warmup < 0:
		return fmt.Errorf("--warmup must be ≥ 0, got %d", *warmup)
	case *size < 1:
		return fmt.Errorf("--n must be ≥ 1, got %d", *size)
	}
	cfg, err := vit.Preset(*preset)
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	emit := func(r bench.Result) {
		if *asJSON {
			b, _ := json.Marshal(r)
			fmt.Fprintln(stdout, string(b))
		} else {
			fmt.Fprintln(stdout, r)
		}
	}
	vitBench := func(name string, train bool) error {
		r, err := bench.ViT(bench.ViTOptions{Config: cfg, Name: name, Batch: *batch, Steps: *steps, Warmup: *warmup, Train: train})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		emit(r)
		return nil
	}
	switch which {
	case "sgemm":
		emit(bench.SGEMM(*size, *iters))
	case "vit-train":
		return vitBench("vit-train", true)
	case "vit-forward":
		return vitBench("vit-forward", false)
	case "all":
		emit(bench.SGEMM(*size, *iters))
		if err := vitBench("vit-train", true); err != nil {
			return err
		}
		return vitBench("vit-forward", false)
	default:
		return fmt.Errorf("unknown benchmark %q (want sgemm, vit-train, vit-forward or all)", which)
	}
	return nil
}
