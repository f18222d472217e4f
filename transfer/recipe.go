package transfer

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/glora/glora/finetune"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/search"
)

// Searched is searched GLoRA as a method of the suite: a supernet, an
// evolutionary search at LoRA's parameter count, and the chosen structure
// retrained.
const Searched = "glora-searched"

// Methods are the suite's methods, in its tables' order.
var Methods = []string{Searched, finetune.GLoRAFixed, finetune.LoRA, finetune.SSF, finetune.IA3,
	finetune.BitFit, finetune.Linear, finetune.Full}

// Stage names of a Recipe's runs besides the methods.
const (
	SupernetRun = "supernet" // searched GLoRA's supernet
	RetrainRun  = "retrain"  // searched GLoRA's retraining of the chosen structure
)

// Schedule is one training run's length and peak learning rate.
type Schedule struct {
	Epochs int     `json:"epochs"`
	LR     float64 `json:"lr"`
}

// RefTrain is the training-set size a Recipe's epochs are counted on:
// VTAB-1k's 800 images. A smaller training set (few-shot) gets as many
// optimiser steps, not as many epochs (see Recipe.Hyper).
const RefTrain = 800

// Recipe is every method's training budget: one table for every task,
// never tuned per task (and never on test).
type Recipe struct {
	Batch       int                 `json:"batch"`
	WeightDecay float64             `json:"weight_decay"`
	Rank        int                 `json:"rank"` // lora and glora-fixed; the search's budget is LoRA's at this rank
	Runs        map[string]Schedule `json:"runs"` // by method, plus SupernetRun and RetrainRun

	// The search (searched GLoRA), scored on the validation split.
	Population  int  `json:"population"`
	TopK        int  `json:"topk"`
	Generations int  `json:"generations"`
	Mutations   int  `json:"mutations"`
	Crossovers  int  `json:"crossovers"`
	Inherit     bool `json:"inherit"` // retrain from the supernet's weights (else fresh support tensors)
}

// DefaultRecipe is the demo's budget (chosen on MNIST-1k's 200 validation
// images, see cmd/glora's demo): linear probe 6 epochs at 1e-1; LoRA,
// glora-fixed and the supernet 8 epochs at 5e-3; the retraining of the
// searched structure 6 epochs at 5e-3 from the supernet's weights; a search
// of 16 candidates × 4 generations. The methods the demo does not run take
// LoRA's 8 epochs and finetune.DefaultHyper's learning rates (also chosen
// on MNIST-1k validation): 1e-2 for the vector methods (ssf, ia3, bitfit),
// 1e-3 for full fine-tuning. Batch 32, weight decay 1e-4, the cosine
// schedule to lr/100 with a warm-up of a tenth of the run (at most one
// epoch), gradients clipped at norm 1.
func DefaultRecipe() Recipe {
	return Recipe{Batch: 32, WeightDecay: 1e-4, Rank: finetune.DefaultRank,
		Runs: map[string]Schedule{
			finetune.Linear: {6, 1e-1}, finetune.LoRA: {8, 5e-3}, finetune.GLoRAFixed: {8, 5e-3},
			finetune.SSF: {8, 1e-2}, finetune.IA3: {8, 1e-2}, finetune.BitFit: {8, 1e-2}, finetune.Full: {8, 1e-3},
			SupernetRun: {8, 5e-3}, RetrainRun: {6, 5e-3},
		},
		Population: 16, TopK: 4, Generations: 4, Mutations: 6, Crossovers: 6, Inherit: true}
}

// QuickRecipe is a tiny budget for testing the suite itself: one epoch
// per run and a search of 4 × 2. Its numbers mean nothing.
func QuickRecipe() Recipe {
	r := DefaultRecipe()
	runs := map[string]Schedule{}
	for k, v := range r.Runs {
		runs[k] = Schedule{Epochs: 1, LR: v.LR}
	}
	r.Runs = runs
	r.Population, r.TopK, r.Generations, r.Mutations, r.Crossovers = 4, 2, 2, 2, 2
	return r
}

// Validate checks every run the methods need and the search sizes.
func (r Recipe) Validate(methods []string) error {
	if r.Batch < 1 || r.Rank < 1 {
		return fmt.Errorf("recipe: batch %d and rank %d must be at least 1", r.Batch, r.Rank)
	}
	for _, m := range methods {
		need := []string{m}
		if m == Searched {
			need = []string{SupernetRun, RetrainRun}
		} else if !slices.Contains(Methods, m) {
			return fmt.Errorf("unknown method %q (want %s)", m, strings.Join(Methods, ", "))
		}
		for _, n := range need {
			run, ok := r.Runs[n]
			if !ok || run.Epochs < 1 || !(run.LR > 0) {
				return fmt.Errorf("recipe: the %s run needs epochs ≥ 1 and a learning rate > 0 (have %+v)", n, run)
			}
		}
	}
	if slices.Contains(methods, Searched) && (r.Population < 1 || r.TopK < 1 || r.TopK > r.Population || r.Generations < 1) {
		return fmt.Errorf("recipe: search population %d, topk %d, generations %d: want population ≥ topk ≥ 1 and generations ≥ 1",
			r.Population, r.TopK, r.Generations)
	}
	return nil
}

