package pipeline

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/glora/glora/finetune"
	"github.com/glora/glora/method/search"
)

// Searched is searched GLoRA as a method: a supernet, an evolutionary
// search at LoRA's parameter count, its finalists retrained and the best
// on validation kept.
const Searched = "glora-searched"

// Methods are every method a recipe trains, in the report's order.
var Methods = []string{Searched, finetune.GLoRAFixed, finetune.LoRA, finetune.SSF, finetune.IA3,
	finetune.BitFit, finetune.Linear, finetune.Full}

// Run names of a Recipe besides the methods.
const (
	SupernetRun = "supernet" // searched GLoRA's supernet
	RetrainRun  = "retrain"  // searched GLoRA's finalists, each a standalone run
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

// SearchRecipe is searched GLoRA's settings beyond its two runs.
type SearchRecipe struct {
	Ranks        []int   `json:"ranks"` // the supernet's lora ranks
	Population   int     `json:"population"`
	TopK         int     `json:"topk"`
	Generations  int     `json:"generations"`
	Mutations    int     `json:"mutations"`
	Crossovers   int     `json:"crossovers"`
	MutationProb float64 `json:"mutation_prob"`
	// SeedNamed starts the first generation from the named structures
	// (lora, glora-fixed, ssf, ia3, bitfit at the supernet's ranks) that
	// fit the budget, so the search starts no worse than them.
	SeedNamed bool `json:"seed_named"`
	// Finalists is how many of the search's best structures are retrained
	// alone, by successive halving on validation (finetune.Rerank); 1
	// retrains the best alone.
	Finalists int `json:"finalists"`
	// LoRAFinalist makes LoRA at the recipe's rank a finalist too when the
	// search did not rank it among the best: the structure to beat is
	// always in the final, and a structure replaces it only by winning on
	// validation.
	LoRAFinalist bool `json:"lora_finalist"`
	// LoRAFresh trains the LoRA finalist from fresh support tensors even
	// when the others inherit the supernet's weights: the baseline as it
	// trains alone.
	LoRAFresh bool `json:"lora_finalist_fresh,omitempty"`
	Inherit   bool `json:"inherit"` // retrain from the supernet's weights (else fresh support tensors)
	// UndrawnMomentum: the supernet's AdamW keeps moving the support
	// tensors a step does not draw (PyTorch 1.10's zero_grad, as the
	// reference code ran).
	UndrawnMomentum bool `json:"undrawn_momentum"`
	// AnchorLoRA is the fraction of supernet steps that train LoRA at the
	// largest rank on every layer instead of a uniform draw (0: none).
	AnchorLoRA float64 `json:"anchor_lora,omitempty"`
}

// Recipe is every method's training budget, one table for every task and
// never tuned per task (and never on test): the CLI's defaults, the
// transfer suite's and the demo's.
type Recipe struct {
	Name        string              `json:"name"`
	Batch       int                 `json:"batch"`
	WeightDecay float64             `json:"weight_decay"`
	ClipNorm    float64             `json:"clip_norm"`     // global gradient norm clip (0: none)
	MinLRFrac   float64             `json:"min_lr_frac"`   // the cosine schedule ends at lr × this
	Warmup      float64             `json:"warmup_epochs"` // linear warm-up, at most a tenth of the run
	Rank        int                 `json:"rank"`          // lora and glora-fixed; the search's budget is LoRA's at this rank
	Runs        map[string]Schedule `json:"runs"`          // by method, plus SupernetRun and RetrainRun
	Search      SearchRecipe        `json:"search"`
}

// The named recipes.
const (
	Quick   = "quick"
	Default = "default"
	Paper   = "paper"
)

// Names lists the named recipes.
var Names = []string{Quick, Default, Paper}

// Named returns a named recipe:
//
//	quick    one epoch per run and a tiny search: tests the pipeline
//	         itself (CI); its numbers mean nothing.
//	default  minutes per method on 2 cores at VTAB-1k's size, chosen on
//	         validation only (MNIST-1k for the learning rates; the
//	         searched chain on the development images of four tasks, see
//	         docs/DESIGN.md): the CLI's, the suite's and the demo's.
//	paper    the reference code's budget for ViT-B on VTAB-1k: 500-epoch
//	         supernet at lr 1e-4 with 10 warm-up epochs, no clipping, one
//	         rank, the search 50 × 20 generations; 100-epoch baselines.
//	         Hours per task on a CPU.
func Named(name string) (Recipe, error) {
	switch name {
	case Default, "":
		return defaultRecipe(), nil
	case Quick:
		r := defaultRecipe()
		r.Name = Quick
		r.Runs = maps.Clone(r.Runs)
		for k, v := range r.Runs {
			r.Runs[k] = Schedule{Epochs: 1, LR: v.LR}
		}
		s := &r.Search
		s.Population, s.TopK, s.Generations, s.Mutations, s.Crossovers = 4, 2, 2, 2, 2
		s.Finalists = min(s.Finalists, 2)
		return r, nil
	case Paper:
		return paperRecipe(), nil
	}
	return Recipe{}, fmt.Errorf("unknown recipe %q (want %s)", name, strings.Join(Names, ", "))
}

// MustNamed is Named for the names in Names.
func MustNamed(name string) Recipe {
	r, err := Named(name)
	if err != nil {
		panic(err)
	}
	return r
}

// defaultRecipe: linear probe 6 epochs at 1e-1; LoRA and glora-fixed 8
// epochs at 5e-3; ssf, ia3, bitfit 8 at 1e-2; full fine-tuning 8 at 1e-3
// (learning rates chosen on MNIST-1k's 200 validation images); batch 32,
// weight decay 1e-4, cosine schedule to lr/100 with a warm-up of a tenth
// of the run (at most one epoch), gradients clipped at norm 1. Searched
// GLoRA (chosen on validation and development images, docs/DESIGN.md §6):
// a 20-epoch supernet of ranks 4 and 8 at 5e-3 (a tenth of its steps train
// LoRA at rank 8 on every layer), a 16 × 4-generation
// search seeded with the named structures, its 3 best structures
// retrained from the supernet's weights for LoRA's 8 epochs at 5e-3 by
// successive halving.
func defaultRecipe() Recipe {
	return Recipe{Name: Default, Batch: 32, WeightDecay: 1e-4, ClipNorm: 1, MinLRFrac: 0.01, Warmup: 1, Rank: finetune.DefaultRank,
		Runs: map[string]Schedule{
			finetune.Linear: {6, 1e-1}, finetune.LoRA: {8, 5e-3}, finetune.GLoRAFixed: {8, 5e-3},
			finetune.SSF: {8, 1e-2}, finetune.IA3: {8, 1e-2}, finetune.BitFit: {8, 1e-2}, finetune.Full: {8, 1e-3},
			SupernetRun: {20, 5e-3}, RetrainRun: {8, 5e-3},
		},
		Search: SearchRecipe{Ranks: []int{4, 8}, Population: 16, TopK: 4, Generations: 4, Mutations: 6, Crossovers: 6,
			MutationProb: 0.2, SeedNamed: true, Finalists: 3, Inherit: true, AnchorLoRA: 0.1},
	}
}

// paperRecipe is the reference code's budget (see Named); its search is
// search.Defaults.
func paperRecipe() Recipe {
	ref := search.Defaults()
	return Recipe{Name: Paper, Batch: 64, WeightDecay: 1e-4, ClipNorm: 0, MinLRFrac: 0.1, Warmup: 10, Rank: finetune.DefaultRank,
		Runs: map[string]Schedule{
			finetune.Linear: {100, 1e-2}, finetune.LoRA: {100, 1e-3}, finetune.GLoRAFixed: {100, 1e-3},
			finetune.SSF: {100, 1e-3}, finetune.IA3: {100, 1e-3}, finetune.BitFit: {100, 1e-3}, finetune.Full: {100, 1e-4},
			SupernetRun: {500, 1e-4}, RetrainRun: {100, 1e-4},
		},
		Search: SearchRecipe{Ranks: []int{4}, Population: ref.Population, TopK: ref.TopK, Generations: ref.Generations,
			Mutations: ref.Mutations, Crossovers: ref.Crossovers, MutationProb: ref.MutationProb,
			SeedNamed: false, Finalists: 1, Inherit: true, UndrawnMomentum: true},
	}
}

// Validate checks every run the methods need and the search's sizes.
func (r Recipe) Validate(methods []string) error {
	if r.Batch < 1 || r.Rank < 1 {
		return fmt.Errorf("recipe %s: batch %d and rank %d must be at least 1", r.Name, r.Batch, r.Rank)
	}
	if r.ClipNorm < 0 || !(r.MinLRFrac >= 0 && r.MinLRFrac <= 1) || r.Warmup < 0 || r.WeightDecay < 0 {
		return fmt.Errorf("recipe %s: clip %g, min lr fraction %g, warm-up %g, weight decay %g: want clip, warm-up and decay ≥ 0 and the fraction in [0, 1]",
			r.Name, r.ClipNorm, r.MinLRFrac, r.Warmup, r.WeightDecay)
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
				return fmt.Errorf("recipe %s: the %s run needs epochs ≥ 1 and a learning rate > 0 (have %+v)", r.Name, n, run)
			}
		}
	}
	if !slices.Contains(methods, Searched) {
		return nil
	}
	s := r.Search
	switch {
	case s.Population < 1 || s.TopK < 1 || s.TopK > s.Population || s.Generations < 1 || s.Mutations < 0 || s.Crossovers < 0:
		return fmt.Errorf("recipe %s: search population %d, topk %d, generations %d, mutations %d, crossovers %d: want population ≥ topk ≥ 1, generations ≥ 1, the others ≥ 0",
			r.Name, s.Population, s.TopK, s.Generations, s.Mutations, s.Crossovers)
	case !(s.MutationProb > 0 && s.MutationProb <= 1):
		return fmt.Errorf("recipe %s: mutation probability %g, want (0, 1]", r.Name, s.MutationProb)
	case s.Finalists < 1:
		return fmt.Errorf("recipe %s: %d finalists, want at least 1", r.Name, s.Finalists)
	case len(s.Ranks) == 0:
		return fmt.Errorf("recipe %s: the supernet needs lora ranks", r.Name)
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
	warm := min(r.Warmup, float64(rn.Epochs)/10)
	if n > 0 && n < RefTrain {
		refSteps := rn.Epochs * ceilDiv(RefTrain, r.Batch)
		perEpoch := ceilDiv(n, batch)
		epochs = ceilDiv(refSteps, perEpoch)
		warm *= float64(epochs) / float64(rn.Epochs)
	}
	return finetune.Hyper{Epochs: epochs, Batch: batch, LR: rn.LR, MinLR: rn.LR * r.MinLRFrac,
		WarmupEpochs: warm, WeightDecay: r.WeightDecay, ClipNorm: r.ClipNorm}
}

