package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"

	"github.com/glora/glora/finetune"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// runSettings is DIR/run.settings.json.
type runSettings struct {
	baseSpec
	Budget    int             `json:"budget" flag:"budget" help:"most support parameters the searched structure may read; -1: LoRA's count at the recipe's rank, 8, over the layers"`
	RankCheck int             `json:"rank_check" flag:"rank-check" help:"after the search, retrain this many structures alone (half the search's best, half random) and report Kendall's tau between their shared-weight and standalone validation accuracy: how well the supernet ranks structures (costs that many runs; 0: none)"`
	Recipe    pipeline.Recipe `json:"recipe"` // the named recipe with this run's flags applied
}

// runResult is DIR/summary.json and run's --json line.
type runResult struct {
	pipeline.RunResult
	Settings runSettings `json:"settings"`
}

// recipeFlags are run's flags that set parts of the recipe: each applies
// its value to a recipe.
type recipeFlags map[string]func(r *pipeline.Recipe)

func runRun(args []string, stdout, stderr io.Writer) error {
	if lm, err := routeLM("run", args, stdout, stderr); lm {
		return err
	}
	fs := newFlags("run", "run --data SPEC --out DIR [--base MODEL] [--recipe quick|default|paper] [--budget PARAMS] [flags]", stderr)
	s := runSettings{baseSpec: baseSpec{Base: shipped, Scheme: autoScheme}, Budget: -1}
	keys := bindFlags(fs, &s)
	d := pipeline.MustNamed(pipeline.Default)
	recipe := fs.String("recipe", pipeline.Default, "the training budget: "+strings.Join(pipeline.Names, ", ")+" (the flags below override its parts; see README)")
	ranks := fs.String("ranks", joinInts(d.Search.Ranks), "the supernet's lora ranks")
	snEpochs := fs.Int("supernet-epochs", d.Runs[pipeline.SupernetRun].Epochs, "supernet epochs, counted on 800 training images (a smaller set gets as many optimiser steps)")
	snLR := fs.Float64("supernet-lr", d.Runs[pipeline.SupernetRun].LR, "supernet peak learning rate")
	epochs := fs.Int("epochs", d.Runs[pipeline.RetrainRun].Epochs, "epochs of each finalist's retraining, counted on 800 training images like --supernet-epochs")
	lr := fs.Float64("lr", d.Runs[pipeline.RetrainRun].LR, "peak learning rate of the retraining")
	apply := searchRecipeFlags(fs, d)
	out, resume, overwrite, asJSON := runFolderFlags(fs,
		"output folder: adapter/, merged/, report.md, summary.json, the plots, and each stage's folder",
		"continue the run in --out: finished stages are replayed, an interrupted one resumes", "a run")
	precision := precisionFlag(fs)
	prec, err := parseWithPrecision(fs, args, 0, precision, stderr)
	if err != nil {
		return err
	}
	explicit := explicitFlags(fs)
	if *out == "" {
		return fmt.Errorf("--out is required (the run's folder)")
	}
	rankList, err := parseInts("ranks", *ranks)
	if err != nil {
		return err
	}
	apply["ranks"] = func(r *pipeline.Recipe) { r.Search.Ranks = rankList }
	apply["supernet-epochs"] = func(r *pipeline.Recipe) { setRun(r, pipeline.SupernetRun, *snEpochs, 0) }
	apply["supernet-lr"] = func(r *pipeline.Recipe) { setRun(r, pipeline.SupernetRun, 0, *snLR) }
	apply["epochs"] = func(r *pipeline.Recipe) { setRun(r, pipeline.RetrainRun, *epochs, 0) }
	apply["lr"] = func(r *pipeline.Recipe) { setRun(r, pipeline.RetrainRun, 0, *lr) }
	if s.Recipe, err = pipeline.Named(*recipe); err != nil {
		return fmt.Errorf("--recipe: %w", err)
	}
	s.Recipe = apply.on(s.Recipe, explicit)
	sn, rt := s.Recipe.Runs[pipeline.SupernetRun], s.Recipe.Runs[pipeline.RetrainRun]
	if err := firstErr(checkInt("supernet-epochs", sn.Epochs, 1, maxEpochs), checkFloat("supernet-lr", sn.LR, 0, 10, true, false),
		checkInt("epochs", rt.Epochs, 1, maxEpochs), checkFloat("lr", rt.LR, 0, 10, true, false),
		checkSearchRecipe(s.Recipe), checkInt("rank-check", s.RankCheck, 0, 1000)); err != nil {
		return err
	}
	if s.RankCheck == 1 {
		return fmt.Errorf("--rank-check 1: a rank needs at least 2 structures (0 turns the check off)")
	}
	if s.Budget != -1 {
		if err := finetune.CheckBudget(s.Budget); err != nil {
			return fmt.Errorf("--budget: %w", err)
		}
	}
	saved, err := claimOut("--out", *out, "run", *resume, *overwrite)
	if err != nil {
		return err
	}
	if saved == nil && s.Data == "" {
		return fmt.Errorf("--data is required (the images to adapt the base to)")
	}
	s.canonical()
	if saved != nil {
		if s, err = resumeRunSettings(saved, s, explicit, keys, apply, *out); err != nil {
			return err
		}
	}
	human := humanOut(*asJSON, stdout, stderr)
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runStages(ctx, s, *out, *resume, *overwrite, prec, human, stderr)
	if errors.Is(err, train.ErrInterrupted) || errors.Is(err, search.ErrInterrupted) || errors.Is(err, context.Canceled) {
		return interrupted(ctx, "run", "--out "+*out)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		fmt.Fprintln(stdout, jsonLine(res))
	}
	return nil
}

