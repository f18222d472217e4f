package pipeline

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
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// Options say where and how a chain runs.
type Options struct {
	// Dir is the chain's folder: each stage runs in a sub-folder (see
	// Stage folders), with its checkpoints and outputs.
	Dir  string
	Seed uint64 // initialisation, data order, structure draws, the search
	// Resume continues the chain in Dir: finished stages are replayed from
	// their folders (no training), an interrupted one resumes.
	Resume bool
	// Fresh returns the base with a head for the task's classes, a new
	// model each call (finetune.FitHead on a loaded base).
	Fresh func() (*vit.Model, error)
	// Budget is the most support parameters the searched structure may
	// read (0: LoRA's at the recipe's rank over the supernet's layers).
	Budget int
	// RankCheck is how many structures the rank check retrains alone
	// (half the search's best, half random ones at the budget; 0: no
	// check). It costs that many standalone runs.
	RankCheck       int
	CheckpointEvery int       // steps between checkpoints (0: once an epoch)
	Log             io.Writer // a line per stage and finalist; nil: none
	// Precision is the arithmetic of every matrix product of the chain:
	// training, the search's scoring, validation (zero: tensor.F32;
	// tensor.BF16 as PyTorch's autocast). Test takes its own.
	Precision tensor.Precision
}

// Stage folders of SearchGLoRA in Options.Dir.
const (
	SupernetStage  = "supernet"   // the supernet's run; its supernet folder in supernet/supernet
	SearchStage    = "search"     // search.jsonl, structure.json, searched/, search.png
	FinalistsStage = "finalists"  // entrant-N: each finalist's standalone run (adapter/, merged/ for the winner)
	RankCheckStage = "rank-check" // rank-check.json, rank-check.png, item-N
)

// SearchedOutcome is a finished SearchGLoRA.
type SearchedOutcome struct {
	*finetune.Trained                   // the kept model: the winning finalist, at its best epoch
	Structure         glora.Structure   // its structure
	Budget            int               // the search's parameter budget
	Dir               string            // the winner's folder: adapter/ and merged/
	Supernet          *finetune.Trained // the supernet (its last epoch's validation with LoRA at the largest rank)
	Search            *finetune.SearchOutcome
	Finalists         *finetune.RerankResult
	FinalistNames     []string            // the entrants, in order
	RankCheck         *finetune.RankCheck // nil unless Options.RankCheck
	StageSeconds      [4]float64          // supernet, search, finalists, rank check
}