// EpochsNote explains, for the log, why run's epochs on n training images
// differ from the recipe's (see Hyper); it is empty when they do not.
func (r Recipe) EpochsNote(run string, n int) string {
	rn := r.Runs[run]
	if e := r.Hyper(run, n).Epochs; e != rn.Epochs {
		return fmt.Sprintf(" (the recipe's %s count %d images: %d training images get as many optimiser steps in %d epochs)",
			nOf(rn.Epochs, "epoch"), RefTrain, n, e)
	}
	return ""
}

// nOf is n with its noun, singular or plural: "1 epoch", "2 epochs".
func nOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Describe is the recipe in a few sentences (reports, --help).
func (r Recipe) Describe() string {
	var b strings.Builder
	clip := "no gradient clipping"
	if r.ClipNorm > 0 {
		clip = fmt.Sprintf("gradients clipped at norm %g", r.ClipNorm)
	}
	warm := "epochs"
	if r.Warmup == 1 {
		warm = "epoch"
	}
	fmt.Fprintf(&b, "batch %d, AdamW (weight decay %g), cosine schedule to %g × the peak lr with a warm-up of a tenth of the run (at most %g %s), %s; lora and glora-fixed at rank %d. ",
		r.Batch, r.WeightDecay, r.MinLRFrac, r.Warmup, warm, clip, r.Rank)
	s := r.Search
	fmt.Fprintf(&b, "Searched GLoRA: a supernet of lora ranks %v", s.Ranks)
	if s.UndrawnMomentum {
		b.WriteString(" (undrawn paths keep their AdamW momentum)")
	}
	if s.AnchorLoRA > 0 {
		fmt.Fprintf(&b, " (%g of its steps train LoRA at rank %d on every layer)", s.AnchorLoRA, slices.Max(s.Ranks))
	}
	fmt.Fprintf(&b, ", an evolutionary search of population %d × %d generations (top %d, %d mutations + %d crossovers a generation) at LoRA rank %d's parameter count",
		s.Population, s.Generations, s.TopK, s.Mutations, s.Crossovers, r.Rank)
	if s.SeedNamed {
		b.WriteString(" starting from the named structures that fit")
	}
	from := "fresh support tensors"
	if s.Inherit {
		from = "the supernet's weights"
	}
	if s.Finalists > 1 {
		fmt.Fprintf(&b, ", its %d best structures", s.Finalists)
	} else {
		b.WriteString(", the best structure")
	}
	if s.LoRAFinalist {
		fmt.Fprintf(&b, " (and LoRA rank %d, if the search did not rank it there)", r.Rank)
	}
	fmt.Fprintf(&b, " retrained from %s", from)
	if s.Finalists > 1 || s.LoRAFinalist {
		b.WriteString(" by successive halving on validation")
	}
	fmt.Fprintf(&b, ". Epochs are counted on %d training images; a smaller (few-shot) training set gets as many optimiser steps.\n\n", RefTrain)
	b.WriteString("| run | epochs | peak lr |\n| --- | --- | --- |\n")
	for _, k := range slices.Sorted(maps.Keys(r.Runs)) {
		fmt.Fprintf(&b, "| %s | %d | %g |\n", k, r.Runs[k].Epochs, r.Runs[k].LR)
	}
	return b.String()
}
