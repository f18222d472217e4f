package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/glora/glora/finetune"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
)

// searchSettings is RUN_DIR/search.settings.json.
type searchSettings struct {
	Budget       int     `json:"budget" flag:"budget" help:"most support parameters a structure may read; -1: LoRA rank 8's count over the supernet's layers"`
	Recipe       string  `json:"recipe" flag:"recipe" help:"{recipe}"` // the named recipe the search's defaults come from
	Population   int     `json:"population" flag:"population" help:"structures per generation"`
	TopK         int     `json:"topk" flag:"topk" help:"parents kept each generation"`
	Generations  int     `json:"generations" flag:"generations" help:"generations"`
	Mutations    int     `json:"mutations" flag:"mutations" help:"children by mutation per generation"`
	Crossovers   int     `json:"crossovers" flag:"crossovers" help:"children by crossover per generation"`
	MutationProb float64 `json:"mutation_prob" flag:"mutation-prob" help:"chance each layer's each tensor is redrawn in a mutation"`
	Seed         uint64  `json:"seed" flag:"seed" help:"seed of the search's draws"`
	SeedNamed    bool    `json:"seed_named" flag:"seed-named" help:"start the first generation from the named structures (lora, glora-fixed, ssf, ia3, bitfit at the supernet's ranks) that fit the budget"`
	RankCheck    int     `json:"rank_check" flag:"rank-check" help:"after the search, retrain this many structures alone (half the search's best, half random at the budget; the recipe's retraining schedule) and report Kendall's tau between their shared-weight and standalone validation accuracy: how well the supernet ranks structures (rank-check.json, rank-check.png; costs that many runs)"`
	BudgetFrom   string  `json:"budget_from"` // how the budget was chosen
}

// newSearchSettings is the settings of recipe r's search.
func newSearchSettings(r pipeline.Recipe) searchSettings {
	s := r.Search
	return searchSettings{Budget: -1, Recipe: r.Name, Population: s.Population, TopK: s.TopK, Generations: s.Generations,
		Mutations: s.Mutations, Crossovers: s.Crossovers, MutationProb: s.MutationProb, SeedNamed: s.SeedNamed}
}

// config is the search's configuration (no Initial, Known or Record).
func (s searchSettings) config() search.Config {
	return search.Config{Population: s.Population, TopK: s.TopK, Generations: s.Generations, Mutations: s.Mutations,
		Crossovers: s.Crossovers, MutationProb: s.MutationProb, Budget: s.Budget, Seed: s.Seed}
}

// searchResult is RUN_DIR/search.json (and search's --json line).
type searchResult struct {
	Command     string         `json:"command"`
	Run         string         `json:"run"`
	Hash        string         `json:"hash"`
	Params      int            `json:"params"`
	Budget      int            `json:"budget"`
	ValAccuracy float64        `json:"val_accuracy"`
	ValLoss     float64        `json:"val_loss"`
	Generation  int            `json:"generation"`
	Candidates  int            `json:"candidates"`
	Evaluated   int            `json:"evaluated"` // in this invocation
	NVal        int            `json:"n_val"`
	Seconds     float64        `json:"seconds"`
	Precision   string         `json:"precision"` // of the matrix products that scored the candidates
	PerMinute   float64        `json:"candidates_per_minute"`
	Structure   string         `json:"structure_file"`
	Adapter     string         `json:"adapter"`
	Plot        string         `json:"plot"`
	RankCheck   *float64       `json:"rank_check_tau,omitempty"` // Kendall's τ of the rank check, when run
	Settings    searchSettings `json:"settings"`
}

