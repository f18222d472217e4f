package lmtrain

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/safetensors"
)

// SearchOptions configure SearchGLoRA: searched GLoRA on a decoder.
type SearchOptions struct {
	FinetuneOptions         // the retraining of the structure found (Steps, LR, …; Method is ignored)
	Ranks           []int   // the supernet's lora ranks (default 4, 8)
	SupernetSteps   int     // the supernet's optimiser steps (default 2 × Steps)
	SupernetLR      float64 // its peak learning rate (default LR)
	Search          search.Config
	// SearchTokens are the validation tokens each candidate is scored on
	// (default 20,000).
	SearchTokens int
	// Finalists > 1: the search's best Finalists structures each train a
	// quarter of Steps from the supernet's weights, and the one with the
	// lowest validation loss is retrained; 0 or 1 retrains the search's
	// first.
	Finalists int
	// Fresh retrains the structure found (and trains the finalists) from
	// the support tensors' initial values (the adapter's own
	// initialisation, every path zero at the start) instead of the
	// supernet's weights.
	Fresh bool
	// NamedFinalists adds the named structures that seeded the search (lora,
	// glora-fixed, … at the budget) to the finalists, so that the short
	// runs, not the supernet's weights, judge them against the search's
	// best (SearchGLoRA only; Finalists then counts the search's own).
	NamedFinalists bool
	// RankCheck ≥ 2 measures how well the supernet ranks structures after
	// the search: that many structures (the search's best half, the rest
	// random at the budget) each trained alone for RankSteps (default a
	// quarter of Steps) from the adapter's initialisation; Kendall's τ
	// between their shared-weight and standalone validation losses is in
	// SearchResult.RankCheck (SearchGLoRA only).
	RankCheck, RankSteps int
}

// Found is what a search found: the structure, the support parameters it
// reads, the budget, and how many candidates were scored.
type Found struct {
	Structure  glora.Structure `json:"structure"`
	Params     int             `json:"support_params"`
	Budget     int             `json:"budget"`
	Candidates int             `json:"candidates"`
}

// SearchResult is what SearchGLoRA found and how the retraining went.
type SearchResult struct {
	Found
	SearchPPL    float64    `json:"search_val_ppl"` // the structure's, with the supernet's weights
	Supernet     Summary    `json:"supernet,omitzero"`
	Retrain      Summary    `json:"retrain,omitzero"`
	StageSeconds [3]float64 `json:"stage_seconds"` // supernet, search (finalists included), retraining
	// FinalistLoss is each finalist's best validation loss after its short
	// run, in the search's order (nil without finalists); Chosen indexes it.
	FinalistLoss []float64 `json:"finalist_val_loss,omitempty"`
	Chosen       int       `json:"finalist_chosen"`
	// RankCheck is the supernet's ranking measured (SearchOptions.RankCheck).
	RankCheck *RankCheck `json:"rank_check,omitempty"`
}

// SearchGLoRA is GLoRA's chain on a decoder, every choice on validation:
//
//  1. a supernet over the decoder's projections (the base frozen; ranks
//     Ranks; each step draws one structure per layer, and the support
//     tensors it does not read get no update that step) trained on the
//     stream for SupernetSteps;
//  2. an evolutionary search (Search; budget default: LoRA at the largest
//     rank on the same layers; the first generation seeded with the named
//     structures that fit) scoring each candidate by its validation
//     perplexity with the supernet's weights (search.Score.Accuracy holds
//     1/perplexity, the higher the better; Loss the loss);
//  3. the best structure retrained from the supernet's weights (only the
//     tensors it reads) for Steps, the best step by validation loss kept
//     and saved as FinetuneOptions says (OutDir/best: merged + adapter).
//
// With OutDir set, the supernet's run lives in OutDir/supernet and the
// retraining's in OutDir; with Resume, a chain that stopped (Ctrl-C, a
// crash) continues: the supernet and the retraining from their
// checkpoints, the search and the finalists run again (they are
// deterministic, so they choose the same structure). finetune-lm's defaults add Finalists 3,
// NamedFinalists and Fresh (chosen on validation: docs/DESIGN.md §8).
func SearchGLoRA(m *llama.Model, ck llama.Checkpoint, trainTok, valTok []int32, so SearchOptions) (SearchResult, *Tuned, error) {
	sn, err := TrainSupernet(m, ck, trainTok, valTok, so)
	if err != nil {
		return SearchResult{}, nil, err
	}
	res, err := sn.Search(m, ck, trainTok, valTok, so)
	if err != nil {
		return SearchResult{}, nil, err
	}
	tuned, err := sn.Retrain(m, ck, trainTok, valTok, so, &res)
	if err != nil {
		return SearchResult{}, nil, err
	}
	return res, tuned, nil
}

