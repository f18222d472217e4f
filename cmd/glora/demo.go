package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/backbones"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/optim"
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
	if err := firstErr(checkInt("steps", *f.steps, 1, maxSteps), checkInt("batch", *f.batch, 1, maxBatch)); err != nil {
		return err
	}
	human := humanOut(*f.asJSON, stdout, stderr)
	if *f.synthetic {
		r, err := runSyntheticDemo(*f.steps, *f.batch, *f.seed, human)
		if err == nil && *f.asJSON {
			fmt.Fprintln(stdout, jsonLine(r))
		}
		return err
	}
	o, err := f.options(d, explicitFlags(fs))
	if err != nil {
		return err
	}
	t0, cpu0 := time.Now(), cpuSeconds()
	spec := *f.spec
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
	if *f.asJSON {
		for _, r := range rows {
			fmt.Fprintln(stdout, jsonLine(r))
		}
	}
	return nil
}

// demoFlags are the demo's flags.
type demoFlags struct {
	synthetic, fullSize, noTest, asJSON *bool
	steps, batch                        *int
	seed                                *uint64
	recipe, spec, scheme, methods, out  *string
	wd                                  *float64
	ep                                  map[string]*int
	lr                                  map[string]*float64
	search                              recipeFlags
}

func registerDemoFlags(fs *flag.FlagSet, d demoOptions) *demoFlags {
	full := fullDemo()
	f := &demoFlags{ep: map[string]*int{}, lr: map[string]*float64{}}
	f.synthetic = fs.Bool("synthetic", false, "the older demo: train a tiny ViT on generated images (no data needed) and print its loss falling")
	f.steps = fs.Int("steps", 300, "--synthetic: training steps")
	f.batch = fs.Int("batch", d.Batch, "images per step")
	f.seed = fs.Uint64("seed", 1, "random seed (initialisation, data order, supernet draws, search)")
	f.recipe = fs.String("recipe", pipeline.Default, "the training budget: "+strings.Join(pipeline.Names, ", ")+" (the flags below override its parts)")
	f.fullSize = fs.Bool("full", false, fmt.Sprintf("the full-size run, --recipe paper: supernet %d epochs, search population %d × %d generations, the other runs %d epochs",
		full.Runs[pipeline.SupernetRun].Epochs, full.Search.Population, full.Search.Generations, full.Runs[pipeline.RetrainRun].Epochs))
	f.spec = fs.String("data", "mnist", "dataset (any --data SPEC; its training split gives train and val by --scheme)")
	f.scheme = fs.String("scheme", d.Scheme, "how train and val are carved from the training split")
	f.methods = fs.String("methods", strings.Join(demoMethods, ","), "methods to run, comma-separated")
	for _, name := range demoRuns {
		f.ep[name] = fs.Int("epochs-"+name, d.Runs[name].Epochs, "epochs of the "+name+" run")
		f.lr[name] = fs.Float64("lr-"+name, d.Runs[name].LR, "peak learning rate of the "+name+" run")
	}
	f.wd = fs.Float64("weight-decay", d.WeightDecay, "AdamW weight decay")
	f.search = searchRecipeFlags(fs, d.Recipe)
	f.noTest = fs.Bool("no-test", false, "stop before the test split (choose settings on validation only)")
	f.out = fs.String("out", "", "keep the runs (checkpoints, best and merged models, curves, the search log) in this folder (default: a temporary folder, removed)")
	f.asJSON = fs.Bool("json", false, "print one JSON object per method on stdout; the table and progress go to stderr")
	return f
}