// Hyper is run's hyperparameters for a training set of n images. Batch is
// the recipe's, or n when smaller. The epochs are the run's when n ≥
// RefTrain; for a smaller set they are scaled up so that the run takes as
// many optimiser steps as it would on RefTrain images (the warm-up scaled
// alike), so a 1-shot task is not trained for a handful of steps.
func (r Recipe) Hyper(run string, n int) finetune.Hyper {
	rn := r.Runs[run]
	batch := min(r.Batch, max(n, 1))
	epochs := rn.Epochs
	warm := min(1, float64(rn.Epochs)/10)
	if n > 0 && n < RefTrain {
		refSteps := rn.Epochs * ceilDiv(RefTrain, r.Batch)
		perEpoch := ceilDiv(n, batch)
		epochs = ceilDiv(refSteps, perEpoch)
		warm *= float64(epochs) / float64(rn.Epochs)
	}
	return finetune.Hyper{Epochs: epochs, Batch: batch, LR: rn.LR, MinLR: rn.LR / 100,
		WarmupEpochs: warm, WeightDecay: r.WeightDecay, ClipNorm: 1}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Outcome is one method trained on a task.
type Outcome struct {
	*finetune.Trained
	Merged  string  // the kept model merged into a plain ViT folder (its test model)
	Note    string  // searched GLoRA: what the search found
	Seconds float64 // everything the method took (supernet and search included)
}

// TrainMethod adapts a fresh model (fresh(): the backbone with a new head
// for the task's classes) to task with method (one of Methods) under r,
// in outDir/<stage>. Searched GLoRA is a supernet (ranks 4 and r.Rank)
// trained on the training split, an evolutionary search at LoRA's
// rank-r.Rank parameter count scored on the validation split with merged
// weights, and the chosen structure retrained (from the supernet's weights
// with r.Inherit). Only validation data chooses anything.
func TrainMethod(ctx context.Context, method string, task finetune.Task, r Recipe, outDir string, seed uint64,
	fresh func() (*vit.Model, error), log io.Writer) (*Outcome, error) {
	if log == nil {
		log = io.Discard
	}
	if err := r.Validate([]string{method}); err != nil {
		return nil, err
	}
	stage := func(name string) finetune.StageOptions {
		return finetune.StageOptions{OutDir: filepath.Join(outDir, name), Seed: seed}
	}
	t0 := time.Now()
	v, err := fresh()
	if err != nil {
		return nil, err
	}
	n := task.Train.Len()
	out := &Outcome{}
	if method != Searched {
		s := finetune.Setup{Method: method, Rank: r.Rank}
		if out.Trained, err = finetune.Finetune(ctx, v, task, s, r.Hyper(method, n), stage(method)); err != nil {
			return nil, err
		}
		out.Merged = filepath.Join(stage(method).OutDir, finetune.MergedDir)
		out.Seconds = time.Since(t0).Seconds()
		return out, nil
	}
	ranks := []int{4, r.Rank}
	if r.Rank <= 4 {
		ranks = []int{r.Rank}
	}
	h := r.Hyper(SupernetRun, n)
	fmt.Fprintf(log, "supernet (ranks %v), %d epochs; validation with the LoRA structure\n", ranks, h.Epochs)
	sn, err := finetune.TrainSupernet(ctx, v, task, finetune.Setup{Ranks: ranks}, h, stage(SupernetRun))
	if err != nil {
		return nil, err
	}
	budget := finetune.LoRABudget(sn.Model.Net.Targets(), r.Rank)
	cfg := search.Config{Population: r.Population, TopK: r.TopK, Generations: r.Generations, Mutations: r.Mutations,
		Crossovers: r.Crossovers, MutationProb: 0.2, Budget: budget, Seed: seed}
	fmt.Fprintf(log, "search: budget %d parameters (LoRA rank %d's), population %d, %d generations, scored on validation\n",
		budget, r.Rank, r.Population, r.Generations)
	dir := stage("search").OutDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	res, err := finetune.Search(ctx, sn.Model, task.Val, task.Pre, cfg, dir, 256, log)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "search: %d candidates in %.0fs; best %s: val accuracy %.4f with the supernet's weights, %d parameters\n",
		len(res.Candidates), res.Seconds, res.Best.Hash, res.Best.Accuracy, res.Best.Params)
	setup := finetune.Setup{Method: finetune.GLoRA, Structure: res.Best.Structure}
	how := "fresh support tensors"
	if r.Inherit {
		a, err := sn.Model.Adapter(task.BaseRef)
		if err != nil {
			return nil, err
		}
		setup.Init, how = a, "the supernet's weights"
	}
	rv, err := fresh()
	if err != nil {
		return nil, err
	}
	h = r.Hyper(RetrainRun, n)
	fmt.Fprintf(log, "retraining the chosen structure from %s, %d epochs\n", how, h.Epochs)
	if out.Trained, err = finetune.Finetune(ctx, rv, task, setup, h, stage(RetrainRun)); err != nil {
		return nil, err
	}
	out.Merged = filepath.Join(stage(RetrainRun).OutDir, finetune.MergedDir)
	out.Note = fmt.Sprintf("%d candidates searched (best %.3f with shared weights), retrained from %s",
		len(res.Candidates), res.Best.Accuracy, how)
	out.Seconds = time.Since(t0).Seconds()
	return out, nil
}