// Supernet is a decoder's GLoRA supernet between the chain's stages: the
// wrapped layers, their space, the lora structure it is validated with,
// and its support tensors at the start (the adapter's initialisation) and
// after training.
type Supernet struct {
	Net              *glora.Supernet
	Space            glora.Space
	LoRA             glora.Structure
	initial, trained weights
	Summary          Summary // the supernet's run (TrainSupernet; empty when loaded)
	Seconds          float64
}

// TrainSupernet is SearchGLoRA's first stage: the supernet attached to m
// (frozen) and trained on the stream for SupernetSteps, its run (and the
// last step's checkpoint, which LoadSupernet reads) in OutDir/supernet.
func TrainSupernet(m *llama.Model, ck llama.Checkpoint, trainTok, valTok []int32, so SearchOptions) (*Supernet, error) {
	s, sn, err := newSupernet(m, so)
	if err != nil {
		return nil, err
	}
	s.logStart(sn)
	t0 := time.Now()
	sn.SaveBest = func(string) error { return nil } // the supernet's last step is what the search reads
	if s.Summary, err = Train(m, ck, trainTok, valTok, sn); err != nil {
		return nil, fmt.Errorf("lmtrain: supernet: %w", err)
	}
	s.Seconds = time.Since(t0).Seconds()
	s.trained = snapshot(s.Net)
	return s, nil
}

// LoadSupernet attaches the supernet so describes to m (frozen), as
// TrainSupernet did, and reads its trained support tensors from the
// checkpoint of the supernet run in dir (TrainSupernet's OutDir/supernet).
func LoadSupernet(m *llama.Model, so SearchOptions, dir string) (*Supernet, error) {
	s, _, err := newSupernet(m, so)
	if err != nil {
		return nil, err
	}
	net := s.Net
	path := filepath.Join(dir, checkpointDir, extraFile)
	saved, _, err := safetensors.ReadFile(path)
	if err != nil {
		net.Detach()
		return nil, fmt.Errorf("lmtrain: supernet: %w", err)
	}
	// every tensor of these settings' supernet, of its shape, and no other
	if err := net.Store().Load(saved, false); err != nil {
		net.Detach()
		return nil, fmt.Errorf("lmtrain: supernet: %s: %w (another supernet's checkpoint?)", path, err)
	}
	s.trained = snapshot(net)
	return s, nil
}

// Search is SearchGLoRA's second stage: the evolutionary search over the
// trained supernet, the rank check (so.RankCheck) and the finalists; the
// structure chosen is in the result's Found. The supernet is left with
// its trained weights.
func (s *Supernet) Search(m *llama.Model, ck llama.Checkpoint, trainTok, valTok []int32, so SearchOptions) (SearchResult, error) {
	o := so.Options
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	net, trained := s.Net, s.trained
	res := SearchResult{Supernet: s.Summary}
	res.StageSeconds[0] = s.Seconds
	tokens := so.SearchTokens
	if tokens == 0 {
		tokens = 20_000
	}
	t1 := time.Now()
	trained.restore()
	sr, err := searchStage(net, s.Space, so, s.LoRA, func(glora.Structure) (search.Score, error) {
		ev, err := Evaluate(m, valTok, o.SeqLen, o.Batch, tokens, o.Precision)
		if err != nil {
			return search.Score{}, err
		}
		return search.Score{Accuracy: 1 / ev.PPL, Loss: ev.Loss}, nil
	})
	if err != nil {
		return SearchResult{}, err
	}
	best, all := sr.best, sr.all
	res.Budget, res.Candidates = sr.budget, sr.total
	fmt.Fprintf(log, "search: %d candidates; best %d support parameters (budget %d), validation perplexity %.2f with the supernet's weights\n",
		res.Candidates, glora.Params(best.Structure, net.Targets()), res.Budget, 1/best.Accuracy)
	if so.RankCheck >= 2 {
		steps := so.RankSteps
		if steps <= 0 {
			steps = max(1, o.Steps/4)
		}
		if res.RankCheck, err = s.rankCheck(m, ck, sr, so.RankCheck, steps, tokens, trainTok, valTok, o); err != nil {
			return SearchResult{}, err
		}
		if tau := res.RankCheck.Tau; tau != nil {
			fmt.Fprintf(log, "rank check: Kendall's tau %.2f over %d structures\n", *tau, len(res.RankCheck.Items))
		}
	}
	fin := search.Best(all, so.Finalists)
	if so.NamedFinalists {
		fin = withNamed(fin, all, sr.named)
	}
	if len(fin) > 1 {
		short := o
		short.OutDir, short.Steps, short.StopAfter, short.Resume = "", max(1, o.Steps/4), 0, false
		short.EvalEvery, short.WarmupSteps = short.Steps, min(o.WarmupSteps, short.Steps/10)
		short.SaveBest, short.SaveExtra = nil, nil
		bestLoss := 0.0
		for i, c := range fin {
			if err := s.fix(c.Structure, so.Fresh); err != nil {
				return SearchResult{}, err
			}
			short.Extra = net.Trainable()
			sum, err := Train(m, ck, trainTok, valTok, short)
			if err != nil {
				return SearchResult{}, fmt.Errorf("lmtrain: finalist %d: %w", i+1, err)
			}
			res.FinalistLoss = append(res.FinalistLoss, sum.BestValLoss)
			name := "the search's"
			if n, ok := sr.names[c.Structure.Key()]; ok {
				name = n
			}
			fmt.Fprintf(log, "finalist %d (%s, %d support parameters): validation loss %.4f after %d steps\n",
				i+1, name, glora.Params(c.Structure, net.Targets()), sum.BestValLoss, short.Steps)
			if i == 0 || sum.BestValLoss < bestLoss {
				bestLoss, best, res.Chosen = sum.BestValLoss, c, i
			}
		}
	}
	trained.restore() // also without finalists: the supernet's gradient buffers go
	res.Structure = best.Structure
	res.Params, res.SearchPPL = glora.Params(best.Structure, net.Targets()), 1/best.Accuracy
	res.StageSeconds[1] = time.Since(t1).Seconds()
	if res.RankCheck != nil { // a diagnostic, not part of the method's cost
		res.StageSeconds[1] -= res.RankCheck.Seconds
	}
	return res, nil
}

