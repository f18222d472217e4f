package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/bench"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/tensor"
)

// benchSettings are `glora bench`'s flags (declarative: see decl.go).
type benchSettings struct {
	JSON       bool   `flag:"json" json:"json" help:"print one JSON object per line instead of a table"`
	Batch      int    `flag:"batch" json:"batch" help:"images per step (vit benchmarks; the backbone ones default to 128); lm-*-train: sequences per step (default 8)"`
	Steps      int    `flag:"steps" json:"steps" help:"timed steps (vit and lm-*-train benchmarks; peft-train and lm-peft-train: of each method in each round)"`
	Warmup     int    `flag:"warmup" json:"warmup" help:"untimed warm-up steps (vit and lm-*-train benchmarks)"`
	N          int    `flag:"n" json:"n" help:"matrix size n for sgemm (n×n×n)"`
	Iters      int    `flag:"iters" json:"iters" help:"sgemm repetitions (best is reported)"`
	Model      string `flag:"model" json:"model" help:"ViT preset for the vit benchmarks; the lm ones: stories15m (llama2.c's shape, the default) or shipped-lm (the shipped LM's shape), random weights"`
	Rank       int    `flag:"rank" json:"rank" help:"rank for glora-train and lm-glora-train (the supernet's), lora-train, lm-lora-train, peft-train and lm-peft-train"`
	Val        int    `flag:"val" json:"val" help:"search: validation images each candidate is scored on"`
	Candidates int    `flag:"candidates" json:"candidates" help:"search: candidates timed (each scored three ways)"`
	Rounds     int    `flag:"rounds" json:"rounds" help:"merged-forward: rounds, each timing --steps forward passes of the base and of the merged model; peft-train and lm-peft-train: rounds, each timing --steps steps of full fine-tuning, LoRA and the GLoRA supernet in turn"`
	SeqLen     int    `flag:"seq-len" json:"seq_len" help:"lm-*-train: tokens per sequence, at most the model's positions (stories15m: dim 288, 6 layers, vocabulary 32000, 256 positions; shipped-lm: dim 192, 4 layers, vocabulary 2048, 128)"`
	Prompt     int    `flag:"prompt" json:"prompt" help:"lm-generate: prompt tokens, run in one forward pass"`
	Tokens     int    `flag:"tokens" json:"tokens" help:"lm-generate: tokens decoded one at a time after the prompt (batch 1, key/value cache)"`
	CPUProfile string `flag:"cpuprofile" json:"cpuprofile" help:"write a CPU profile of the benchmark (warm-up included) to this file, for go tool pprof -top (docs/SPEED.md reads one by op kind)"`
	GEMMShapes int    `flag:"gemm-shapes" json:"gemm_shapes" help:"after each step benchmark (vit-*, backbone-*, glora-train, lora-train, lm-train), list the N matrix-product shapes its timed steps spent longest in: calls, seconds, GFLOP/s, share (each call is timed, which costs a little)"`
}

var benchDefaults = benchSettings{Batch: 32, Steps: 3, Warmup: 1, N: 1024, Iters: 5, Model: "vit-tiny", Rank: 8, Val: 200, Candidates: 30, Rounds: 5, SeqLen: 256, Prompt: 16, Tokens: 200}

// benchNames are the benchmarks `glora bench NAME` runs ("all": sgemm and
// the four vit ones).
var benchNames = []string{"sgemm", "vit-train", "vit-forward", "glora-train", "lora-train", "peft-train", "backbone-train", "backbone-forward", "search", "merged-forward", "lm-train", "lm-lora-train", "lm-glora-train", "lm-peft-train", "lm-generate", "all"}

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "transfer" {
		return runBenchTransfer(args[1:], stdout, stderr)
	}
	fs := newFlags("bench", "bench [flags] ["+strings.Join(benchNames, "|")+"]  |  bench transfer --out DIR [flags] (the transfer suite; bench transfer --help)", stderr)
	s := benchDefaults
	bindFlags(fs, &s)
	precision := precisionFlag(fs)
	prec, err := parseWithPrecision(fs, args, 1, precision, stderr)
	if err != nil {
		return err
	}
	which := "all"
	if fs.NArg() == 1 {
		which = fs.Arg(0)
	}
	if !slices.Contains(benchNames, which) {
		return fmt.Errorf("unknown benchmark %q (want %s or all)", which, strings.Join(benchNames[:len(benchNames)-1], ", "))
	}
	if err := firstErr(
		checkInt("batch", s.Batch, 1, maxBatch),
		checkInt("steps", s.Steps, 1, maxSteps),
		checkInt("warmup", s.Warmup, 0, maxSteps),
		checkInt("rank", s.Rank, 1, 1024),
		checkInt("n", s.N, 1, 16384),
		checkInt("iters", s.Iters, 1, 1_000_000),
		checkInt("val", s.Val, 1, 1_000_000),
		checkInt("candidates", s.Candidates, 1, 100_000),
		checkInt("rounds", s.Rounds, 1, 100_000),
		checkInt("seq-len", s.SeqLen, 1, 256),
		checkInt("prompt", s.Prompt, 1, 255),
		checkInt("tokens", s.Tokens, 1, 256-s.Prompt),
		checkInt("gemm-shapes", s.GEMMShapes, 0, 1_000_000),
	); err != nil {
		return err
	}
	explicit := explicitFlags(fs)
	b := &benchRun{s: s, prec: prec, batchSet: explicit["batch"], gloraModel: shipped, out: stdout, shapesOut: humanOut(s.JSON, stdout, stderr)}
	// search and merged-forward run on the shipped backbone unless --model
	// names a preset.
	if explicit["model"] {
		b.gloraModel = s.Model
	}
	if strings.HasPrefix(which, "lm-") {
		if err := b.lmShape(explicit); err != nil {
			return err
		}
	} else if b.cfg, err = vit.Preset(s.Model); err != nil && (b.gloraModel != shipped || which != "search" && which != "merged-forward") {
		return fmt.Errorf("--model: %w", err)
	}
	if s.CPUProfile == "" {
		return b.run(which)
	}
	f, err := os.Create(s.CPUProfile)
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	err = b.run(which)
	pprof.StopCPUProfile()
	if err == nil {
		fmt.Fprintf(stderr, "CPU profile: %s (go tool pprof -top %s)\n", s.CPUProfile, s.CPUProfile)
	}
	return err
}

