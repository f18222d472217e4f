package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// runDemo is what a newcomer runs first: the shipped backbone adapted to
// MNIST-1k by four methods (runMNISTDemo); --synthetic is the older demo,
// which needs no data.
func runDemo(args []string, stdout, stderr io.Writer) error {
	d := defaultDemo()
	fs := newFlags("demo", "demo [--recipe quick|default|paper] [--data mnist] [--json] [flags]  |  demo --synthetic [--steps N]", stderr)
	f := registerDemoFlags(fs, d)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := firstErr(checkInt("steps", f.Steps, 1, maxSteps), checkInt("batch", f.Batch, 1, maxBatch)); err != nil {
		return err
	}
	human := humanOut(f.JSON, stdout, stderr)
	if f.Synthetic {
		r, err := train.SyntheticDemo(f.Steps, f.Batch, f.Seed, human)
		if err == nil && f.JSON {
			fmt.Fprintln(stdout, jsonLine(r))
		}
		return err
	}
	o, err := f.options(d, explicitFlags(fs))
	if err != nil {
		return err
	}
	if o.Precision, err = applyPrecision(f.Precision, stderr); err != nil {
		return err
	}
	t0, cpu0 := time.Now(), cpuSeconds()
	spec := f.Data
	task, err := prepare(baseSpec{Base: backbones.Shipped, Data: spec, Scheme: o.Scheme, SplitSeed: o.SplitSeed, Seed: o.Seed}, "demo", stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rows, err := runMNISTDemo(ctx, o, task, stderr)
	if err != nil {
		return err
	}
	if human == stderr {
		fmt.Fprintln(human) // apart from the progress above it
	}
	printDemoResult(human, o, spec, rows, time.Since(t0).Seconds(), cpuSeconds()-cpu0)
	if f.JSON {
		for _, r := range rows {
			fmt.Fprintln(stdout, jsonLine(r))
		}
	}
	return nil
}

// demoFlags are the demo's flags: the recipe-tagged ones set parts of the
// named recipe (decl_recipe.go).
type demoFlags struct {
	Synthetic bool   `flag:"synthetic" help:"the older demo: train a tiny ViT on generated images (no data needed) and print its loss falling"`
	Steps     int    `flag:"steps" help:"--synthetic: training steps"`
	Batch     int    `flag:"batch" recipe:"batch" help:"images per step"`
	Seed      uint64 `flag:"seed" help:"random seed (initialisation, data order, supernet draws, search)"`
	Recipe    string `flag:"recipe" help:"the training budget: {recipes} (the flags below override its parts)"`
	Full      bool   `flag:"full" help:"{full-demo}"`
	Data      string `flag:"data" help:"dataset (any --data SPEC; its training split gives train and val by --scheme)"`
	Scheme    string `flag:"scheme" help:"how train and val are carved from the training split"`
	Methods   string `flag:"methods" help:"methods to run, comma-separated"`
	Precision string `flag:"precision" help:"{precision}"`

	EpochsLinear   int     `flag:"epochs-linear" recipe:"runs.linear.epochs" help:"epochs of the linear run"`
	LRLinear       float64 `flag:"lr-linear" recipe:"runs.linear.lr" help:"peak learning rate of the linear run"`
	EpochsLoRA     int     `flag:"epochs-lora" recipe:"runs.lora.epochs" help:"epochs of the lora run"`
	LRLoRA         float64 `flag:"lr-lora" recipe:"runs.lora.lr" help:"peak learning rate of the lora run"`
	EpochsFixed    int     `flag:"epochs-glora-fixed" recipe:"runs.glora-fixed.epochs" help:"epochs of the glora-fixed run"`
	LRFixed        float64 `flag:"lr-glora-fixed" recipe:"runs.glora-fixed.lr" help:"peak learning rate of the glora-fixed run"`
	EpochsSupernet int     `flag:"epochs-supernet" recipe:"runs.supernet.epochs" help:"epochs of the supernet run"`
	LRSupernet     float64 `flag:"lr-supernet" recipe:"runs.supernet.lr" help:"peak learning rate of the supernet run"`
	EpochsRetrain  int     `flag:"epochs-retrain" recipe:"runs.retrain.epochs" help:"epochs of the retrain run"`
	LRRetrain      float64 `flag:"lr-retrain" recipe:"runs.retrain.lr" help:"peak learning rate of the retrain run"`
	WeightDecay    float64 `flag:"weight-decay" recipe:"weight_decay" help:"AdamW weight decay"`
	searchOverrides

	NoTest bool   `flag:"no-test" help:"stop before the test split (choose settings on validation only)"`
	Out    string `flag:"out" help:"keep the runs (checkpoints, best and merged models, curves, the search log) in this folder (default: a temporary folder, removed)"`
	JSON   bool   `flag:"json" help:"print one JSON object per method on stdout; the table and progress go to stderr"`
}

// fullDemoHelp is --full's help: what the paper recipe runs.
func fullDemoHelp() string {
	full := fullDemo()
	return fmt.Sprintf("the full-size run, --recipe paper: supernet %d epochs, search population %d × %d generations, the other runs %d epochs",
		full.Runs[pipeline.SupernetRun].Epochs, full.Search.Population, full.Search.Generations, full.Runs[pipeline.RetrainRun].Epochs)
}

func registerDemoFlags(fs *flag.FlagSet, d demoOptions) *demoFlags {
	f := &demoFlags{Steps: 300, Seed: d.Seed, Recipe: pipeline.Default, Data: "mnist", Scheme: d.Scheme, Methods: strings.Join(demoMethods, ","), Precision: "f32"}
	recipeDefaults(f, d.Recipe)
	bindFlags(fs, f)
	return f
}

// options are d with the named recipe and the flags given (set) applied,
// every value checked.
func (f *demoFlags) options(d demoOptions, set map[string]bool) (demoOptions, error) {
	if f.Full {
		if set["recipe"] && f.Recipe != pipeline.Paper {
			return d, fmt.Errorf("--full is --recipe paper: drop one of them")
		}
		f.Recipe = pipeline.Paper
	}
	r, err := pipeline.Named(f.Recipe)
	if err != nil {
		return d, fmt.Errorf("--recipe: %w", err)
	}
	o := d
	o.Recipe = applyRecipe(f, r, set)
	o.Seed, o.Scheme, o.NoTest, o.OutDir = f.Seed, f.Scheme, f.NoTest, f.Out
	o.Methods = nil
	for _, m := range strings.Split(f.Methods, ",") {
		if !slices.Contains(demoMethods, m) {
			return d, fmt.Errorf("--methods: unknown method %q (want %s)", m, strings.Join(demoMethods, ", "))
		}
		o.Methods = append(o.Methods, m)
	}
	checks := []error{checkInt("batch", o.Batch, 1, maxBatch), checkFloat("weight-decay", o.WeightDecay, 0, 1, false, false),
		checkSearchRecipe(o.Recipe)}
	for _, name := range demoRuns {
		checks = append(checks, checkInt("epochs-"+name, o.Runs[name].Epochs, 1, maxEpochs),
			checkFloat("lr-"+name, o.Runs[name].LR, 0, 10, true, false))
	}
	return o, firstErr(checks...)
}

// printDemoResult prints the demo's title, table and notes.
func printDemoResult(w io.Writer, o demoOptions, spec string, rows []demoRow, secs, cpu float64) {
	fmt.Fprintf(w, "glora demo: the shipped backbone (Fashion-MNIST) adapted to %s, %s split (seed %d)\n", spec, o.Scheme, o.SplitSeed)
	printDemoTable(w, rows, !o.NoTest)
	if len(rows) > 0 && !o.NoTest {
		fmt.Fprintf(w, "test: %d images, read once, at the end. ", rows[0].NTest)
	}
	fmt.Fprintf(w, "Total %.1f min wall, %.1f CPU-min, on %d cores (a shared machine's wall time can be far above CPU time / cores).\n",
		secs/60, cpu/60, runtime.GOMAXPROCS(0))
	if o.Precision != tensor.F32 {
		fmt.Fprintf(w, "Every matrix product in %s (--precision %s): bfloat16 operands, float32 sums.\n", o.Precision, o.Precision)
	}
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(w, "%s: %s.\n", r.Method, r.Note)
		}
	}
	if full := fullDemo(); o.Recipe.Name != pipeline.Paper {
		fmt.Fprintf(w, "The reference code's budget (supernet %d epochs, search %d × %d generations, %d-epoch runs): glora demo --recipe paper\n",
			full.Runs[pipeline.SupernetRun].Epochs, full.Search.Population, full.Search.Generations, full.Runs[pipeline.RetrainRun].Epochs)
	}
}

// cpuSeconds is the process's CPU time so far (user + system).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