// Retrain is SearchGLoRA's last stage: res.Structure trained for Steps
// from the supernet's weights (so.Fresh: from the adapter's
// initialisation), the best step by validation loss saved as
// FinetuneOptions says (OutDir/best: merged + adapter); res gets the run.
func (s *Supernet) Retrain(m *llama.Model, ck llama.Checkpoint, trainTok, valTok []int32, so SearchOptions, res *SearchResult) (*Tuned, error) {
	o := so.Options
	t2 := time.Now()
	if err := s.fix(res.Structure, so.Fresh); err != nil {
		return nil, err
	}
	tuned := &Tuned{Model: m, Net: s.Net, Method: "glora"}
	ro := o
	ro.Resume = o.Resume && o.OutDir != "" && hasCheckpoint(o.OutDir) // a resumed chain continues its retraining
	ro.Extra = tuned.extra()
	extra := ro.SaveExtra
	ro.SaveBest = func(dir string) error { return tuned.Save(dir, ck, so.Base, extra) }
	var err error
	if res.Retrain, err = Train(m, ck, trainTok, valTok, ro); err != nil {
		return nil, fmt.Errorf("lmtrain: retraining: %w", err)
	}
	res.StageSeconds[2] = time.Since(t2).Seconds()
	return tuned, nil
}

// searchStage is the evolutionary search of SearchGLoRA and
// SearchClassify: so.Search (budget default: the lora structure's
// parameters; the first generation seeded with the named structures that
// fit), each candidate merged into the supernet and scored by score. It
// returns the best candidate, every candidate scored, the budget and the
// candidates' count.
func searchStage(net *glora.Supernet, space glora.Space, so SearchOptions, lora glora.Structure,
	score func(glora.Structure) (search.Score, error)) (searched, error) {
	o := so.Options
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	cfg := so.Search
	if cfg.Population == 0 {
		cfg = search.Defaults()
	}
	if cfg.Budget == 0 {
		cfg.Budget = glora.Params(lora, net.Targets())
	}
	cfg.Seed = o.Seed
	var names map[string]string // structure key → name, of the named structures
	if cfg.Initial == nil {
		cfg.Initial, names = pipeline.NamedStructures(space, net.Targets(), cfg.Budget)
	}
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	n := 0
	eval := func(ctx context.Context, st glora.Structure) (search.Score, error) {
		if _, err := net.MergeStructure(st); err != nil {
			return search.Score{}, err
		}
		defer net.Unmerge()
		sc, err := score(st)
		if err != nil {
			return search.Score{}, err
		}
		n++
		if n%10 == 0 {
			fmt.Fprintf(log, "search: %d candidates scored\n", n)
		}
		return sc, nil
	}
	var all []search.Candidate
	record := cfg.Record
	cfg.Record = func(c search.Candidate) error {
		all = append(all, c)
		if record != nil {
			return record(c)
		}
		return nil
	}
	sr, err := search.Run(ctx, cfg, space, net.Targets(), eval)
	if err != nil {
		return searched{}, fmt.Errorf("lmtrain: search: %w", err)
	}
	return searched{best: sr.Best, all: all, budget: cfg.Budget, total: sr.Total, named: cfg.Initial, names: names}, nil
}

