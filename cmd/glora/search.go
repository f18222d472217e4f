package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/glora/glora/tensor"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/glora/glora/finetune"
	"github.com/glora/glora/search"
)

// Default search size: see the README's table (chosen on validation).
var defaultSearch = search.Config{Population: 20, TopK: 5, Generations: 10, Mutations: 10, Crossovers: 10, MutationProb: 0.2}

// searchSettings is RUN_DIR/search.settings.json.
type searchSettings struct {
	search.Config
	BudgetFrom string `json:"budget_from"` // how the budget was chosen
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
	Settings    searchSettings `json:"settings"`
}

func runSearch(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("search", "search --run RUN_DIR [--budget PARAMS] [--population N --topk N --generations N --mutations N --crossovers N --mutation-prob P] [--seed N]", stderr)
	c := defaultSearch
	run := fs.String("run", "", "a finished glora supernet run folder (search writes search.jsonl, structure.json, searched/, search.png, search.json there)")
	fs.IntVar(&c.Budget, "budget", -1, "most support parameters a structure may read (default: LoRA rank 8's count over the supernet's layers)")
	fs.IntVar(&c.Population, "population", c.Population, "structures per generation")
	fs.IntVar(&c.TopK, "topk", c.TopK, "parents kept each generation")
	fs.IntVar(&c.Generations, "generations", c.Generations, "generations")
	fs.IntVar(&c.Mutations, "mutations", c.Mutations, "children by mutation per generation")
	fs.IntVar(&c.Crossovers, "crossovers", c.Crossovers, "children by crossover per generation")
	fs.Float64Var(&c.MutationProb, "mutation-prob", c.MutationProb, "chance each layer's each tensor is redrawn in a mutation")
	fs.Uint64Var(&c.Seed, "seed", 0, "seed of the search's draws")
	resume := fs.Bool("resume", false, "continue the search of --run (its search.jsonl is replayed: every candidate scored before is not scored again)")
	overwrite := fs.Bool("overwrite", false, "start the search of --run again (its search files are removed)")
	asJSON := fs.Bool("json", false, "print the summary as one JSON line on stdout; everything else goes to stderr")
	precision := precisionFlag(fs)
	if _, err := parseWithPrecision(fs, args, 0, precision, stderr); err != nil {
		return err
	}
	defer tensor.SetMatmulPrecision(tensor.F32)
	if *run == "" {
		return fmt.Errorf("--run is required (a glora supernet run folder)")
	}
	if err := checkSearchFlags(c); err != nil {
		return err
	}
	if c.Budget != -1 {
		if err := finetune.CheckBudget(c.Budget); err != nil {
			return fmt.Errorf("--budget: %w", err)
		}
	}
	explicit := explicitFlags(fs)
	human := stdout
	if *asJSON {
		human = stderr
	}
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := searchStage(ctx, *run, searchSettings{Config: c}, explicit, *resume, *overwrite, human, stderr)
	if errors.Is(err, search.ErrInterrupted) {
		return &exitError{code: interruptCode(ctx), err: fmt.Errorf("interrupted; every candidate scored so far is in %s: continue with glora search --resume --run %s",
			filepath.Join(*run, finetune.SearchLogFile), *run)}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		fmt.Fprintln(stdout, jsonLine(res))
	}
	return nil
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
	finetune.SearchResultFile, "search.settings.json"}

// searchStage searches the supernet run in run: every check (settings,
// resume, budget) before any candidate is scored.
func searchStage(ctx context.Context, run string, s searchSettings, explicit map[string]bool, resume, overwrite bool, human, log io.Writer) (*searchResult, error) {
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
		keys := map[string]string{"budget": "budget", "population": "population", "topk": "topk", "generations": "generations",
			"mutations": "mutations", "crossovers": "crossovers", "mutation-prob": "mutation_prob", "seed": "seed"}
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
	p, err := prepare(sn.baseSpec, log)
	if err != nil {
		return nil, fmt.Errorf("--run %s: %w", run, err)
	}
	m, err := finetune.LoadSupernet(p.v, finetune.SupernetDir(run), sn.Targets, sn.Exclude)
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
		len(m.Net.Targets()), s.Budget, s.BudgetFrom, lora8, s.Population, s.TopK, s.Generations, s.Mutations, s.Crossovers, p.task.Val.Len())
	o, err := finetune.Search(ctx, m, p.task.Val, p.task.Pre, s.Config, run, 256, log)
	if err != nil {
		return nil, err
	}
	b := o.Best
	res := &searchResult{Command: "search", Run: run, Precision: tensor.MatmulPrecision().String(), Hash: b.Hash, Params: b.Params, Budget: s.Budget, ValAccuracy: b.Accuracy, ValLoss: b.Loss,
		Generation: b.Generation, Candidates: len(o.Candidates), Evaluated: o.Evaluated, NVal: p.task.Val.Len(), Seconds: o.Seconds,
		Structure: filepath.Join(run, finetune.StructureFile), Adapter: filepath.Join(run, finetune.SearchedAdapter),
		Plot: filepath.Join(run, finetune.SearchPlotFile), Settings: s}
	if o.Seconds > 0 {
		res.PerMinute = 60 * float64(o.Evaluated) / o.Seconds
	}
	if err := writeJSONAtomic(filepath.Join(run, finetune.SearchResultFile), res); err != nil {
		return nil, err
	}
	fmt.Fprintf(human, "search done in %s: %d candidates (%d scored now, %.0f/min); best %s: val accuracy %.4f, loss %.4f, %d support parameters (budget %d), found in generation %d; %s, %s, %s\n",
		time.Duration(o.Seconds*float64(time.Second)).Round(time.Second), res.Candidates, res.Evaluated, res.PerMinute, b.Hash, b.Accuracy, b.Loss,
		b.Params, s.Budget, b.Generation+1, res.Structure, res.Adapter, res.Plot)
	return res, nil
}