func runSearch(args []string, stdout, stderr io.Writer) error {
	if lm, err := routeLM("search", args, stdout, stderr); lm {
		return err
	}
	fs := newFlags("search", "search --run RUN_DIR [--budget PARAMS] [--recipe NAME] [--rank-check N] [--population N --topk N --generations N --mutations N --crossovers N --mutation-prob P] [--seed N]", stderr)
	c := newSearchSettings(pipeline.MustNamed(pipeline.Default))
	keys := bindFlags(fs, &c)
	run := fs.String("run", "", "a finished glora supernet run folder (search writes search.jsonl, structure.json, searched/, search.png, search.json there)")
	resume := fs.Bool("resume", false, "continue the search of --run (its search.jsonl is replayed: every candidate scored before is not scored again)")
	overwrite := fs.Bool("overwrite", false, "start the search of --run again (its search files are removed)")
	asJSON := fs.Bool("json", false, "print the summary as one JSON line on stdout; everything else goes to stderr")
	precision := precisionFlag(fs)
	prec, err := parseWithPrecision(fs, args, 0, precision, stderr)
	if err != nil {
		return err
	}
	if *run == "" {
		return fmt.Errorf("--run is required (a glora supernet run folder)")
	}
	explicit := explicitFlags(fs)
	if !explicit["recipe"] {
		c.Recipe = supernetRecipe(*run, c.Recipe)
	}
	r, err := pipeline.Named(c.Recipe)
	if err != nil {
		return fmt.Errorf("--recipe: %w", err)
	}
	// Flags not given take the recipe's values (the help shows the default recipe's).
	c = withGiven(newSearchSettings(r), c, explicit, keys)
	if err := firstErr(checkSearchFlags(c.config()), checkInt("rank-check", c.RankCheck, 0, 1000)); err != nil {
		return err
	}
	if c.RankCheck == 1 {
		return fmt.Errorf("--rank-check 1: a rank needs at least 2 structures (0 turns the check off)")
	}
	if c.Budget != -1 {
		if err := finetune.CheckBudget(c.Budget); err != nil {
			return fmt.Errorf("--budget: %w", err)
		}
	}
	human := humanOut(*asJSON, stdout, stderr)
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := searchStage(ctx, *run, c, explicit, keys, *resume, *overwrite, prec, human, stderr)
	if errors.Is(err, search.ErrInterrupted) || errors.Is(err, context.Canceled) {
		return &exitError{code: interruptCode(ctx), err: fmt.Errorf("interrupted; every candidate scored so far is in %s: continue with glora search --resume --run %s%s",
			filepath.Join(*run, finetune.SearchLogFile), *run, precisionArg(prec))}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		fmt.Fprintln(stdout, jsonLine(res))
	}
	return nil
}

// supernetRecipe is the recipe the supernet run in dir was trained under
// (its settings file's), the search's default; def when it records none.
func supernetRecipe(dir, def string) string {
	var saved struct {
		Recipe string `json:"recipe"`
	}
	if readJSON(settingsFile(dir, "supernet"), &saved) == nil && saved.Recipe != "" {
		return saved.Recipe
	}
	return def
}

func checkSearchFlags(c search.Config) error {
	return firstErr(
		checkInt("population", c.Population, 1, 100_000),
		checkInt("topk", c.TopK, 1, c.Population),
		checkInt("generations", c.Generations, 1, 100_000),
		checkInt("mutations", c.Mutations, 0, 100_000),
		checkInt("crossovers", c.Crossovers, 0, 100_000),
		checkFloat("mutation-prob", c.MutationProb, 0, 1, true, false),
		checkInt("budget", c.Budget, -1, 1<<40),
	)
}

// searchFiles are what a search writes in its run folder.
var searchFiles = []string{finetune.SearchLogFile, finetune.StructureFile, finetune.SearchedAdapter, finetune.SearchPlotFile,
	finetune.SearchResultFile, "search.settings.json", pipeline.RankCheckStage}

