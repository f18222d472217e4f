package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// runRecipe is run's flags that choose the recipe and set its parts.
type runRecipe struct {
	Name           string  `flag:"recipe" help:"the training budget: {recipes} (the flags below override its parts; see README)"`
	Ranks          []int   `flag:"ranks" recipe:"search.ranks" help:"the supernet's lora ranks"`
	SupernetEpochs int     `flag:"supernet-epochs" recipe:"runs.supernet.epochs" help:"supernet epochs, counted on 800 training images (a smaller set gets as many optimiser steps)"`
	SupernetLR     float64 `flag:"supernet-lr" recipe:"runs.supernet.lr" help:"supernet peak learning rate"`
	Epochs         int     `flag:"epochs" recipe:"runs.retrain.epochs" help:"epochs of each finalist's retraining, counted on 800 training images like --supernet-epochs"`
	LR             float64 `flag:"lr" recipe:"runs.retrain.lr" help:"peak learning rate of the retraining"`
	searchOverrides
}

func runRun(args []string, stdout, stderr io.Writer) error {
	if lm, err := routeLM("run", args, stdout, stderr); lm {
		return err
	}
	fs := newFlags("run", "run --data SPEC --out DIR [--base MODEL] [--recipe quick|default|paper] [--budget PARAMS] [flags]", stderr)
	s := runSettings{baseSpec: baseSpec{Base: shipped, Scheme: autoScheme}, Budget: -1}
	keys := bindFlags(fs, &s)
	rf := runRecipe{Name: pipeline.Default}
	recipeDefaults(&rf, pipeline.MustNamed(pipeline.Default))
	bindFlags(fs, &rf)
	c := newFolderCLI(fs, "output folder: adapter/, merged/, report.md, summary.json, the plots, and each stage's folder",
		"continue the run in --out: finished stages are replayed, an interrupted one resumes", "a run")
	if err := c.parse(args, stderr); err != nil {
		return err
	}
	out, resume, overwrite, asJSON, prec, explicit := c.out, c.resume, c.overwrite, c.asJSON, c.prec, c.explicit
	var err error
	if s.Recipe, err = pipeline.Named(rf.Name); err != nil {
		return fmt.Errorf("--recipe: %w", err)
	}
	s.Recipe = applyRecipe(&rf, s.Recipe, explicit)
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
		if prec, err = resumePrecision(saved, prec, explicit["precision"], *out, "run", stderr); err != nil {
			return err
		}
		if s, err = resumeRunSettings(saved, s, explicit, keys, &rf, *out); err != nil {
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

// checkSearchRecipe checks the search and finalists of r, naming the flags.
func checkSearchRecipe(r pipeline.Recipe) error {
	s := r.Search
	return firstErr(checkSearchFlags(search.Config{Population: s.Population, TopK: s.TopK, Generations: s.Generations,
		Mutations: s.Mutations, Crossovers: s.Crossovers, MutationProb: s.MutationProb}), checkInt("finalists", s.Finalists, 1, 1000),
		checkFloat("anchor-lora", s.AnchorLoRA, 0, 1, false, false))
}

// resumeRunSettings is the saved run's settings, after checking that every
// flag given again agrees with them.
func resumeRunSettings(saved []byte, given runSettings, explicit map[string]bool, keys map[string]string, rf *runRecipe, out string) (runSettings, error) {
	if explicit["scheme"] && given.Scheme == autoScheme {
		delete(explicit, "scheme")
	}
	s, err := mergeSaved(saved, given, explicit, keys, out)
	if err != nil {
		return s, err
	}
	if explicit["recipe"] && rf.Name != s.Recipe.Name {
		return s, fmt.Errorf("--resume: cannot continue the run in %s: --recipe %s, but the run was saved with %s; leave a flag out to use the saved value, or start a new run in another folder",
			out, rf.Name, s.Recipe.Name)
	}
	return s, sameRecipeFlags(rf, s.Recipe, explicit, out)
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
	if err := startOut(out, "run", overwrite, resume, s, prec); err != nil {
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