// searched is what searchStage found.
type searched struct {
	best          search.Candidate
	all           []search.Candidate // every candidate scored, in order
	budget, total int
	named         []glora.Structure // the structures that seeded the first generation
	names         map[string]string // their names by structure key
}

// newSupernet freezes m and wraps its selected projections in a GLoRA
// supernet of so.Ranks (default 4, 8; C, D, E on the bias-less
// projections with AddBias), its initial support tensors kept; its LoRA is
// the lora structure at the largest rank (the budget's default, and the
// structure the supernet is validated with). It also returns the
// supernet's run options: SupernetSteps (default 2 × Steps) at SupernetLR
// (default LR), five validations, one structure drawn per layer at each
// step, OutDir/supernet.
func newSupernet(m *llama.Model, so SearchOptions) (*Supernet, Options, error) {
	o := so.Options
	ranks := so.Ranks
	if len(ranks) == 0 {
		ranks = []int{4, 8}
	}
	space := glora.Space{Ranks: ranks, AddBias: so.AddBias}
	m.Store.SetTrainable(func(string, *ag.Var) bool { return false })
	net, err := glora.Attach(m, glora.Options{Targets: so.Targets, Exclude: so.Exclude, Space: space, Seed: o.Seed})
	if err != nil {
		return nil, Options{}, fmt.Errorf("lmtrain: %w", err)
	}
	lora, err := glora.Named("lora", net.Targets(), space.MaxRank(), false)
	if err != nil {
		net.Detach()
		return nil, Options{}, err
	}
	sn := o
	sn.Steps = so.SupernetSteps
	if sn.Steps == 0 {
		sn.Steps = 2 * o.Steps
	}
	if so.SupernetLR > 0 {
		sn.LR = so.SupernetLR
	}
	sn.MinLR = min(sn.MinLR, sn.LR)
	sn.WarmupSteps = min(sn.WarmupSteps, sn.Steps/10)
	sn.EvalEvery = max(1, sn.Steps/5)
	sn.Extra = net.Store().Params()
	sn.Hook = (&finetune.Model{Net: net}).SampleHook()
	sn.BeforeEval = func() error { return net.SetStructure(lora) }
	sn.StopAfter, sn.Resume = 0, false
	if o.OutDir != "" {
		sn.OutDir = o.OutDir + "/supernet"
		sn.Resume = o.Resume && hasCheckpoint(sn.OutDir) // a resumed chain continues (or reuses) its supernet
	}
	return &Supernet{Net: net, Space: space, LoRA: lora, initial: snapshot(net)}, sn, nil
}

// logStart says what the supernet's run of sn will train.
func (s *Supernet) logStart(sn Options) {
	if sn.Log != nil {
		fmt.Fprintf(sn.Log, "supernet: ranks %v over %d projections, %d steps\n", s.Space.Ranks, len(s.Net.Targets()), sn.Steps)
	}
}

// fix sets st on the supernet, with exactly the support tensors it reads
// trainable, starting from the trained weights or, fresh, from the
// initial ones (either way without gradient buffers: see weights.restore).
func (s *Supernet) fix(st glora.Structure, fresh bool) error {
	s.trained.restore()
	if fresh {
		s.initial.restore()
	}
	return s.Net.TrainStructure(st)
}

// ClassifySearchResult is what SearchClassify found and how its runs went.
type ClassifySearchResult struct {
	Found
	SearchAcc    float64         `json:"search_val_accuracy"` // the structure's, with the supernet's weights
	Supernet     ClassifySummary `json:"supernet"`
	Retrain      ClassifySummary `json:"retrain"`
	StageSeconds [3]float64      `json:"stage_seconds"` // supernet, search, retraining
}

