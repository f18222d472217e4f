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
	"time"

	"github.com/glora/glora/data"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/plot"
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
	Method          string  `json:"method"`
	Finalist        string  `json:"finalist"` // the finalist kept on validation
	ValAccuracy     float64 `json:"val_accuracy"`
	TestAccuracy    float64 `json:"test_accuracy"`
	TestLoss        float64 `json:"test_loss"`
	TrainableParams int     `json:"trainable_params"`
	SupportParams   int     `json:"support_params"`
	HeadParams      int     `json:"head_params"`
	Budget          int     `json:"budget"`
	NTrain          int     `json:"n_train"`
	NVal            int     `json:"n_val"`
	NTest           int     `json:"n_test"`
	Seconds         float64 `json:"seconds"`   // all stages, over all resumes
	Precision       string  `json:"precision"` // of the matrix products (this invocation's --precision)
	Structure       string  `json:"structure"`
	Adapter         string  `json:"adapter"`
	Merged          string  `json:"merged"`
	Report          string  `json:"report"`
	// the stages
	SupernetValAcc float64          `json:"supernet_val_accuracy"`
	SearchValAcc   float64          `json:"search_val_accuracy"`
	Candidates     int              `json:"search_candidates"`
	Finalists      []finetune.Round `json:"finalists"`
	RankCheckTau   *float64         `json:"rank_check_tau,omitempty"`
	StageSeconds   [4]float64       `json:"stage_seconds"` // supernet, search, finalists, rank check
	Settings       runSettings      `json:"settings"`
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
	return recipeFlags{
		"population":    func(r *pipeline.Recipe) { r.Search.Population = *pop },
		"topk":          func(r *pipeline.Recipe) { r.Search.TopK = *topk },
		"generations":   func(r *pipeline.Recipe) { r.Search.Generations = *gens },
		"mutations":     func(r *pipeline.Recipe) { r.Search.Mutations = *muts },
		"crossovers":    func(r *pipeline.Recipe) { r.Search.Crossovers = *cross },
		"finalists":     func(r *pipeline.Recipe) { r.Search.Finalists = *finalists },
		"lora-finalist": func(r *pipeline.Recipe) { r.Search.LoRAFinalist = *lora },
		"fresh-retrain": func(r *pipeline.Recipe) { r.Search.Inherit = !*fresh },
	}
}

// checkSearchRecipe checks the search and finalists of r, naming the flags.
func checkSearchRecipe(r pipeline.Recipe) error {
	s := r.Search
	return firstErr(checkSearchFlags(search.Config{Population: s.Population, TopK: s.TopK, Generations: s.Generations,
		Mutations: s.Mutations, Crossovers: s.Crossovers, MutationProb: s.MutationProb}), checkInt("finalists", s.Finalists, 1, 1000))
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
	runReportFile  = "report.md"
)