// searchStage searches the supernet run in run: every check (settings,
// resume, budget) before any candidate is scored.
func searchStage(ctx context.Context, run string, s searchSettings, explicit map[string]bool, keys map[string]string, resume, overwrite bool, prec tensor.Precision, human, log io.Writer) (*searchResult, error) {
	sn, err := readSupernetSettings(run)
	if err != nil {
		return nil, err
	}
	if resume && overwrite {
		return nil, fmt.Errorf("--resume and --overwrite contradict each other: continue the search, or start it again")
	}
	saved, err := os.ReadFile(settingsFile(run, "search"))
	switch {
	case err == nil && resume:
		if explicit["budget"] && s.Budget == -1 {
			delete(explicit, "budget")
		}
		if s, err = mergeSaved(saved, s, explicit, keys, run); err != nil {
			return nil, err
		}
	case err == nil && !overwrite:
		return nil, fmt.Errorf("--run %s already holds a search (%s): continue it with --resume, start it again with --overwrite", run, finetune.SearchLogFile)
	case err != nil && resume:
		return nil, fmt.Errorf("--resume: no search to continue in %s; leave out --resume to start one", run)
	}
	p, err := prepare(sn.baseSpec, "search", log)
	if err != nil {
		return nil, fmt.Errorf("--run %s: %w", run, err)
	}
	if err := checkSameData(p, &sn.baseSpec, true); err != nil { // the supernet trained on the recorded data
		return nil, fmt.Errorf("--run %s: %w", run, err)
	}
	v, err := p.Fresh()
	if err != nil {
		return nil, err
	}
	m, err := finetune.LoadSupernet(v, finetune.SupernetDir(run), sn.Targets, sn.Exclude)
	if err != nil {
		return nil, fmt.Errorf("--run %s: %w", run, err)
	}
	lora8 := finetune.LoRABudget(m.Net.Targets(), 8)
	if s.Budget == -1 {
		s.Budget, s.BudgetFrom = lora8, "LoRA rank 8 over the supernet's layers (the default)"
	} else if s.BudgetFrom == "" {
		s.BudgetFrom = "--budget"
	}
	if err := finetune.CheckBudget(s.Budget); err != nil {
		return nil, fmt.Errorf("--budget: %w", err)
	}
	if overwrite && !resume {
		for _, f := range searchFiles {
			if err := os.RemoveAll(filepath.Join(run, f)); err != nil {
				return nil, err
			}
		}
	}
	if err := writeJSONAtomic(settingsFile(run, "search"), s); err != nil {
		return nil, err
	}
	fmt.Fprintf(human, "search: %d layers, budget %d support parameters (%s; LoRA rank 8: %d), population %d, top %d, %d generations, %d mutations + %d crossovers each, scored on %d validation images\n",
		len(m.Net.Targets()), s.Budget, s.BudgetFrom, lora8, s.Population, s.TopK, s.Generations, s.Mutations, s.Crossovers, p.Task.Val.Len())
	cfg := s.config()
	var named map[string]string
	if s.SeedNamed {
		cfg.Initial, named = pipeline.NamedStructures(m.Net.Space(), m.Net.Targets(), s.Budget)
		fmt.Fprintf(human, "search: the first generation starts from %d named structures that fit the budget\n", len(cfg.Initial))
	}
	o, err := finetune.Search(ctx, m, p.Task.Val, p.Task.Pre, cfg, run, finetune.EvalOptions{Batch: 256, Precision: prec}, log)
	if err != nil {
		return nil, err
	}
	var rc *finetune.RankCheck
	if s.RankCheck > 0 {
		r, err := pipeline.Named(s.Recipe)
		if err != nil {
			return nil, fmt.Errorf("--recipe: %w", err)
		}
		so := finetune.StageOptions{OutDir: filepath.Join(run, pipeline.RankCheckStage), Seed: s.Seed, Resume: resume, CheckpointEvery: 100, Precision: prec}
		if rc, err = pipeline.RankCheck(ctx, m, p.Fresh, p.Task, r, o.Candidates, s.Budget, s.RankCheck, named, so, human); err != nil {
			return nil, err
		}
	}
	b := o.Best
	res := &searchResult{Command: "search", Run: run, Precision: prec.String(), Hash: b.Hash, Params: b.Params, Budget: s.Budget, ValAccuracy: b.Accuracy, ValLoss: b.Loss,
		Generation: b.Generation, Candidates: len(o.Candidates), Evaluated: o.Evaluated, NVal: p.Task.Val.Len(), Seconds: o.Seconds,
		Structure: filepath.Join(run, finetune.StructureFile), Adapter: filepath.Join(run, finetune.SearchedAdapter),
		Plot: filepath.Join(run, finetune.SearchPlotFile), Settings: s}
	if o.Seconds > 0 {
		res.PerMinute = 60 * float64(o.Evaluated) / o.Seconds
	}
	if rc != nil {
		res.RankCheck = rc.Tau
	}
	if err := writeJSONAtomic(filepath.Join(run, finetune.SearchResultFile), res); err != nil {
		return nil, err
	}
	fmt.Fprintf(human, "search done in %s: %d candidates (%d scored now, %.0f/min); best %s: val accuracy %.4f, loss %.4f, %d support parameters (budget %d), found in generation %d; %s, %s, %s\n",
		time.Duration(o.Seconds*float64(time.Second)).Round(time.Second), res.Candidates, res.Evaluated, res.PerMinute, b.Hash, b.Accuracy, b.Loss,
		b.Params, s.Budget, b.Generation+1, res.Structure, res.Adapter, res.Plot)
	return res, nil
}
