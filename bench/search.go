package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/backbones"
	"github.com/glora/glora/data"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// SearchOptions configures `glora bench search`.
type SearchOptions struct {
	Model      string // "shipped" or a preset
	Val        int    // validation images
	Candidates int
	Batch      int
	Seed       uint64
	Precision  tensor.Precision // of the matrix products
}

// SearchResult is `glora bench search`'s report: candidates per
// minute for each way of scoring a candidate, over the same candidates.
type SearchResult struct {
	Bench      string  `json:"bench"`
	Model      string  `json:"model"`
	Threads    int     `json:"threads"`
	Kernel     string  `json:"kernel"`
	Val        int     `json:"val_images"`
	Candidates int     `json:"candidates"`
	Layers     int     `json:"layers"`
	Budget     int     `json:"budget"`
	Unmerged   float64 `json:"unmerged_per_min"`    // the fused GLoRA layers, nothing merged
	MergedFull float64 `json:"merged_full_per_min"` // every layer merged for every candidate
	Merged     float64 `json:"merged_per_min"`      // finetune's Evaluator: incremental merge
	Ratio      float64 `json:"merged_vs_unmerged"`
	Reused     float64 `json:"layers_reused"` // share of non-none layer merges reused
	MergeMs    float64 `json:"merge_ms_per_candidate"`
	FullMs     float64 `json:"full_merge_ms_per_candidate"`
	SameScores bool    `json:"same_scores"` // every mode scored every candidate alike
}

func (r SearchResult) String() string {
	return fmt.Sprintf("search           %d candidates on %d validation images, %s (%d GLoRA layers, budget %d), threads=%d kernel=%s\n"+
		"  unmerged (fused layers)        %7.1f candidates/min\n"+
		"  merged, every layer            %7.1f candidates/min  (merge %.1f ms/candidate)\n"+
		"  merged, incremental (search)   %7.1f candidates/min  (merge %.1f ms/candidate, %.0f%% of layer merges reused)\n"+
		"  merged / unmerged              %7.2f×   scores identical across modes: %v",
		r.Candidates, r.Val, r.Model, r.Layers, r.Budget, r.Threads, r.Kernel,
		r.Unmerged, r.MergedFull, r.FullMs, r.Merged, r.MergeMs, 100*r.Reused, r.Ratio, r.SameScores)
}

// benchModel is the bench's ViT: the shipped backbone ("shipped") or a
// fresh preset, with a 10-class head.
func benchModel(name string) (*vit.Model, string, error) {
	if name == "" || name == "shipped" {
		m, _, err := backbones.Default()
		return m, "the shipped backbone (" + backbones.DefaultName + ")", err
	}
	cfg, err := vit.Preset(name)
	if err != nil {
		return nil, "", err
	}
	cfg.NumClasses = 10
	m, err := vit.New(cfg, rand.New(rand.NewPCG(42, 42)))
	return m, "preset " + name, err
}

// randomImages is n random images of m's input with random labels.
func randomImages(c vit.Config, n int, seed uint64) (*data.Dataset, error) {
	rng := rand.New(rand.NewPCG(seed, 0x696d67))
	px := make([]uint8, n*c.InChans*c.ImageSize*c.ImageSize)
	for i := range px {
		px[i] = uint8(rng.IntN(256))
	}
	labels := make([]int, n)
	classes := make([]string, c.NumClasses)
	for i := range classes {
		classes[i] = fmt.Sprint(i)
	}
	for i := range labels {
		labels[i] = i % c.NumClasses
	}
	return data.FromArrays("random", classes, c.InChans, c.ImageSize, c.ImageSize, px, labels)
}

// searchCandidates is the order in which search.Run with the reference
// settings at LoRA's budget evaluates candidates (with scores drawn from
// each structure's hash in place of accuracy): the first n after the
// initial random population (the mutations and crossovers that make up 19
// of a reference search's 20 generations).
func searchCandidates(net *glora.Supernet, budget, n int, seed uint64) ([]glora.Structure, error) {
	cfg := search.Defaults()
	cfg.Budget, cfg.Seed = budget, seed
	var out []glora.Structure
	cfg.Record = func(c search.Candidate) error {
		if c.Generation > 0 && len(out) < n {
			out = append(out, c.Structure)
		}
		return nil
	}
	stop := fmt.Errorf("enough")
	_, err := search.Run(context.Background(), cfg, net.Space(), net.Targets(), func(_ context.Context, st glora.Structure) (search.Score, error) {
		if len(out) == n {
			return search.Score{}, stop
		}
		h := fnv.New64a()
		h.Write([]byte(st.Key()))
		return search.Score{Accuracy: float64(h.Sum64()%1000) / 1000}, nil
	})
	if len(out) < n {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("the search made only %d candidates", len(out))
	}
	return out, nil
}

