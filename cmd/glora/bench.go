package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/bench"
	"github.com/glora/glora/models/vit"
)

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "transfer" {
		return runBenchTransfer(args[1:], stdout, stderr)
	}
	fs := newFlags("bench", "bench [flags] [sgemm|vit-train|vit-forward|glora-train|backbone-train|backbone-forward|search|merged-forward|all]  |  bench transfer --out DIR [flags] (the transfer suite; bench transfer --help)", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per line instead of a table")
	batch := fs.Int("batch", 32, "images per step (vit benchmarks; the backbone ones default to 128)")
	steps := fs.Int("steps", 3, "timed steps (vit benchmarks)")
	warmup := fs.Int("warmup", 1, "untimed warm-up steps (vit benchmarks)")
	size := fs.Int("n", 1024, "matrix size n for sgemm (n×n×n)")
	iters := fs.Int("iters", 5, "sgemm repetitions (best is reported)")
	preset := fs.String("model", "vit-tiny", "ViT preset for the vit benchmarks")
	rank := fs.Int("rank", 8, "GLoRA rank for glora-train")
	val := fs.Int("val", 200, "search: validation images each candidate is scored on")
	cands := fs.Int("candidates", 30, "search: candidates timed (each scored three ways)")
	rounds := fs.Int("rounds", 5, "merged-forward: rounds, each timing --steps forward passes of the base and of the merged model")
	precision := precisionFlag(fs)
	prec, err := parseWithPrecision(fs, args, 1, precision, stderr)
	if err != nil {
		return err
	}
	which := "all"
	if fs.NArg() == 1 {
		which = fs.Arg(0)
	}
	if err := firstErr(
		checkInt("batch", *batch, 1, maxBatch),
		checkInt("steps", *steps, 1, maxSteps),
		checkInt("warmup", *warmup, 0, maxSteps),
		checkInt("rank", *rank, 1, 1024),
		checkInt("n", *size, 1, 16384),
		checkInt("iters", *iters, 1, 1_000_000),
		checkInt("val", *val, 1, 1_000_000),
		checkInt("candidates", *cands, 1, 100_000),
		checkInt("rounds", *rounds, 1, 100_000),
	); err != nil {
		return err
	}
	// search and merged-forward run on the shipped backbone unless --model
	// names a preset.
	gloraModel := shipped
	if explicitFlags(fs)["model"] {
		gloraModel = *preset
	}
	cfg, err := vit.Preset(*preset)
	if err != nil && (gloraModel != shipped || which != "search" && which != "merged-forward") {
		return fmt.Errorf("--model: %w", err)
	}
	emit := func(r bench.Result) {
		if *asJSON {
			fmt.Fprintln(stdout, jsonLine(r))
		} else {
			fmt.Fprintln(stdout, r)
		}
	}
	batchSet := false
	fs.Visit(func(f *flag.Flag) { batchSet = batchSet || f.Name == "batch" })
	vitBench := func(name string, train bool) error {
		c, b := cfg, *batch
		if strings.HasPrefix(name, "backbone") {
			m, _, err := backbones.Default()
			if err != nil {
				return err
			}
			c = m.Cfg
			if !batchSet {
				b = 128
			}
		}
		r, err := bench.ViT(bench.ViTOptions{Config: c, Name: name, Batch: b, Steps: *steps, Warmup: *warmup, Train: train, Precision: prec})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		emit(r)
		return nil
	}
	switch which {
	case "sgemm":
		emit(bench.SGEMM(*size, *iters, prec))
	case "vit-train":
		return vitBench("vit-train", true)
	case "vit-forward":
		return vitBench("vit-forward", false)
	case "glora-train":
		r, err := bench.GLoRATrain(bench.GLoRAOptions{Config: cfg, Batch: *batch, Steps: *steps, Warmup: *warmup, Rank: *rank, Seed: 1, Precision: prec})
		if err != nil {
			return fmt.Errorf("glora-train: %w", err)
		}
		emit(r)
	case "search":
		b := 256
		if batchSet {
			b = *batch
		}
		r, err := bench.Search(bench.SearchOptions{Model: gloraModel, Val: *val, Candidates: *cands, Batch: b, Seed: 1, Precision: prec})
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		if *asJSON {
			fmt.Fprintln(stdout, jsonLine(r))
		} else {
			fmt.Fprintln(stdout, r)
		}
	case "merged-forward":
		b := 128
		if batchSet {
			b = *batch
		}
		r, err := bench.MergedForward(gloraModel, b, *steps, *rounds, 1, prec)
		if err != nil {
			return fmt.Errorf("merged-forward: %w", err)
		}
		if *asJSON {
			fmt.Fprintln(stdout, jsonLine(r))
		} else {
			fmt.Fprintln(stdout, r)
		}
	case "backbone-train":
		return vitBench("backbone-train", true)
	case "backbone-forward":
		return vitBench("backbone-forward", false)
	case "all":
		emit(bench.SGEMM(*size, *iters, prec))
		for _, name := range []string{"vit-train", "vit-forward", "backbone-train", "backbone-forward"} {
			if err := vitBench(name, strings.HasSuffix(name, "train")); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown benchmark %q (want sgemm, vit-train, vit-forward, glora-train, backbone-train, backbone-forward, search, merged-forward or all)", which)
	}
	return nil
}