// runStages runs the chain (pipeline.SearchGLoRA) in out, then tests the
// kept model: the only read of the test split. A finished run (its
// summary.json written) is not run or tested again.
func runStages(ctx context.Context, s runSettings, out string, resume, overwrite bool, prec tensor.Precision, human, log io.Writer) (*runResult, error) {
	t0 := time.Now()
	p, err := prepare(s.baseSpec, log) // every check of base and data before any work
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
	budget := max(s.Budget, 0)
	o := pipeline.Options{Dir: out, Seed: s.Seed, Resume: resume, Budget: budget, RankCheck: s.RankCheck, CheckpointEvery: 100, Log: human, Precision: prec,
		Fresh: p.Fresh}
	ch, err := pipeline.SearchGLoRA(ctx, p.Task, s.Recipe, o)
	if err != nil {
		return nil, err
	}
	res := &runResult{Method: "glora (searched structure)", Finalist: ch.FinalistNames[ch.Finalists.Index],
		Precision: prec.String(), Settings: s, NTrain: p.Task.Train.Len(), NVal: p.Task.Val.Len(),
		ValAccuracy: ch.Val.Accuracy, SupportParams: ch.Support, HeadParams: ch.Head, TrainableParams: ch.Support + ch.Head,
		Budget: ch.Budget, SupernetValAcc: ch.Supernet.Val.Accuracy, SearchValAcc: ch.Search.Best.Accuracy,
		Candidates: len(ch.Search.Candidates), Finalists: ch.Finalists.Rounds, StageSeconds: ch.StageSeconds}
	if ch.RankCheck != nil {
		res.RankCheckTau = ch.RankCheck.Tau
	}
	res.Seconds = ch.Supernet.Seconds
	for _, sec := range ch.StageSeconds[1:] {
		res.Seconds += sec
	}

	// The kept finalist's adapter and merged model, its structure and the plots.
	pub, err := ch.Publish(out)
	if err != nil {
		return nil, err
	}
	res.Adapter, res.Merged, res.Structure = pub.Adapter, pub.Merged, pub.Structure

	// The test split, once.
	fmt.Fprintf(human, "test: the merged model of %s on the test split\n", res.Finalist)
	tm, err := testSplit(p, "run", res.Merged, prec)
	if errors.Is(err, pipeline.ErrNoTestSplit) {
		return nil, fmt.Errorf("--data %s has no test split to evaluate on", s.Data)
	}
	if err != nil {
		return nil, err
	}
	res.TestAccuracy, res.TestLoss, res.NTest = tm.Accuracy, tm.Loss, tm.N
	if err := plot.WriteConfusionPNG(filepath.Join(out, "confusion.png"), plot.Confusion{Title: "test split: " + res.Method,
		Labels: p.Classes, Counts: tm.Confusion}); err != nil {
		fmt.Fprintf(log, "warning: %v\n", err)
	}
	noteGlyphs(log, p.Classes)
	res.Report = filepath.Join(out, runReportFile)
	if err := atomicfile.WriteBytes(res.Report, []byte(runReport(res, p, ch, time.Since(t0)))); err != nil {
		return nil, err
	}
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

// runReport is report.md.
func runReport(r *runResult, p *pipeline.Task, ch *pipeline.SearchedOutcome, wall time.Duration) string {
	var b strings.Builder
	s := r.Settings
	rc := s.Recipe
	fmt.Fprintf(&b, "# glora run\n\n")
	fmt.Fprintf(&b, "Base %s, data %s (--scheme %s --split-seed %d): %d train / %d validation images, %d classes (%s); test split: %d images, read once, at the end.\n\n",
		p.From, s.Data, p.Scheme, s.SplitSeed, r.NTrain, r.NVal, len(p.Classes), data.ClassList(p.Classes), r.NTest)
	fmt.Fprintf(&b, "## Result\n\n| method | trainable params (support + head) | val accuracy | test accuracy |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %s: %s | %d (%d + %d) | %.4f | %.4f |\n\n", r.Method, r.Finalist, r.TrainableParams, r.SupportParams, r.HeadParams, r.ValAccuracy, r.TestAccuracy)
	fmt.Fprintf(&b, "Adapter: `%s`; merged model (the base's shape and speed): `%s`; structure: `%s`.\n\n", r.Adapter, r.Merged, r.Structure)
	fmt.Fprintf(&b, "The structure, choices counted over the %d layers: %s.\n\n", len(ch.Structure), ch.Structure.Summary())
	sn, rt := rc.Hyper(pipeline.SupernetRun, r.NTrain), rc.Hyper(pipeline.RetrainRun, r.NTrain)
	fmt.Fprintf(&b, "## Stages\n\n| stage | what | seconds | validation accuracy |\n|---|---|---|---|\n")
	warm := fmt.Sprintf("%g epochs", sn.WarmupEpochs)
	if sn.WarmupEpochs == 1 {
		warm = "1 epoch"
	}
	fmt.Fprintf(&b, "| 1 supernet | ranks %v, %s, batch %d, lr %g (min %g, warm-up %s), wd %g, clip %g, seed %d; %d support + %d head parameters | %.0f | %.4f (lora rank %d on every layer) |\n",
		rc.Search.Ranks, nOf(sn.Epochs, "epoch"), sn.Batch, sn.LR, sn.MinLR, warm, sn.WeightDecay, sn.ClipNorm, s.Seed,
		ch.Supernet.Support, ch.Supernet.Head, r.StageSeconds[0], r.SupernetValAcc, slices.Max(rc.Search.Ranks))
	fmt.Fprintf(&b, "| 2 search | budget %d, population %d, top %d, %d generations, %d mutations + %d crossovers (p %.2g)%s; %d candidates scored with merged weights on the validation split | %.0f | %.4f (best with the supernet's weights: %s, %d params) |\n",
		r.Budget, rc.Search.Population, rc.Search.TopK, rc.Search.Generations, rc.Search.Mutations, rc.Search.Crossovers, rc.Search.MutationProb,
		map[bool]string{true: ", starting from the named structures that fit", false: ""}[rc.Search.SeedNamed],
		r.Candidates, r.StageSeconds[1], r.SearchValAcc, ch.Search.Best.Hash, ch.Search.Best.Params)
	from := map[bool]string{true: "the supernet's weights", false: "fresh support tensors"}[rc.Search.Inherit]
	fmt.Fprintf(&b, "| 3 finalists | the %d best structures retrained from %s, %d epochs at lr %g, by successive halving (rungs %v) | %.0f | %.4f (%s) |\n",
		len(ch.FinalistNames), from, rt.Epochs, rt.LR, finetune.Rungs(len(ch.FinalistNames), rt.Epochs), r.StageSeconds[2], r.ValAccuracy, r.Finalist)
	if ch.RankCheck != nil {
		fmt.Fprintf(&b, "| rank check | %d structures trained alone, %d epochs each | %.0f | Kendall's tau %s (by shared-weight loss %s) |\n",
			len(ch.RankCheck.Items), ch.RankCheck.Epochs, r.StageSeconds[3], finetune.FormatTau(ch.RankCheck.Tau), finetune.FormatTau(ch.RankCheck.TauLoss))
	}
	fmt.Fprintf(&b, "| 4 merge + test | %s, chosen on validation | | test %.4f (loss %.4f) |\n\n", r.Finalist, r.TestAccuracy, r.TestLoss)
	fmt.Fprintf(&b, "### Finalists\n\n| finalist | epochs trained | best val accuracy | val loss |\n|---|---|---|---|\n")
	for _, f := range r.Finalists {
		name := f.Name
		if f.Winner {
			name = "**" + name + "** (kept)"
		}
		fmt.Fprintf(&b, "| %s | %d | %.4f | %.4f |\n", name, f.Epochs, f.Accuracy, f.Loss)
	}
	fmt.Fprintf(&b, "\nTraining and search took %.0f s in all (this invocation: %.0f s wall).\n\n", r.Seconds, wall.Seconds())
	fmt.Fprintf(&b, "## Plots\n\n- `supernet-curves.png`: the supernet's loss and accuracy (validation with lora rank %d everywhere)\n- `search.png`: validation accuracy against parameters, by generation, the best highlighted\n- `retrain-curves.png`: the kept finalist's retraining\n- `confusion.png`: the test split's confusion matrix\n",
		slices.Max(rc.Search.Ranks))
	if ch.RankCheck != nil {
		b.WriteString("- `rank-check.png`: each structure's validation accuracy trained alone against its accuracy with the supernet's weights\n")
	}
	return b.String()
}