// SearchClassify is GLoRA's chain for Classify's task, every choice on
// validation:
//
//  1. a supernet over the decoder's projections (as SearchGLoRA's) with a
//     fresh classification head, trained on the classification loss for
//     SupernetSteps, ending with its last step's weights;
//  2. the evolutionary search (as SearchGLoRA's) scoring each candidate by
//     its validation accuracy with the supernet's weights and head (the
//     validation loss breaks ties);
//  3. the best structure retrained from the supernet's weights (only the
//     tensors it reads) and head for Steps, the step of best validation
//     accuracy kept.
//
// SearchTokens and Finalists are not used; OutDir and Resume neither.
func SearchClassify(m *llama.Model, classes int, trainSet, val Labelled, so SearchOptions) (ClassifySearchResult, *llama.Classifier, *Tuned, error) {
	o := so.Options
	if err := checkClassify(classes, trainSet, val, o); err != nil {
		return ClassifySearchResult{}, nil, nil, err
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	so.OutDir = ""
	s, sn, err := newSupernet(m, so)
	if err != nil {
		return ClassifySearchResult{}, nil, nil, err
	}
	net := s.Net
	c, err := newHead(m, classes, o.Seed, so.Head)
	if err != nil {
		return ClassifySearchResult{}, nil, nil, err
	}
	var res ClassifySearchResult
	s.logStart(sn)

	// 1. supernet, head included
	t0 := time.Now()
	c.Extra = net.Store().Params()
	if res.Supernet, err = fitClassifier(c, trainSet, val, sn, false); err != nil {
		return ClassifySearchResult{}, nil, nil, fmt.Errorf("lmtrain: supernet: %w", err)
	}
	res.StageSeconds[0] = time.Since(t0).Seconds()
	s.trained = snapshot(net)

	// 2. search
	t1 := time.Now()
	sr, err := searchStage(net, s.Space, so, s.LoRA, func(glora.Structure) (search.Score, error) {
		acc, loss, err := Accuracy(c, val, o.Batch, o.Precision)
		return search.Score{Accuracy: acc, Loss: loss}, err
	})
	if err != nil {
		return ClassifySearchResult{}, nil, nil, err
	}
	res.Structure, res.Budget, res.Candidates = sr.best.Structure, sr.budget, sr.total
	res.Params, res.SearchAcc = glora.Params(res.Structure, net.Targets()), sr.best.Accuracy
	fmt.Fprintf(log, "search: %d candidates; best %d support parameters (budget %d), validation accuracy %.4f with the supernet's weights\n",
		res.Candidates, res.Params, res.Budget, res.SearchAcc)
	res.StageSeconds[1] = time.Since(t1).Seconds()

	// 3. retraining from the supernet's weights and head (Fresh: from the
	// support tensors' initial values and the supernet's head)
	t2 := time.Now()
	if err := s.fix(res.Structure, so.Fresh); err != nil {
		return ClassifySearchResult{}, nil, nil, err
	}
	tuned := &Tuned{Model: m, Net: net, Method: "glora"}
	c.Extra = tuned.extra()
	if res.Retrain, err = fitClassifier(c, trainSet, val, o, true); err != nil {
		return ClassifySearchResult{}, nil, nil, fmt.Errorf("lmtrain: retraining: %w", err)
	}
	res.StageSeconds[2] = time.Since(t2).Seconds()
	return res, c, tuned, nil
}

// weights are a supernet's support tensors' values at one moment.
type weights map[*ag.Var][]float32

// snapshot copies net's support tensors.
func snapshot(net *glora.Supernet) weights {
	w := weights{}
	for _, p := range net.Store().Params() {
		w[p] = append([]float32(nil), p.Value.Data...)
	}
	return w
}

// restore puts the values back and drops the tensors' gradient buffers (a
// backward pass that finds no buffer writes a fresh one, which may round
// differently from adding into a zeroed one: every run from a snapshot
// starts alike).
func (w weights) restore() {
	for p, v := range w {
		copy(p.Value.Data, v)
		p.Grad = nil
	}
}

// withNamed is fin followed by the candidates of all whose structures are
// named ones not already in fin, in named's order; a named structure that
// reads nothing (bitfit on bias-less layers) is left out.
func withNamed(fin, all []search.Candidate, named []glora.Structure) []search.Candidate {
	seen := map[string]bool{}
	for _, c := range fin {
		seen[c.Structure.Key()] = true
	}
	byKey := map[string]search.Candidate{}
	for _, c := range all {
		byKey[c.Structure.Key()] = c
	}
	out := slices.Clone(fin)
	for _, st := range named {
		k := st.Key()
		if c, ok := byKey[k]; ok && !seen[k] && c.Params > 0 {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out
}

// hasCheckpoint tells whether a run in outDir left a checkpoint to resume.
func hasCheckpoint(outDir string) bool {
	_, err := os.Stat(StateFile(outDir))
	return err == nil
}