// Search times scoring search candidates on validation images three
// ways, over the same candidates, interleaved candidate by candidate (so
// that a shared machine's load falls on all three alike): the supernet's
// fused layers with the structure fixed (unmerged), every layer merged
// for every candidate, and finetune's search Evaluator, which merges
// incrementally (glora.Supernet.MergeStructure).
func Search(o SearchOptions) (SearchResult, error) {
	v, desc, err := benchModel(o.Model)
	if err != nil {
		return SearchResult{}, err
	}
	m, err := finetune.Attach(v, finetune.Setup{Method: finetune.Supernet, Seed: o.Seed})
	if err != nil {
		return SearchResult{}, err
	}
	// Trained-looking support tensors (a fresh supernet's paths are zero).
	rng := rand.New(rand.NewPCG(o.Seed, 7))
	for _, p := range m.Net.Store().Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] = float32(rng.NormFloat64() * 0.02)
		}
	}
	lora, err := glora.Named("lora", m.Net.Targets(), finetune.DefaultRank, false)
	if err != nil {
		return SearchResult{}, err
	}
	budget := glora.Params(lora, m.Net.Targets())
	cands, err := searchCandidates(m.Net, budget, o.Candidates, o.Seed)
	if err != nil {
		return SearchResult{}, err
	}
	val, err := randomImages(v.Cfg, o.Val, o.Seed)
	if err != nil {
		return SearchResult{}, err
	}
	pre := train.PreprocessFor(v.Cfg)
	incremental := m.Evaluator(val, pre, o.Batch, o.Precision)
	modes := []func(glora.Structure) (search.Score, error){
		func(st glora.Structure) (search.Score, error) { // unmerged
			m.Net.Unmerge()
			if err := m.Net.SetStructure(st); err != nil {
				return search.Score{}, err
			}
			m.EvalStructure = st
			mt, err := train.EvaluateModel(m, val, pre, o.Batch, o.Precision)
			return search.Score{Accuracy: mt.Accuracy, Loss: mt.Loss}, err
		},
		func(st glora.Structure) (search.Score, error) { // every layer merged
			m.EvalStructure = nil
			m.Net.Unmerge()
			if err := m.Net.SetStructure(st); err != nil {
				return search.Score{}, err
			}
			if err := m.Net.Merge(); err != nil {
				return search.Score{}, err
			}
			defer m.Net.Unmerge()
			mt, err := train.EvaluateModel(m, val, pre, o.Batch, o.Precision)
			return search.Score{Accuracy: mt.Accuracy, Loss: mt.Loss}, err
		},
		func(st glora.Structure) (search.Score, error) { return incremental(context.Background(), st) },
	}
	var secs [3]float64
	same := true
	for i, st := range cands {
		var scores [3]search.Score
		for k := range modes {
			j := (i + k) % 3 // rotate the order
			t0 := time.Now()
			sc, err := modes[j](st)
			if err != nil {
				return SearchResult{}, err
			}
			secs[j] += time.Since(t0).Seconds()
			scores[j] = sc
		}
		if scores[0].Accuracy != scores[1].Accuracy || scores[1].Accuracy != scores[2].Accuracy ||
			math.Abs(scores[0].Loss-scores[2].Loss) > 1e-4 {
			same = false
		}
	}
	m.Net.Unmerge()
	incMs, fullMs, stats, err := mergeTimes(m.Net, cands)
	if err != nil {
		return SearchResult{}, err
	}
	perMin := func(s float64) float64 { return 60 * float64(len(cands)) / s }
	r := SearchResult{Bench: "search", Model: desc, Threads: runtime.GOMAXPROCS(0), Kernel: Kernel(o.Precision),
		Val: o.Val, Candidates: len(cands), Layers: len(m.Net.Layers()), Budget: budget,
		Unmerged: perMin(secs[0]), MergedFull: perMin(secs[1]), Merged: perMin(secs[2]),
		MergeMs: incMs, FullMs: fullMs, SameScores: same}
	r.Ratio = r.Merged / r.Unmerged
	if n := stats.Merged + stats.Reused; n > 0 {
		r.Reused = float64(stats.Reused) / float64(n)
	}
	return r, nil
}