// SearchGLoRA is searched GLoRA on t under r, every choice on t's
// validation split:
//
//  1. the supernet (r.Search.Ranks, the SupernetRun schedule) trained on
//     the training split, one structure drawn per step;
//  2. the evolutionary search under the budget (LoRA's parameter count
//     at r.Rank by default), each candidate scored with the supernet's
//     weights merged, the first generation seeded with the named
//     structures that fit (r.Search.SeedNamed);
//  3. the search's r.Search.Finalists best structures retrained alone (the
//     RetrainRun schedule, from the supernet's weights with r.Search.Inherit)
//     by successive halving: the best on validation is kept;
//  4. optionally (o.RankCheck), the rank check: Kendall's τ between
//     shared-weight and standalone validation accuracy.
//
// Nothing here reads a test split.
func SearchGLoRA(ctx context.Context, t finetune.Task, r Recipe, o Options) (*SearchedOutcome, error) {
	if err := r.Validate([]string{Searched}); err != nil {
		return nil, err
	}
	if o.Fresh == nil {
		return nil, fmt.Errorf("pipeline: Options.Fresh is nil")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	c := &chain{ctx: ctx, t: t, r: r, o: o, out: &SearchedOutcome{}}
	for i, stage := range []func() error{c.supernet, c.search, c.finalists, c.rankCheck} {
		t0 := time.Now()
		if err := stage(); err != nil {
			return nil, err
		}
		c.out.StageSeconds[i] = time.Since(t0).Seconds()
	}
	return c.out, nil
}

// chain is one SearchGLoRA call: its stages fill out in order.
type chain struct {
	ctx   context.Context
	t     finetune.Task
	r     Recipe
	o     Options
	out   *SearchedOutcome
	named map[string]string // structure key → name of the named structures, for the logs
}

// stage is a stage's options in its folder, resumed when it holds a checkpoint.
func (c *chain) stage(name string) finetune.StageOptions {
	dir := filepath.Join(c.o.Dir, name)
	return finetune.StageOptions{OutDir: dir, Seed: c.o.Seed, CheckpointEvery: c.o.CheckpointEvery, Resume: c.o.Resume && hasCheckpoint(dir), Precision: c.o.Precision}
}

// supernet trains the supernet (stage 1).
func (c *chain) supernet() error {
	v, err := c.o.Fresh()
	if err != nil {
		return err
	}
	s := c.r.Search
	h := c.r.Hyper(SupernetRun, c.t.Train.Len())
	fmt.Fprintf(c.o.Log, "1/3 supernet: lora ranks %v, %s at lr %g%s; validation with lora rank %d on every layer\n",
		s.Ranks, nOf(h.Epochs, "epoch"), h.LR, c.r.EpochsNote(SupernetRun, c.t.Train.Len()), slices.Max(s.Ranks))
	sn, err := finetune.TrainSupernet(c.ctx, v, c.t, finetune.Setup{Ranks: s.Ranks, UndrawnMomentum: s.UndrawnMomentum, AnchorLoRA: s.AnchorLoRA}, h, c.stage(SupernetStage))
	if err != nil {
		return err
	}
	if sn.Stopped {
		return fmt.Errorf("pipeline: the supernet stopped early")
	}
	c.out.Supernet = sn
	return nil
}

// search runs the evolutionary search on validation (stage 2).
func (c *chain) search() error {
	sn, s := c.out.Supernet.Model, c.r.Search
	targets := sn.Net.Targets()
	if c.out.Budget = c.o.Budget; c.out.Budget <= 0 {
		c.out.Budget = finetune.LoRABudget(targets, c.r.Rank)
	}
	cfg := search.Config{Population: s.Population, TopK: s.TopK, Generations: s.Generations, Mutations: s.Mutations,
		Crossovers: s.Crossovers, MutationProb: s.MutationProb, Budget: c.out.Budget, Seed: c.o.Seed}
	if s.SeedNamed {
		cfg.Initial, c.named = NamedStructures(sn.Net.Space(), targets, c.out.Budget)
	}
	fmt.Fprintf(c.o.Log, "2/3 search: budget %d parameters, population %d, %d generations (%d named structures to start from), scored on validation\n",
		c.out.Budget, s.Population, s.Generations, len(cfg.Initial))
	dir := filepath.Join(c.o.Dir, SearchStage)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	res, err := finetune.Search(c.ctx, sn, c.t.Val, c.t.Pre, cfg, dir, finetune.EvalOptions{Batch: 256, Precision: c.o.Precision}, c.t.Log)
	if err != nil {
		return err
	}
	c.out.Search = res
	fmt.Fprintf(c.o.Log, "search: %d candidates in %.0fs; best %s: val accuracy %.4f with the supernet's weights, %d parameters\n",
		len(res.Candidates), res.Seconds, nameOf(res.Best, c.named), res.Best.Accuracy, res.Best.Params)
	return nil
}

// finalists retrains the search's best structures by successive halving
// and keeps the winner (stage 3).
func (c *chain) finalists() error {
	sn, s := c.out.Supernet.Model, c.r.Search
	targets := sn.Net.Targets()
	var init *glora.Adapter
	how := "fresh support tensors"
	if s.Inherit {
		var err error
		if init, err = sn.Adapter(c.t.BaseRef); err != nil {
			return err
		}
		how = "the supernet's weights"
	}
	var entrants []finetune.Entrant
	add := func(name string, st glora.Structure, init *glora.Adapter) {
		c.out.FinalistNames = append(c.out.FinalistNames, name)
		entrants = append(entrants, finetune.Entrant{Name: name, Setup: finetune.Setup{Method: finetune.GLoRA, Structure: st, Init: init}})
	}
	lora, err := glora.Named(finetune.LoRA, targets, c.r.Rank, false)
	if err != nil {
		return err
	}
	hasLoRA := false
	for _, cand := range search.Best(c.out.Search.Candidates, s.Finalists) {
		hasLoRA = hasLoRA || cand.Structure.Key() == lora.Key()
		add(nameOf(cand, c.named), cand.Structure, init)
	}
	if s.LoRAFinalist && !hasLoRA && glora.Params(lora, targets) <= c.out.Budget && sn.Net.Space().ValidateStructure(lora, targets) == nil {
		loraInit := init
		if s.LoRAFresh {
			loraInit = nil
		}
		add(fmt.Sprintf("lora r%d (the baseline)", c.r.Rank), lora, loraInit)
	}
	h := c.r.Hyper(RetrainRun, c.t.Train.Len())
	fmt.Fprintf(c.o.Log, "3/3 finalists: %d structures retrained from %s, %s at lr %g%s, by successive halving (rungs %v) on validation\n",
		len(entrants), how, nOf(h.Epochs, "epoch"), h.LR, c.r.EpochsNote(RetrainRun, c.t.Train.Len()), finetune.Rungs(len(entrants), h.Epochs))
	so := finetune.StageOptions{OutDir: filepath.Join(c.o.Dir, FinalistsStage), Seed: c.o.Seed, CheckpointEvery: c.o.CheckpointEvery, Resume: c.o.Resume, Precision: c.o.Precision}
	rr, err := finetune.Rerank(c.ctx, c.o.Fresh, c.t, entrants, h, so, c.o.Log)
	if err != nil {
		return err
	}
	c.out.Finalists = rr
	c.out.Trained, c.out.Dir, c.out.Structure = rr.Winner, rr.Dir, entrants[rr.Index].Setup.Structure
	fmt.Fprintf(c.o.Log, "kept %s: val accuracy %.4f (epoch %d), %d support parameters\n", entrants[rr.Index].Name, rr.Winner.Val.Accuracy,
		rr.Winner.BestEpoch, rr.Winner.Support)
	return nil
}

// rankCheck measures the supernet's ranking when asked (stage 4).
func (c *chain) rankCheck() error {
	if c.o.RankCheck <= 0 {
		return nil
	}
	so := c.stage(RankCheckStage)
	so.Resume = c.o.Resume
	rc, err := RankCheck(c.ctx, c.out.Supernet.Model, c.o.Fresh, c.t, c.r, c.out.Search.Candidates, c.out.Budget, c.o.RankCheck, c.named, so, c.o.Log)
	c.out.RankCheck = rc
	return err
}

// RankCheck measures how well the supernet sn ranks structures: n of
// them (half the search's best candidates, half random ones at the
// budget: RankCheckItems, seeded by so.Seed) retrained alone on t under
// r's retraining schedule in so.OutDir, and Kendall's tau between their
// shared-weight and standalone validation accuracy (finetune.CheckRanking).
// named names the named structures among them in the log.
func RankCheck(ctx context.Context, sn *finetune.Model, fresh func() (*vit.Model, error), t finetune.Task, r Recipe, cands []search.Candidate,
	budget, n int, named map[string]string, so finetune.StageOptions, log io.Writer) (*finetune.RankCheck, error) {
	h := r.Hyper(RetrainRun, t.Train.Len())
	items := RankCheckItems(cands, sn.Net.Space(), sn.Net.Targets(), budget, n, so.Seed, named)
	fmt.Fprintf(log, "rank check: %d structures (half the search's best, half random) trained alone, %s each at lr %g\n", len(items), nOf(h.Epochs, "epoch"), h.LR)
	rc, err := finetune.CheckRanking(ctx, sn, fresh, t, items, h, so, log)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "rank check: Kendall's tau %s between shared-weight and standalone validation accuracy (by shared-weight loss %s); %s\n",
		finetune.FormatTau(rc.Tau), finetune.FormatTau(rc.TauLoss), filepath.Join(so.OutDir, finetune.RankCheckPlot))
	return rc, nil
}