// searchRecipeFlags registers the flags that set searched GLoRA's search
// and finalists in a recipe (run's and the demo's), with d's values as
// their defaults.
func searchRecipeFlags(fs *flag.FlagSet, d pipeline.Recipe) recipeFlags {
	s := d.Search
	pop := fs.Int("population", s.Population, "search population")
	topk := fs.Int("topk", s.TopK, "search parents kept")
	gens := fs.Int("generations", s.Generations, "search generations")
	muts := fs.Int("mutations", s.Mutations, "search mutations per generation")
	cross := fs.Int("crossovers", s.Crossovers, "search crossovers per generation")
	finalists := fs.Int("finalists", s.Finalists, "the search's best structures retrained alone by successive halving on validation (1: the best alone)")
	lora := fs.Bool("lora-finalist", s.LoRAFinalist, "LoRA joins the finalists when the search did not rank it among them")
	fresh := fs.Bool("fresh-retrain", !s.Inherit, "retrain the finalists from fresh support tensors instead of the supernet's weights")
	anchor := fs.Float64("anchor-lora", s.AnchorLoRA, "fraction of the supernet's steps that train LoRA at the largest rank on every layer instead of a uniform draw, so the search scores LoRA as it trains")
	return recipeFlags{
		"population":    func(r *pipeline.Recipe) { r.Search.Population = *pop },
		"topk":          func(r *pipeline.Recipe) { r.Search.TopK = *topk },
		"generations":   func(r *pipeline.Recipe) { r.Search.Generations = *gens },
		"mutations":     func(r *pipeline.Recipe) { r.Search.Mutations = *muts },
		"crossovers":    func(r *pipeline.Recipe) { r.Search.Crossovers = *cross },
		"finalists":     func(r *pipeline.Recipe) { r.Search.Finalists = *finalists },
		"lora-finalist": func(r *pipeline.Recipe) { r.Search.LoRAFinalist = *lora },
		"fresh-retrain": func(r *pipeline.Recipe) { r.Search.Inherit = !*fresh },
		"anchor-lora":   func(r *pipeline.Recipe) { r.Search.AnchorLoRA = *anchor },
	}
}

// checkSearchRecipe checks the search and finalists of r, naming the flags.
func checkSearchRecipe(r pipeline.Recipe) error {
	s := r.Search
	return firstErr(checkSearchFlags(search.Config{Population: s.Population, TopK: s.TopK, Generations: s.Generations,
		Mutations: s.Mutations, Crossovers: s.Crossovers, MutationProb: s.MutationProb}), checkInt("finalists", s.Finalists, 1, 1000),
		checkFloat("anchor-lora", s.AnchorLoRA, 0, 1, false, false))
}