// benchRun is one `glora bench` invocation, settled.
type benchRun struct {
	s          benchSettings
	prec       tensor.Precision
	batchSet   bool         // --batch given (else each benchmark's own default)
	cfg        vit.Config   // --model's preset
	lm         llama.Config // the lm-* benchmarks: --model's shape
	gloraModel string       // search and merged-forward: "shipped" or --model
	out        io.Writer
	shapesOut  io.Writer // --gemm-shapes' tables
}

// run runs the benchmark named which.
func (b *benchRun) run(which string) error {
	switch which {
	case "sgemm":
		b.emit(bench.SGEMM(b.s.N, b.s.Iters, b.prec))
	case "vit-train", "vit-forward", "backbone-train", "backbone-forward":
		return b.vit(which, strings.HasSuffix(which, "train"))
	case "glora-train", "lora-train":
		r, err := bench.GLoRATrain(bench.GLoRAOptions{LoRA: which == "lora-train", Config: b.cfg, Batch: b.s.Batch, Steps: b.s.Steps, Warmup: b.s.Warmup, Rank: b.s.Rank, Seed: 1, Precision: b.prec, TraceGEMM: b.s.GEMMShapes > 0})
		if err != nil {
			return fmt.Errorf("%s: %w", which, err)
		}
		b.emit(r)
	case "peft-train":
		r, err := bench.PEFTTrain(bench.PEFTOptions{Config: b.cfg, Batch: b.s.Batch, Steps: b.s.Steps, Warmup: b.s.Warmup, Rounds: b.s.Rounds, Rank: b.s.Rank, Seed: 1, Precision: b.prec})
		if err != nil {
			return fmt.Errorf("peft-train: %w", err)
		}
		b.emit(r)
	case "search":
		r, err := bench.Search(bench.SearchOptions{Model: b.gloraModel, Val: b.s.Val, Candidates: b.s.Candidates, Batch: b.batch(256), Seed: 1, Precision: b.prec})
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		b.emit(r)
	case "merged-forward":
		r, err := bench.MergedForward(b.gloraModel, b.batch(128), b.s.Steps, b.s.Rounds, 1, b.prec)
		if err != nil {
			return fmt.Errorf("merged-forward: %w", err)
		}
		b.emit(r)
	case "lm-peft-train":
		r, err := bench.LMPEFTTrain(bench.LMOptions{Config: b.lm, Batch: b.batch(8), SeqLen: b.s.SeqLen, Steps: b.s.Steps,
			Warmup: b.s.Warmup, Seed: 1, Precision: b.prec, Rank: b.s.Rank}, b.s.Rounds)
		if err != nil {
			return fmt.Errorf("lm-peft-train: %w", err)
		}
		b.emit(r)
	case "lm-train", "lm-lora-train", "lm-glora-train", "lm-generate":
		o := bench.LMOptions{Config: b.lm, Batch: b.batch(8), SeqLen: b.s.SeqLen, Steps: b.s.Steps,
			Warmup: b.s.Warmup, Prompt: b.s.Prompt, Tokens: b.s.Tokens, Seed: 1, Precision: b.prec, TraceGEMM: b.s.GEMMShapes > 0,
			Method: map[string]string{"lm-lora-train": "lora", "lm-glora-train": "glora"}[which], Rank: b.s.Rank}
		run := bench.LMTrain
		if which == "lm-generate" {
			run = bench.LMGenerate
		}
		r, err := run(o)
		if err != nil {
			return fmt.Errorf("%s: %w", which, err)
		}
		b.emit(r)
	case "all":
		for _, name := range []string{"sgemm", "vit-train", "vit-forward", "backbone-train", "backbone-forward"} {
			if err := b.run(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// lmShapes are the decoder shapes of the lm benchmarks' --model.
var lmShapes = []string{"stories15m", backbones.ShippedLM}

// lmShape settles the lm benchmarks' --model (llama2.c's stories15M shape
// unless shipped-lm is named: the shipped LM's config, random weights) and
// fits --seq-len to its positions.
func (b *benchRun) lmShape(explicit map[string]bool) error {
	b.lm = bench.Stories15M()
	if explicit["model"] {
		switch b.s.Model {
		case "stories15m":
		case backbones.ShippedLM:
			m, _, _, err := backbones.LoadLM()
			if err != nil {
				return err
			}
			b.lm = m.Cfg
		default:
			return fmt.Errorf("--model %q: the lm benchmarks take %s", b.s.Model, strings.Join(lmShapes, " or "))
		}
	}
	if !explicit["seq-len"] {
		b.s.SeqLen = min(b.s.SeqLen, b.lm.MaxSeq)
	} else if b.s.SeqLen > b.lm.MaxSeq {
		return fmt.Errorf("--seq-len %d: %s has %d positions", b.s.SeqLen, b.s.Model, b.lm.MaxSeq)
	}
	if !explicit["tokens"] {
		b.s.Tokens = max(1, min(b.s.Tokens, b.lm.MaxSeq-b.s.Prompt))
	}
	return nil
}

// batch is --batch when given, else def.
func (b *benchRun) batch(def int) int {
	if b.batchSet {
		return b.s.Batch
	}
	return def
}

// emit prints a result as a table row or, with --json, a JSON line.
func (b *benchRun) emit(r fmt.Stringer) {
	if b.s.JSON {
		fmt.Fprintln(b.out, jsonLine(r))
	} else {
		fmt.Fprintln(b.out, r)
	}
	if shapes := tensor.GEMMShapes(); b.s.GEMMShapes > 0 && len(shapes) > 0 {
		printGEMMShapes(b.shapesOut, shapes, b.s.GEMMShapes)
		tensor.TraceGEMM(true)  // a fresh, empty record (stopped below): the next
		tensor.TraceGEMM(false) // benchmark prints only its own
	}
}

// vit times the ViT benchmarks: the --model preset, or the shipped
// backbone (batch 128 unless --batch) for the backbone ones.
func (b *benchRun) vit(name string, train bool) error {
	c, batch := b.cfg, b.s.Batch
	if strings.HasPrefix(name, "backbone") {
		m, _, err := backbones.Default()
		if err != nil {
			return err
		}
		c, batch = m.Cfg, b.batch(128)
	}
	r, err := bench.ViT(bench.ViTOptions{Config: c, Name: name, Batch: batch, Steps: b.s.Steps, Warmup: b.s.Warmup, Train: train, Precision: b.prec, TraceGEMM: b.s.GEMMShapes > 0})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	b.emit(r)
	return nil
}

// printGEMMShapes prints the n longest of shapes (tensor.GEMMShapes) and
// each one's share of all the products' time.
func printGEMMShapes(w io.Writer, shapes []tensor.GEMMShape, n int) {
	total := 0.0
	for _, sh := range shapes {
		total += sh.Seconds
	}
	fmt.Fprintf(w, "matrix products by shape, %.2f s in all (calls made at once by parallel workers each count their time):\n", total)
	fmt.Fprintf(w, "  %-22s %-6s %-5s %7s %8s %8s %6s\n", "M×N×K (×batch)", "op", "bias", "calls", "seconds", "GFLOP/s", "share")
	for _, sh := range shapes[:min(n, len(shapes))] {
		dims := fmt.Sprintf("%d×%d×%d", sh.M, sh.N, sh.K)
		if sh.Batch > 1 {
			dims += fmt.Sprintf(" ×%d", sh.Batch)
		}
		op := "A·B"
		switch {
		case sh.TransA && sh.TransB:
			op = "Aᵀ·Bᵀ"
		case sh.TransA:
			op = "Aᵀ·B"
		case sh.TransB:
			op = "A·Bᵀ"
		}
		bias := ""
		if sh.Bias {
			bias = "+b"
		}
		fmt.Fprintf(w, "  %-22s %-6s %-5s %7d %8.3f %8.1f %5.1f%%\n", dims, op, bias, sh.Calls, sh.Seconds, sh.GFLOPS(), 100*sh.Seconds/total)
	}
}