// mergeTimes replays the candidates' merging alone, incremental and
// every layer, in milliseconds per candidate, with the incremental
// merges' reuse.
func mergeTimes(net *glora.Supernet, cands []glora.Structure) (incMs, fullMs float64, stats glora.MergeStats, err error) {
	t0 := time.Now()
	for _, st := range cands {
		s, err := net.MergeStructure(st)
		if err != nil {
			return 0, 0, stats, err
		}
		stats.Merged += s.Merged
		stats.Reused += s.Reused
		net.Unmerge()
	}
	incMs = 1000 * time.Since(t0).Seconds() / float64(len(cands))
	t0 = time.Now()
	for _, st := range cands {
		if err := net.SetStructure(st); err != nil {
			return 0, 0, stats, err
		}
		if err := net.Merge(); err != nil {
			return 0, 0, stats, err
		}
		net.Unmerge()
	}
	fullMs = 1000 * time.Since(t0).Seconds() / float64(len(cands))
	return incMs, fullMs, stats, nil
}

// MergedForwardResult is `glora bench merged-forward`'s report.
type MergedForwardResult struct {
	Bench     string  `json:"bench"`
	Model     string  `json:"model"`
	Threads   int     `json:"threads"`
	Kernel    string  `json:"kernel"`
	Batch     int     `json:"batch"`
	Steps     int     `json:"steps"` // per model, over all rounds
	Base      float64 `json:"base_img_per_s"`
	Merged    float64 `json:"merged_img_per_s"`
	Ratio     float64 `json:"merged_vs_base"`
	Structure string  `json:"structure"`
	MaxDiff   float64 `json:"max_abs_diff_vs_unmerged"`
}

func (r MergedForwardResult) String() string {
	return fmt.Sprintf("merged-forward   %s, batch %d, %d steps each: base %.1f img/s, merged (%s) %.1f img/s, merged / base %.3f  "+
		"(merged logits vs unmerged adapter: max abs diff %.2g)  threads=%d kernel=%s",
		r.Model, r.Batch, r.Steps, r.Base, r.Structure, r.Merged, r.Ratio, r.MaxDiff, r.Threads, r.Kernel)
}

// MergedForward times the base model's forward pass and that of the
// same model with a GLoRA adapter (PEFT's default structure, glora-fixed,
// random support values) merged in, alternating the two round by round so
// that a shared machine's load falls on both alike; the matrix products
// at precision prec.
func MergedForward(model string, batch, steps, rounds int, seed uint64, prec tensor.Precision) (MergedForwardResult, error) {
	base, desc, err := benchModel(model)
	if err != nil {
		return MergedForwardResult{}, err
	}
	other, _, err := benchModel(model)
	if err != nil {
		return MergedForwardResult{}, err
	}
	const structure = finetune.GLoRAFixed
	m, err := finetune.Attach(other, finetune.Setup{Method: structure, Seed: seed})
	if err != nil {
		return MergedForwardResult{}, err
	}
	rng := rand.New(rand.NewPCG(seed, 9))
	for _, p := range m.Net.Store().Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] = float32(rng.NormFloat64() * 0.02)
		}
	}
	c := base.Cfg
	img := ag.NewVar(tensor.New(batch, c.InChans, c.ImageSize, c.ImageSize), false)
	for i := range img.Value.Data {
		img.Value.Data[i] = float32(rng.NormFloat64())
	}
	tp := ag.NewTape()
	tp.NoGrad, tp.Precision = true, prec
	forward := func(f func(*ag.Tape, *ag.Var, *rand.Rand) *ag.Var) (*tensor.Tensor, error) {
		tp.Reset()
		y := f(tp, img, nil)
		return y.Value, tp.Err()
	}
	unmerged, err := forward(m.Forward)
	if err != nil {
		return MergedForwardResult{}, err
	}
	unmerged = unmerged.Clone()
	if err := m.Net.MergeAndDetach(); err != nil {
		return MergedForwardResult{}, err
	}
	merged := other // a plain ViT now
	got, err := forward(merged.Forward)
	if err != nil {
		return MergedForwardResult{}, err
	}
	diff := 0.0
	for i, v := range got.Data {
		diff = math.Max(diff, math.Abs(float64(v-unmerged.Data[i])))
	}
	models := [2]*vit.Model{base, merged}
	for _, mm := range models { // warm-up
		if _, err := forward(mm.Forward); err != nil {
			return MergedForwardResult{}, err
		}
	}
	var secs [2]float64
	for r := 0; r < rounds; r++ {
		for k := range models {
			j := (r + k) % 2
			t0 := time.Now()
			for s := 0; s < steps; s++ {
				if _, err := forward(models[j].Forward); err != nil {
					return MergedForwardResult{}, err
				}
			}
			secs[j] += time.Since(t0).Seconds()
		}
	}
	n := float64(batch * steps * rounds)
	res := MergedForwardResult{Bench: "merged-forward", Model: desc, Threads: runtime.GOMAXPROCS(0), Kernel: Kernel(prec),
		Batch: batch, Steps: steps * rounds, Base: n / secs[0], Merged: n / secs[1], Structure: structure, MaxDiff: diff}
	res.Ratio = res.Merged / res.Base
	return res, nil
}