// setRun sets a run's epochs or learning rate (a zero leaves it).
func setRun(r *pipeline.Recipe, run string, epochs int, lr float64) {
	sc := r.Runs[run]
	if epochs != 0 {
		sc.Epochs = epochs
	}
	if lr != 0 {
		sc.LR = lr
	}
	r.Runs[run] = sc
}

// on applies the flags given to a copy of r.
func (a recipeFlags) on(r pipeline.Recipe, explicit map[string]bool) pipeline.Recipe {
	r.Runs = maps.Clone(r.Runs)
	r.Search.Ranks = slices.Clone(r.Search.Ranks)
	for _, f := range slices.Sorted(maps.Keys(explicit)) {
		if set, ok := a[f]; ok {
			set(&r)
		}
	}
	return r
}

// resumeRunSettings is the saved run's settings, after checking that every
// flag given again agrees with them.
func resumeRunSettings(saved []byte, given runSettings, explicit map[string]bool, keys map[string]string, apply recipeFlags, out string) (runSettings, error) {
	if explicit["scheme"] && given.Scheme == autoScheme {
		delete(explicit, "scheme")
	}
	s, err := mergeSaved(saved, given, explicit, keys, out)
	if err != nil {
		return s, err
	}
	for _, f := range slices.Sorted(maps.Keys(explicit)) {
		if _, ok := apply[f]; !ok {
			continue
		}
		if again := apply.on(s.Recipe, map[string]bool{f: true}); !reflect.DeepEqual(again, apply.on(s.Recipe, nil)) {
			return s, fmt.Errorf("--resume: cannot continue the run in %s: --%s differs from the saved run's; leave it out to use the saved value", out, f)
		}
	}
	return s, nil
}

// Files of a run folder besides the chain's stage folders.
const (
	runSummaryFile = "summary.json"
)

// runStages runs the chain, publishes and tests the kept model
// (pipeline.Run): the only read of the test split. A finished run (its
// summary.json written) is not run or tested again.
func runStages(ctx context.Context, s runSettings, out string, resume, overwrite bool, prec tensor.Precision, human, log io.Writer) (*runResult, error) {
	p, err := prepare(s.baseSpec, "run", log) // every check of base and data before any work
	if err != nil {
		return nil, err
	}
	if _, err := checkTargets(p.BaseModel(), nil, nil, slices.Max(s.Recipe.Search.Ranks)); err != nil {
		return nil, err
	}
	if resume {
		var done runResult
		if err := readJSON(filepath.Join(out, runSummaryFile), &done); err == nil {
			fmt.Fprintf(human, "run: finished before, in %s: %s, val accuracy %.4f, test accuracy %.4f (the test split is read once, when the run finishes)\n",
				out, done.Method, done.ValAccuracy, done.TestAccuracy)
			return &done, nil
		}
	}
	if err := checkSameData(p, &s.baseSpec, resume); err != nil {
		return nil, err
	}
	if err := startOut(out, "run", overwrite, resume, s); err != nil {
		return nil, err
	}
	fmt.Fprintf(human, "run: %s; recipe %s\n", p.Describe(), s.Recipe.Name)
	r, err := pipeline.Run(ctx, p, s.Recipe, pipeline.Options{Dir: out, Seed: s.Seed, Resume: resume, Budget: max(s.Budget, 0), RankCheck: s.RankCheck,
		CheckpointEvery: 100, Log: human, Precision: prec})
	if errors.Is(err, pipeline.ErrNoTestSplit) {
		return nil, fmt.Errorf("--data %s has no test split to evaluate on", s.Data)
	}
	if err != nil {
		return nil, err
	}
	noteGlyphs(log, p.Classes)
	res := &runResult{RunResult: *r, Settings: s}
	if err := writeJSONAtomic(filepath.Join(out, runSummaryFile), res); err != nil {
		return nil, err
	}
	fmt.Fprintf(human, "run done: %s (%s), %d trainable parameters (%d support + %d head, budget %d): val accuracy %.4f, test accuracy %.4f (%d images); %.0fs of training and search; adapter in %s, merged model in %s, report in %s\n",
		res.Method, res.Finalist, res.TrainableParams, res.SupportParams, res.HeadParams, res.Budget, res.ValAccuracy, res.TestAccuracy, res.NTest,
		res.Seconds, res.Adapter, res.Merged, res.Report)
	return res, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
