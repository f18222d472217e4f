package pipeline

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/glora/glora/finetune"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/models/vit"
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
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	n := t.Train.Len()
	stage := func(name string) finetune.StageOptions {
		dir := filepath.Join(o.Dir, name)
		return finetune.StageOptions{OutDir: dir, Seed: o.Seed, CheckpointEvery: o.CheckpointEvery, Resume: o.Resume && hasCheckpoint(dir)}
	}
	out := &SearchedOutcome{}

	// 1. The supernet.
	t0 := time.Now()
	v, err := o.Fresh()
	if err != nil {
		return nil, err
	}
	h := r.Hyper(SupernetRun, n)
	fmt.Fprintf(log, "1/3 supernet: lora ranks %v, %d epochs at lr %g; validation with lora rank %d on every layer\n",
		r.Search.Ranks, h.Epochs, h.LR, slices.Max(r.Search.Ranks))
	sn, err := finetune.TrainSupernet(ctx, v, t, finetune.Setup{Ranks: r.Search.Ranks, UndrawnMomentum: r.Search.UndrawnMomentum}, h, stage(SupernetStage))
	if err != nil {
		return nil, err
	}
	if sn.Stopped {
		return nil, fmt.Errorf("pipeline: the supernet stopped early")
	}
	out.Supernet, out.StageSeconds[0] = sn, time.Since(t0).Seconds()
	targets := sn.Model.Net.Targets()

	// 2. The search.
	t0 = time.Now()
	out.Budget = o.Budget
	if out.Budget <= 0 {
		out.Budget = finetune.LoRABudget(targets, r.Rank)
	}
	s := r.Search
	cfg := search.Config{Population: s.Population, TopK: s.TopK, Generations: s.Generations, Mutations: s.Mutations,
		Crossovers: s.Crossovers, MutationProb: s.MutationProb, Budget: out.Budget, Seed: o.Seed}
	var named map[string]string // structure key → name, for the logs
	if s.SeedNamed {
		cfg.Initial, named = NamedStructures(sn.Model.Net.Space(), targets, out.Budget)
	}
	fmt.Fprintf(log, "2/3 search: budget %d parameters, population %d, %d generations (%d named structures to start from), scored on validation\n",
		out.Budget, s.Population, s.Generations, len(cfg.Initial))
	sdir := filepath.Join(o.Dir, SearchStage)
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return nil, err
	}
	res, err := finetune.Search(ctx, sn.Model, t.Val, t.Pre, cfg, sdir, 256, t.Log)
	if err != nil {
		return nil, err
	}
	out.Search, out.StageSeconds[1] = res, time.Since(t0).Seconds()
	fmt.Fprintf(log, "search: %d candidates in %.0fs; best %s: val accuracy %.4f with the supernet's weights, %d parameters\n",
		len(res.Candidates), res.Seconds, nameOf(res.Best, named), res.Best.Accuracy, res.Best.Params)

	// 3. The finalists.
	t0 = time.Now()
	var init *glora.Adapter
	how := "fresh support tensors"
	if s.Inherit {
		if init, err = sn.Model.Adapter(t.BaseRef); err != nil {
			return nil, err
		}
		how = "the supernet's weights"
	}
	var entrants []finetune.Entrant
	add := func(name string, st glora.Structure) {
		out.FinalistNames = append(out.FinalistNames, name)
		entrants = append(entrants, finetune.Entrant{Name: name, Setup: finetune.Setup{Method: finetune.GLoRA, Structure: st, Init: init}})
	}
	lora, err := glora.Named(finetune.LoRA, targets, r.Rank, false)
	if err != nil {
		return nil, err
	}
	hasLoRA := false
	for _, c := range search.Best(res.Candidates, s.Finalists) {
		hasLoRA = hasLoRA || c.Structure.Key() == lora.Key()
		add(nameOf(c, named), c.Structure)
	}
	if s.LoRAFinalist && !hasLoRA && glora.Params(lora, targets) <= out.Budget && sn.Model.Net.Space().ValidateStructure(lora, targets) == nil {
		add(fmt.Sprintf("lora r%d (the baseline)", r.Rank), lora)
	}
	hr := r.Hyper(RetrainRun, n)
	fmt.Fprintf(log, "3/3 finalists: %d structures retrained from %s, %d epochs at lr %g, by successive halving (rungs %v) on validation\n",
		len(entrants), how, hr.Epochs, hr.LR, finetune.Rungs(len(entrants), hr.Epochs))
	fdir := filepath.Join(o.Dir, FinalistsStage)
	so := finetune.StageOptions{OutDir: fdir, Seed: o.Seed, CheckpointEvery: o.CheckpointEvery, Resume: o.Resume}
	rr, err := finetune.Rerank(ctx, o.Fresh, t, entrants, hr, so, log)
	if err != nil {
		return nil, err
	}
	out.Finalists, out.StageSeconds[2] = rr, time.Since(t0).Seconds()
	out.Trained, out.Dir, out.Structure = rr.Winner, rr.Dir, entrants[rr.Index].Setup.Structure
	fmt.Fprintf(log, "kept %s: val accuracy %.4f (epoch %d), %d support parameters\n", entrants[rr.Index].Name, rr.Winner.Val.Accuracy,
		rr.Winner.BestEpoch, rr.Winner.Support)

	// 4. The rank check.
	if o.RankCheck > 0 {
		t0 = time.Now()
		items := RankCheckItems(res.Candidates, sn.Model.Net.Space(), targets, out.Budget, o.RankCheck, o.Seed, named)
		fmt.Fprintf(log, "rank check: %d structures trained alone, %d epochs each\n", len(items), hr.Epochs)
		rs := stage(RankCheckStage)
		rs.Resume = o.Resume
		if out.RankCheck, err = finetune.CheckRanking(ctx, sn.Model, o.Fresh, t, items, hr, rs, log); err != nil {
			return nil, err
		}
		out.StageSeconds[3] = time.Since(t0).Seconds()
		fmt.Fprintf(log, "rank check: Kendall's tau %s (by shared-weight loss %s)\n", finetune.FormatTau(out.RankCheck.Tau), finetune.FormatTau(out.RankCheck.TauLoss))
	}
	return out, nil
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
	var items []finetune.RankItem
	seen := map[string]bool{}
	for i, c := range search.Best(cs, (n+1)/2) {
		seen[c.Structure.Key()] = true
		name := fmt.Sprintf("top %d", i+1)
		if nm := named[c.Structure.Key()]; nm != "" {
			name += " (" + nm + ")"
		}
		items = append(items, finetune.RankItem{Name: name, Structure: c.Structure})
	}
	rng := rand.New(rand.NewPCG(seed, 0x72616e6b)) // "rank"
	for i, tries := 1, 0; len(items) < n && tries < 100*n; tries++ {
		st := search.Random(rng, sp, targets, budget)
		if seen[st.Key()] {
			continue
		}
		seen[st.Key()] = true
		items = append(items, finetune.RankItem{Name: fmt.Sprintf("random %d", i), Structure: st})
		i++
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
