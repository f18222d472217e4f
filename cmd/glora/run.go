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
	"strings"
	"syscall"
	"time"

	"github.com/glora/glora/finetune"
	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/plot"
	"github.com/glora/glora/search"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// runSettings is DIR/run.settings.json.
type runSettings struct {
	baseSpec
	Budget   int            `json:"budget"` // -1: LoRA rank 8's count
	Ranks    []int          `json:"ranks"`
	Supernet finetune.Hyper `json:"supernet"`
	Retrain  finetune.Hyper `json:"retrain"`
	Search   search.Config  `json:"search"`
}

// runResult is DIR/summary.json and run's --json line.
type runResult struct {
	Method          string  `json:"method"`
	Retrain         string  `json:"retrain"` // fresh or inherited: the one chosen on validation
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
	SupernetValAcc float64     `json:"supernet_val_accuracy"`
	SearchValAcc   float64     `json:"search_val_accuracy"`
	Candidates     int         `json:"search_candidates"`
	FreshValAcc    float64     `json:"fresh_val_accuracy"`
	InheritValAcc  float64     `json:"inherited_val_accuracy"`
	StageSeconds   [4]float64  `json:"stage_seconds"` // supernet, search, fresh, inherited
	Settings       runSettings `json:"settings"`
}

// Stage folders inside run's DIR.
const (
	runSupernetDir  = "supernet-run"
	runFreshDir     = "retrain-fresh"
	runInheritedDir = "retrain-inherited"
)

func runRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "run --base MODEL --data SPEC --out DIR [--budget PARAMS] [flags]", stderr)
	var s runSettings
	s.Search = defaultSearch
	fs.StringVar(&s.Base, "base", shipped, modelHelp)
	fs.StringVar(&s.Data, "data", "", "dataset spec (see README)")
	fs.StringVar(&s.Scheme, "scheme", autoScheme, pipelineSchemeHelp)
	fs.Uint64Var(&s.SplitSeed, "split-seed", 0, "seed of the train/validation split")
	fs.Uint64Var(&s.Seed, "seed", 0, "seed of every stage (initialisation, data order, structure draws, search)")
	fs.IntVar(&s.Budget, "budget", -1, "most support parameters the searched structure may read (default: LoRA rank 8's count over the layers)")
	ranks := fs.String("ranks", "4,8", "the supernet's lora ranks")
	sh, rh := finetune.DefaultHyper(finetune.Supernet), finetune.DefaultHyper(finetune.GLoRA)
	fs.IntVar(&s.Supernet.Epochs, "supernet-epochs", sh.Epochs, "supernet epochs")
	fs.Float64Var(&s.Supernet.LR, "supernet-lr", sh.LR, "supernet peak learning rate")
	fs.IntVar(&s.Retrain.Epochs, "epochs", rh.Epochs, "retraining epochs of the searched structure")
	fs.Float64Var(&s.Retrain.LR, "lr", rh.LR, "retraining peak learning rate")
	fs.IntVar(&s.Search.Population, "population", s.Search.Population, "search population")
	fs.IntVar(&s.Search.TopK, "topk", s.Search.TopK, "search parents kept")
	fs.IntVar(&s.Search.Generations, "generations", s.Search.Generations, "search generations")
	fs.IntVar(&s.Search.Mutations, "mutations", s.Search.Mutations, "search mutations per generation")
	fs.IntVar(&s.Search.Crossovers, "crossovers", s.Search.Crossovers, "search crossovers per generation")
	out, resume, overwrite, asJSON := runFolderFlags(fs,
		"output folder: adapter/, merged/, report.md, summary.json, the plots, and each stage's folder",
		"continue the run in --out: finished stages are skipped, an interrupted one resumes", "a run")
	precision := precisionFlag(fs)
	if _, err := parseWithPrecision(fs, args, 0, precision, stderr); err != nil {
		return err
	}
	defer tensor.SetMatmulPrecision(tensor.F32)
	explicit := explicitFlags(fs)
	if *out == "" {
		return fmt.Errorf("--out is required (the run's folder)")
	}
	var err error
	if s.Ranks, err = parseInts("ranks", *ranks); err != nil {
		return err
	}
	s.Supernet = fillHyper(s.Supernet, sh)
	s.Retrain = fillHyper(s.Retrain, rh)
	if err := firstErr(checkHyper(s.Supernet), checkHyper(s.Retrain), checkSearchFlags(s.Search)); err != nil {
		return err
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
		keys := map[string]string{"budget": "budget", "ranks": "ranks"}
		for _, k := range []string{"base", "data", "scheme", "split-seed", "seed"} {
			keys[k] = stageFlagKeys[k]
		}
		if explicit["scheme"] && s.Scheme == autoScheme {
			delete(explicit, "scheme")
		}
		g := s
		if s, err = mergeSaved(saved, g, explicit, keys, *out); err != nil {
			return err
		}
		for f, same := range map[string]bool{"supernet-epochs": g.Supernet.Epochs == s.Supernet.Epochs, "supernet-lr": g.Supernet.LR == s.Supernet.LR,
			"epochs": g.Retrain.Epochs == s.Retrain.Epochs, "lr": g.Retrain.LR == s.Retrain.LR, "population": g.Search.Population == s.Search.Population,
			"topk": g.Search.TopK == s.Search.TopK, "generations": g.Search.Generations == s.Search.Generations,
			"mutations": g.Search.Mutations == s.Search.Mutations, "crossovers": g.Search.Crossovers == s.Search.Crossovers} {
			if explicit[f] && !same {
				return fmt.Errorf("--resume: cannot continue the run in %s: --%s differs from the saved run's; leave it out to use the saved value", *out, f)
			}
		}
	}
	human := stdout
	if *asJSON {
		human = stderr
	}
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runStages(ctx, s, *out, *resume, *overwrite, human, stderr)
	if errors.Is(err, train.ErrInterrupted) || errors.Is(err, search.ErrInterrupted) {
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

// fillHyper completes a stage's hyperparameters from its default.
func fillHyper(h, def finetune.Hyper) finetune.Hyper {
	def.Epochs, def.LR = h.Epochs, h.LR
	def.MinLR = min(def.MinLR, def.LR)
	def.WarmupEpochs = min(def.WarmupEpochs, float64(def.Epochs))
	return def
}

// runStages runs the chain in out, skipping the stages that finished.
func runStages(ctx context.Context, s runSettings, out string, resume, overwrite bool, human, log io.Writer) (*runResult, error) {
	t0 := time.Now()
	p, err := prepare(s.baseSpec, log) // every check of base and data before any work
	if err != nil {
		return nil, err
	}
	if _, err := checkTargets(p.v, nil, nil, slices.Max(s.Ranks)); err != nil {
		return nil, err
	}
	if err := startOut(out, "run", overwrite, resume, s); err != nil {
		return nil, err
	}
	fmt.Fprintf(human, "run: %s\n", p.describe())
	res := &runResult{Method: "glora", Precision: tensor.MatmulPrecision().String(), Settings: s, NTrain: p.task.Train.Len(), NVal: p.task.Val.Len()}

	// 1. Supernet.
	snDir := filepath.Join(out, runSupernetDir)
	if _, err := readSupernetSettings(snDir); err == nil {
		fmt.Fprintf(human, "1/4 supernet: finished before, in %s\n", snDir)
	} else {
		fmt.Fprintf(human, "1/4 supernet (%s)\n", snDir)
		ss := supernetSettings{baseSpec: s.baseSpec, Ranks: s.Ranks, Hyper: s.Supernet, CheckpointEvery: 100}
		if _, err := supernetStage(ctx, ss, snDir, fileExists(settingsFile(snDir, "supernet")), false, 0, human, log); err != nil {
			return nil, err
		}
	}
	var sn supernetResult
	if err := readJSON(filepath.Join(snDir, "supernet.json"), &sn); err != nil {
		return nil, err
	}
	res.SupernetValAcc, res.StageSeconds[0] = sn.ValAccuracy, sn.Seconds

	// 2. Search.
	var sr searchResult
	if err := readJSON(filepath.Join(snDir, finetune.SearchResultFile), &sr); err == nil {
		fmt.Fprintf(human, "2/4 search: finished before, in %s\n", snDir)
	} else {
		fmt.Fprintf(human, "2/4 search\n")
		cfg := s.Search
		cfg.Budget = s.Budget
		r, err := searchStage(ctx, snDir, searchSettings{Config: cfg}, nil, fileExists(settingsFile(snDir, "search")), false, human, log)
		if err != nil {
			return nil, err
		}
		sr = *r
	}
	res.SearchValAcc, res.Candidates, res.Budget, res.StageSeconds[1] = sr.ValAccuracy, sr.Candidates, sr.Budget, sr.Seconds
	res.Structure = filepath.Join(out, finetune.StructureFile)

	// 3. Retrain the structure, fresh and from the supernet's weights.
	var results [2]finetuneResult
	for i, how := range []string{"fresh", "inherited"} {
		dir := filepath.Join(out, runFreshDir)
		fs := finetuneSettings{baseSpec: s.baseSpec, Method: finetune.GLoRA, Structure: absPath(sr.Structure), Hyper: s.Retrain, CheckpointEvery: 100}
		if how == "inherited" {
			dir = filepath.Join(out, runInheritedDir)
			fs.Init = "supernet:" + absPath(snDir)
		}
		if err := readJSON(filepath.Join(dir, "finetune.json"), &results[i]); err == nil {
			fmt.Fprintf(human, "3/4 retrain %s: finished before, in %s\n", how, dir)
		} else {
			fmt.Fprintf(human, "3/4 retrain the structure, %s (%s)\n", how, dir)
			r, err := finetuneStage(ctx, fs, dir, fileExists(settingsFile(dir, "finetune")), false, 0, human, log)
			if err != nil {
				return nil, err
			}
			results[i] = *r
		}
		res.StageSeconds[2+i] = results[i].Seconds
	}
	res.FreshValAcc, res.InheritValAcc = results[0].ValAccuracy, results[1].ValAccuracy
	pick := 0 // fresh on a tie of accuracy and loss
	if b, a := results[1], results[0]; b.ValAccuracy > a.ValAccuracy || (b.ValAccuracy == a.ValAccuracy && b.ValLoss < a.ValLoss) {
		pick = 1
	}
	chosen := results[pick]
	res.Retrain = []string{"fresh", "inherited"}[pick]
	res.Method = "glora (searched structure, retrained " + res.Retrain + ")"
	res.ValAccuracy, res.TrainableParams, res.SupportParams, res.HeadParams = chosen.ValAccuracy, chosen.TrainableParams, chosen.SupportParams, chosen.HeadParams
	chosenDir := filepath.Join(out, []string{runFreshDir, runInheritedDir}[pick])

	// 4. Merge (done by the retraining: its merged/) and the test split, once.
	res.Adapter, res.Merged = filepath.Join(out, finetune.AdapterDir), filepath.Join(out, finetune.MergedDir)
	for _, c := range [][2]string{
		{filepath.Join(chosenDir, finetune.AdapterDir), res.Adapter},
		{filepath.Join(chosenDir, finetune.MergedDir), res.Merged},
	} {
		if err := copyDir(c[0], c[1]); err != nil {
			return nil, err
		}
	}
	for _, c := range [][2]string{
		{filepath.Join(snDir, finetune.StructureFile), res.Structure},
		{filepath.Join(snDir, "curves.png"), filepath.Join(out, "supernet-curves.png")},
		{filepath.Join(snDir, finetune.SearchPlotFile), filepath.Join(out, "search.png")},
		{filepath.Join(chosenDir, "curves.png"), filepath.Join(out, "retrain-curves.png")},
	} {
		if err := copyFile(c[0], c[1]); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(human, "4/4 test: the merged model of the %s retraining on the test split\n", res.Retrain)
	merged, _, err := vit.Load(res.Merged)
	if err != nil {
		return nil, err
	}
	test := p.testSplit("run")
	if test == nil || test.Len() == 0 {
		return nil, fmt.Errorf("--data %s has no test split to evaluate on", s.Data)
	}
	tm, err := train.Evaluate(merged, test, 256)
	if err != nil {
		return nil, err
	}
	res.TestAccuracy, res.TestLoss, res.NTest = tm.Accuracy, tm.Loss, tm.N
	if err := plot.WriteConfusionPNG(filepath.Join(out, "confusion.png"), plot.Confusion{Title: "test split: " + res.Method,
		Labels: p.classes, Counts: tm.Confusion}); err != nil {
		fmt.Fprintf(log, "warning: %v\n", err)
	}
	for _, sec := range res.StageSeconds {
		res.Seconds += sec
	}
	res.Report = filepath.Join(out, "report.md")
	if err := atomicfile.WriteBytes(res.Report, []byte(runReport(res, p, sn, sr, results, time.Since(t0)))); err != nil {
		return nil, err
	}
	if err := writeJSONAtomic(filepath.Join(out, "summary.json"), res); err != nil {
		return nil, err
	}
	fmt.Fprintf(human, "run done: %s, %d trainable parameters (%d support + %d head, budget %d): val accuracy %.4f, test accuracy %.4f (%d images); %.0fs of training and search; adapter in %s, merged model in %s, report in %s\n",
		res.Method, res.TrainableParams, res.SupportParams, res.HeadParams, res.Budget, res.ValAccuracy, res.TestAccuracy, res.NTest,
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

// copyDir copies a flat folder (an adapter or model folder) to dst,
// built aside and swapped in.
func copyDir(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	return atomicfile.WriteDir(dst, func(tmp string) error {
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				return err
			}
			if err := atomicfile.WriteBytes(filepath.Join(tmp, e.Name()), b); err != nil {
				return err
			}
		}
		return nil
	})
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(dst, b)
}

// runReport is report.md.
func runReport(r *runResult, p *prepared, sn supernetResult, sr searchResult, ft [2]finetuneResult, wall time.Duration) string {
	var b strings.Builder
	s := r.Settings
	fmt.Fprintf(&b, "# glora run\n\n")
	fmt.Fprintf(&b, "Base %s, data %s (--scheme %s --split-seed %d): %d train / %d validation images, %d classes (%s); test split: %d images, read once, at the end.\n\n",
		p.from, s.Data, p.scheme, s.SplitSeed, r.NTrain, r.NVal, len(p.classes), classList(p.classes), r.NTest)
	fmt.Fprintf(&b, "## Result\n\n| method | trainable params (support + head) | val accuracy | test accuracy |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %s | %d (%d + %d) | %.4f | %.4f |\n\n", r.Method, r.TrainableParams, r.SupportParams, r.HeadParams, r.ValAccuracy, r.TestAccuracy)
	fmt.Fprintf(&b, "Adapter: `%s`; merged model (the base's shape and speed): `%s`; structure: `%s`.\n\n", r.Adapter, r.Merged, r.Structure)
	fmt.Fprintf(&b, "## Stages\n\n| stage | what | seconds | validation accuracy |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| 1 supernet | ranks %v, %d epochs, batch %d, lr %g (min %g, warm-up %g epochs), wd %g, clip %g, seed %d; %d support + %d head parameters | %.0f | %.4f (lora rank %d on every layer) |\n",
		s.Ranks, s.Supernet.Epochs, s.Supernet.Batch, s.Supernet.LR, s.Supernet.MinLR, s.Supernet.WarmupEpochs, s.Supernet.WeightDecay, s.Supernet.ClipNorm, s.Seed,
		sn.SupportParam, sn.HeadParams, sn.Seconds, sn.ValAccuracy, s.Ranks[len(s.Ranks)-1])
	fmt.Fprintf(&b, "| 2 search | budget %d (%s), population %d, top %d, %d generations, %d mutations + %d crossovers (p %.2g); %d candidates scored with merged weights on the validation split | %.0f | %.4f (best: %s, %d params, generation %d) |\n",
		sr.Budget, sr.Settings.BudgetFrom, sr.Settings.Population, sr.Settings.TopK, sr.Settings.Generations, sr.Settings.Mutations, sr.Settings.Crossovers,
		sr.Settings.MutationProb, sr.Candidates, sr.Seconds, sr.ValAccuracy, sr.Hash, sr.Params, sr.Generation+1)
	for i, how := range []string{"fresh support tensors and head", "the supernet's weights and head (inherited)"} {
		f := ft[i]
		fmt.Fprintf(&b, "| 3 retrain, %s | %d epochs, batch %d, lr %g; best epoch %d | %.0f | %.4f |\n",
			how, f.Settings.Epochs, f.Settings.Batch, f.Settings.LR, f.BestEpoch, f.Seconds, f.ValAccuracy)
	}
	fmt.Fprintf(&b, "| 4 merge + test | the %s retraining, chosen on validation accuracy | | test %.4f (loss %.4f) |\n\n", r.Retrain, r.TestAccuracy, r.TestLoss)
	fmt.Fprintf(&b, "Training and search took %.0f s in all (this invocation: %.0f s wall).\n\n", r.Seconds, wall.Seconds())
	fmt.Fprintf(&b, "## Plots\n\n- `supernet-curves.png`: the supernet's loss and accuracy (validation with lora rank %d everywhere)\n- `search.png`: validation accuracy against parameters, by generation, the best highlighted\n- `retrain-curves.png`: the chosen retraining\n- `confusion.png`: the test split's confusion matrix\n",
		s.Ranks[len(s.Ranks)-1])
	return b.String()
}