// NamedStructures are the named structures (lora, glora-fixed, ssf, ia3,
// bitfit at each of sp's ranks) that sp holds and that read at most
// budget parameters, with their names by structure key.
func NamedStructures(sp glora.Space, targets []glora.Target, budget int) ([]glora.Structure, map[string]string) {
	var out []glora.Structure
	names := map[string]string{}
	for _, name := range []string{finetune.LoRA, finetune.GLoRAFixed, finetune.SSF, finetune.IA3, finetune.BitFit} {
		for _, rk := range sp.Ranks {
			st, err := glora.Named(name, targets, rk, sp.AddBias)
			if err != nil || glora.Params(st, targets) > budget || sp.ValidateStructure(st, targets) != nil {
				continue
			}
			k := st.Key()
			if _, dup := names[k]; dup {
				continue // the vector methods read no rank
			}
			if name == finetune.LoRA || name == finetune.GLoRAFixed {
				names[k] = fmt.Sprintf("%s r%d", name, rk)
			} else {
				names[k] = name
			}
			out = append(out, st)
		}
	}
	return out, names
}

// RankCheckItems are the structures of a rank check of n: the search's
// ⌈n/2⌉ best and random structures at the budget (seeded) for the rest.
func RankCheckItems(cs []search.Candidate, sp glora.Space, targets []glora.Target, budget, n int, seed uint64, named map[string]string) []finetune.RankItem {
	names, sts := search.RankCheckSet(cs, sp, targets, budget, n, seed, nil)
	items := make([]finetune.RankItem, len(sts))
	for i, st := range sts {
		if nm := named[st.Key()]; nm != "" && strings.HasPrefix(names[i], "top ") {
			names[i] += " (" + nm + ")"
		}
		items[i] = finetune.RankItem{Name: names[i], Structure: st}
	}
	return items
}

func nameOf(c search.Candidate, named map[string]string) string {
	if nm := named[c.Structure.Key()]; nm != "" {
		return nm
	}
	return c.Hash
}

func hasCheckpoint(dir string) bool {
	_, err := os.Stat(train.StateFile(dir))
	return err == nil
}