// options are d with the named recipe and the flags given (set) applied,
// every value checked.
func (f *demoFlags) options(d demoOptions, set map[string]bool) (demoOptions, error) {
	if *f.fullSize {
		if set["recipe"] && *f.recipe != pipeline.Paper {
			return d, fmt.Errorf("--full is --recipe paper: drop one of them")
		}
		*f.recipe = pipeline.Paper
	}
	r, err := pipeline.Named(*f.recipe)
	if err != nil {
		return d, fmt.Errorf("--recipe: %w", err)
	}
	o := d
	o.Recipe = r
	o.Runs = maps.Clone(o.Runs)
	for _, name := range demoRuns {
		r := o.Runs[name]
		if set["epochs-"+name] {
			r.Epochs = *f.ep[name]
		}
		if set["lr-"+name] {
			r.LR = *f.lr[name]
		}
		o.Runs[name] = r
	}
	o.Recipe = f.search.on(o.Recipe, set)
	if set["batch"] {
		o.Batch = *f.batch
	}
	if set["weight-decay"] {
		o.WeightDecay = *f.wd
	}
	o.Seed, o.Scheme, o.NoTest, o.OutDir = *f.seed, *f.scheme, *f.noTest, *f.out
	o.Methods = nil
	for _, m := range strings.Split(*f.methods, ",") {
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

// syntheticResult is demo --synthetic's --json line.
type syntheticResult struct {
	Demo       string  `json:"demo"`
	Steps      int     `json:"steps"`
	FirstLoss  float64 `json:"first_loss"`
	LastLoss   float64 `json:"last_loss"`
	HeldOutAcc float64 `json:"held_out_accuracy"`
	HeldOutN   int     `json:"held_out_images"`
	Seconds    float64 `json:"seconds"`
	Parameters int     `json:"parameters"`
}

// runSyntheticDemo trains a tiny ViT to tell which quadrant of a noisy
// 16×16 image holds a bright square, and prints the loss falling.
func runSyntheticDemo(steps, batch int, seed uint64, stdout io.Writer) (syntheticResult, error) {
	cfg, _ := vit.Preset("vit-micro")
	cfg.NumClasses = 4
	rng := rand.New(rand.NewPCG(seed, 0))
	m, err := vit.New(cfg, rng)
	if err != nil {
		return syntheticResult{}, err
	}
	sched := optim.Cosine{Peak: 3e-3, Min: 1e-4, WarmupStart: 1e-4, WarmupSteps: steps / 10, TotalSteps: steps}
	tr := train.NewTrainer(m, optim.NewAdamW(optim.DecayGroups(m.Params(), 0.05, nil), sched.Peak, 0.9, 0.999, 1e-8))
	tr.Seed, tr.LR = seed, sched.LR
	fmt.Fprintf(stdout, "demo: ViT %d×%d patch %d, dim %d, depth %d, %d parameters; 4 classes (which quadrant is bright)\n",
		cfg.ImageSize, cfg.ImageSize, cfg.PatchSize, cfg.Dim, cfg.Depth, m.Store.Count(false))
	t0 := time.Now()
	var first, last float64
	for step := 1; step <= steps; step++ {
		img, labels := quadrantBatch(rng, batch, cfg.ImageSize)
		r, err := tr.Step(step-1, img, labels)
		if err != nil {
			return syntheticResult{}, err
		}
		if step == 1 {
			first = r.Loss
		}
		last = r.Loss
		if step == 1 || step%25 == 0 || step == steps {
			fmt.Fprintf(stdout, "step %4d  loss %.4f  lr %.2e\n", step, r.Loss, r.LR)
		}
	}
	// held-out accuracy
	img, labels := quadrantBatch(rand.New(rand.NewPCG(seed+1000, 0)), 256, cfg.ImageSize)
	tp := ag.NewTape()
	tp.NoGrad = true
	logits := m.Forward(tp, img, nil)
	if err := tp.Err(); err != nil {
		return syntheticResult{}, err
	}
	correct := train.CountCorrect(logits.Value, labels)
	secs := time.Since(t0).Seconds()
	fmt.Fprintf(stdout, "loss %.4f → %.4f in %d steps (%.1fs); held-out accuracy %d/%d = %.1f%%\n",
		first, last, steps, secs, correct, len(labels), 100*float64(correct)/float64(len(labels)))
	return syntheticResult{Demo: "synthetic", Steps: steps, FirstLoss: first, LastLoss: last, HeldOutAcc: float64(correct) / float64(len(labels)),
		HeldOutN: len(labels), Seconds: secs, Parameters: m.Store.Count(false)}, nil
}

// quadrantBatch makes n noisy size×size images; label q ∈ 0..3 is the
// quadrant holding a bright 4×4 square.
func quadrantBatch(rng *rand.Rand, n, size int) (*ag.Var, []int) {
	t := tensor.New(n, 1, size, size)
	labels := make([]int, n)
	half := size / 2
	for i := 0; i < n; i++ {
		q := rng.IntN(4)
		labels[i] = q
		img := t.Data[i*size*size : (i+1)*size*size]
		for j := range img {
			img[j] = float32(rng.NormFloat64() * 0.3)
		}
		y0 := (q/2)*half + rng.IntN(half-3)
		x0 := (q%2)*half + rng.IntN(half-3)
		for y := y0; y < y0+4; y++ {
			for x := x0; x < x0+4; x++ {
				img[y*size+x] += 2
			}
		}
	}
	return ag.NewVar(t, false), labels
}
