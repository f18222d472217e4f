package main

import (
	"context"
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
	"github.com/glora/glora/data"
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
	d, full := defaultDemo(), fullDemo()
	fs := newFlags("demo", "demo [--recipe quick|default|paper] [--data mnist] [--json] [flags]  |  demo --synthetic [--steps N]", stderr)
	synthetic := fs.Bool("synthetic", false, "the older demo: train a tiny ViT on generated images (no data needed) and print its loss falling")
	steps := fs.Int("steps", 300, "--synthetic: training steps")
	batch := fs.Int("batch", d.Batch, "images per step")
	seed := fs.Uint64("seed", 1, "random seed (initialisation, data order, supernet draws, search)")
	recipe := fs.String("recipe", pipeline.Default, "the training budget: "+strings.Join(pipeline.Names, ", ")+" (the flags below override its parts)")
	fullSize := fs.Bool("full", false, fmt.Sprintf("the full-size run, --recipe paper: supernet %d epochs, search population %d × %d generations, the other runs %d epochs",
		full.Runs[pipeline.SupernetRun].Epochs, full.Search.Population, full.Search.Generations, full.Runs[pipeline.RetrainRun].Epochs))
	spec := fs.String("data", "mnist", "dataset (any --data SPEC; its training split gives train and val by --scheme)")
	scheme := fs.String("scheme", d.Scheme, "how train and val are carved from the training split")
	methods := fs.String("methods", strings.Join(demoMethods, ","), "methods to run, comma-separated")
	ep := map[string]*int{}
	lr := map[string]*float64{}
	for _, name := range demoRuns {
		ep[name] = fs.Int("epochs-"+name, d.Runs[name].Epochs, "epochs of the "+name+" run")
		lr[name] = fs.Float64("lr-"+name, d.Runs[name].LR, "peak learning rate of the "+name+" run")
	}
	wd := fs.Float64("weight-decay", d.WeightDecay, "AdamW weight decay")
	searchFlags := searchRecipeFlags(fs, d.Recipe)
	noTest := fs.Bool("no-test", false, "stop before the test split (choose settings on validation only)")
	out := fs.String("out", "", "keep the runs (checkpoints, best and merged models, curves, the search log) in this folder (default: a temporary folder, removed)")
	asJSON := fs.Bool("json", false, "print one JSON object per method on stdout; the table and progress go to stderr")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := firstErr(checkInt("steps", *steps, 1, maxSteps), checkInt("batch", *batch, 1, maxBatch)); err != nil {
		return err
	}
	if *synthetic {
		human := stdout
		if *asJSON {
			human = stderr
		}
		r, err := runSyntheticDemo(*steps, *batch, *seed, human)
		if err == nil && *asJSON {
			fmt.Fprintln(stdout, jsonLine(r))
		}
		return err
	}
	set := explicitFlags(fs)
	if *fullSize {
		if set["recipe"] && *recipe != pipeline.Paper {
			return fmt.Errorf("--full is --recipe paper: drop one of them")
		}
		*recipe = pipeline.Paper
	}
	r, err := pipeline.Named(*recipe)
	if err != nil {
		return fmt.Errorf("--recipe: %w", err)
	}
	o := d
	o.Recipe = r
	pick := func(name string, dst *int, v int) {
		if set[name] {
			*dst = v
		}
	}
	o.Runs = maps.Clone(o.Runs)
	for _, name := range demoRuns {
		r := o.Runs[name]
		pick("epochs-"+name, &r.Epochs, *ep[name])
		if set["lr-"+name] {
			r.LR = *lr[name]
		}
		o.Runs[name] = r
	}
	o.Recipe = searchFlags.on(o.Recipe, set)
	pick("batch", &o.Batch, *batch)
	if set["weight-decay"] {
		o.WeightDecay = *wd
	}
	o.Seed, o.Scheme, o.NoTest, o.OutDir = *seed, *scheme, *noTest, *out
	o.Methods = nil
	for _, m := range strings.Split(*methods, ",") {
		if !slices.Contains(demoMethods, m) {
			return fmt.Errorf("--methods: unknown method %q (want %s)", m, strings.Join(demoMethods, ", "))
		}
		o.Methods = append(o.Methods, m)
	}
	checks := []error{checkInt("batch", o.Batch, 1, maxBatch), checkFloat("weight-decay", o.WeightDecay, 0, 1, false, false),
		checkSearchRecipe(o.Recipe)}
	for _, name := range demoRuns {
		checks = append(checks, checkInt("epochs-"+name, o.Runs[name].Epochs, 1, maxEpochs),
			checkFloat("lr-"+name, o.Runs[name].LR, 0, 10, true, false))
	}
	if err := firstErr(checks...); err != nil {
		return err
	}
	human := stdout
	if *asJSON {
		human = stderr
	}
	t0, cpu0 := time.Now(), cpuSeconds()
	_, ck, err := backbones.Default()
	if err != nil {
		return err
	}
	trainSet, _, err := resolveFor(*spec, ck.Config, stderr)
	if err != nil {
		return fmt.Errorf("--data %s: %w", *spec, err)
	}
	loadTest := func() (*data.Dataset, error) {
		_, test, err := resolveFor(*spec, ck.Config, io.Discard)
		if err == nil && test == nil {
			err = fmt.Errorf("--data %s has no test split", *spec)
		}
		if err == nil {
			err = checkSplitClasses(*spec, trainSet, test)
		}
		return test, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rows, err := runMNISTDemo(ctx, o, *spec, trainSet, loadTest, stderr)
	if err != nil {
		return err
	}
	secs, cpu := time.Since(t0).Seconds(), cpuSeconds()-cpu0
	if human == stderr {
		fmt.Fprintln(human) // apart from the progress above it
	}
	fmt.Fprintf(human, "glora demo: the shipped backbone (Fashion-MNIST) adapted to %s, %s split (seed %d)\n", *spec, o.Scheme, o.SplitSeed)
	printDemoTable(human, rows, !o.NoTest)
	if len(rows) > 0 && !o.NoTest {
		fmt.Fprintf(human, "test: %d images, read once, at the end. ", rows[0].NTest)
	}
	fmt.Fprintf(human, "Total %.1f min wall, %.1f CPU-min, on %d cores (a shared machine's wall time can be far above CPU time / cores).\n",
		secs/60, cpu/60, runtime.GOMAXPROCS(0))
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(human, "%s: %s.\n", r.Method, r.Note)
		}
	}
	if o.Recipe.Name != pipeline.Paper {
		fmt.Fprintf(human, "The reference code's budget (supernet %d epochs, search %d × %d generations, %d-epoch runs): glora demo --recipe paper\n",
			full.Runs[pipeline.SupernetRun].Epochs, full.Search.Population, full.Search.Generations, full.Runs[pipeline.RetrainRun].Epochs)
	}
	if *asJSON {
		for _, r := range rows {
			fmt.Fprintln(stdout, jsonLine(r))
		}
	}
	return nil
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
