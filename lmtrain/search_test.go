package lmtrain

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/models/llama"
)

// TestSearchGLoRA: the chain on a decoder finds a structure within the
// budget, retrains it to a lower validation loss than the base's, and
// saves the merged model and the adapter.
func TestSearchGLoRA(t *testing.T) {
	pre, trainTok, valTok, loss0 := pretrained(t)
	o := opts(t.TempDir())
	o.Steps, o.EvalEvery = 60, 30
	cfg := search.Config{Population: 6, TopK: 2, Generations: 2, Mutations: 2, Crossovers: 2, MutationProb: 0.3}
	res, tuned, err := SearchGLoRA(pre, llama.Checkpoint{}, trainTok, valTok, SearchOptions{
		FinetuneOptions: FinetuneOptions{Options: o}, Ranks: []int{2, 4}, SupernetSteps: 60, Search: cfg, SearchTokens: 300, Finalists: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d candidates; %d support params (budget %d); search ppl %.2f; retrained val loss %.3f (base %.3f); stages %v s",
		res.Candidates, res.Params, res.Budget, res.SearchPPL, res.Retrain.BestValLoss, loss0, res.StageSeconds)
	if len(res.FinalistLoss) != 3 || res.FinalistLoss[res.Chosen] != minOf(res.FinalistLoss) {
		t.Fatalf("finalists' losses %v, chosen %d", res.FinalistLoss, res.Chosen)
	}
	if res.Params > res.Budget || res.Params == 0 || res.Candidates < 6 {
		t.Fatalf("structure of %d parameters (budget %d) after %d candidates", res.Params, res.Budget, res.Candidates)
	}
	if res.Retrain.BestValLoss >= loss0 {
		t.Fatalf("retrained val loss %.3f, the base's %.3f", res.Retrain.BestValLoss, loss0)
	}
	if got := tuned.Net.Structure(); got.Key() != res.Structure.Key() || glora.Params(got, tuned.Net.Targets()) != res.Params {
		t.Fatal("the tuned model does not hold the structure found")
	}
	for _, f := range []string{"merged/model.safetensors", "adapter/adapter_config.json"} {
		if !exists(filepath.Join(res.Retrain.BestDir, f)) {
			t.Fatalf("no best/%s", f)
		}
	}
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

// TestFinalistsLeaveNoTrace: finalists each start from the supernet's
// weights, and the retraining of the one chosen is the retraining the
// search's first would get without finalists (here the first is chosen):
// no tensor a finalist froze or trained leaks into it.
func TestFinalistsLeaveNoTrace(t *testing.T) {
	pre, trainTok, valTok, _ := pretrained(t)
	run := func(f int) SearchResult {
		m, err := pre.Clone()
		if err != nil {
			t.Fatal(err)
		}
		o := opts("")
		o.Steps, o.EvalEvery = 40, 20
		cfg := search.Config{Population: 6, TopK: 2, Generations: 2, Mutations: 2, Crossovers: 2, MutationProb: 0.3}
		res, _, err := SearchGLoRA(m, llama.Checkpoint{}, trainTok, valTok, SearchOptions{
			FinetuneOptions: FinetuneOptions{Options: o}, Ranks: []int{2, 4}, SupernetSteps: 40, Search: cfg, SearchTokens: 300, Finalists: f})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := run(1), run(3)
	if b.Chosen != 0 || a.Structure.Key() != b.Structure.Key() {
		t.Skipf("the finalists chose their %d-th; this check needs the first", b.Chosen+1)
	}
	if a.Retrain.BestValLoss != b.Retrain.BestValLoss {
		t.Fatalf("the same structure retrained to %.6f alone and %.6f after finalists", a.Retrain.BestValLoss, b.Retrain.BestValLoss)
	}
}

// TestNamedFreshFinalists: the named structures that seeded the search
// join the finalists, each trained from the adapter's initialisation
// (Fresh), and the chosen one has the lowest short-run loss; a rank check
// trains its structures alone and reports τ.
func TestNamedFreshFinalists(t *testing.T) {
	pre, trainTok, valTok, _ := pretrained(t)
	o := opts("")
	o.Steps, o.EvalEvery = 40, 20
	cfg := search.Config{Population: 6, TopK: 2, Generations: 1, Mutations: 2, Crossovers: 2, MutationProb: 0.3}
	res, _, err := SearchGLoRA(pre, llama.Checkpoint{}, trainTok, valTok, SearchOptions{
		FinetuneOptions: FinetuneOptions{Options: o}, Ranks: []int{2, 4}, SupernetSteps: 40, Search: cfg, SearchTokens: 300,
		Finalists: 1, NamedFinalists: true, Fresh: true, RankCheck: 4, RankSteps: 10})
	if err != nil {
		t.Fatal(err)
	}
	if rc := res.RankCheck; rc == nil || len(rc.Items) != 4 || rc.Tau == nil || rc.Items[0].Name != "top 1" || rc.Items[3].Name != "random 2" {
		t.Fatalf("rank check %+v", rc)
	}
	t.Logf("rank check: tau %.2f", *res.RankCheck.Tau)
	t.Logf("finalists' losses %v, chosen %d", res.FinalistLoss, res.Chosen)
	if len(res.FinalistLoss) < 2 || res.FinalistLoss[res.Chosen] != minOf(res.FinalistLoss) {
		t.Fatalf("finalists' losses %v, chosen %d: the named structures did not join", res.FinalistLoss, res.Chosen)
	}
}

func TestWithNamed(t *testing.T) {
	st := func(a glora.Choice) glora.Structure {
		return glora.Structure{"l": glora.LayerChoice{glora.A: a}}
	}
	c := func(a glora.Choice) search.Candidate { return search.Candidate{Structure: st(a), Params: 1} }
	fin := []search.Candidate{c(glora.ChoiceVector)}
	all := []search.Candidate{c(glora.ChoiceVector), c(glora.ChoiceConstant), c(glora.LoRAChoice(2))}
	got := withNamed(fin, all, []glora.Structure{st(glora.LoRAChoice(2)), st(glora.ChoiceVector), st(glora.LoRAChoice(4))})
	if len(got) != 2 || got[1].Structure.Key() != st(glora.LoRAChoice(2)).Key() {
		t.Fatalf("withNamed: %v", got)
	}
}

// TestSupernetStages: the chain in stages — a supernet trained with an
// OutDir, then loaded by a fresh process (LoadSupernet) and searched —
// finds what the supernet kept in memory finds.
func TestSupernetStages(t *testing.T) {
	pre, trainTok, valTok, _ := pretrained(t)
	o := opts(t.TempDir())
	o.Steps, o.EvalEvery = 40, 20
	cfg := search.Config{Population: 6, TopK: 2, Generations: 1, Mutations: 2, Crossovers: 2, MutationProb: 0.3}
	so := SearchOptions{FinetuneOptions: FinetuneOptions{Options: o}, Ranks: []int{2, 4}, SupernetSteps: 40, Search: cfg, SearchTokens: 300}
	m1, err := pre.Clone()
	if err != nil {
		t.Fatal(err)
	}
	sn, err := TrainSupernet(m1, llama.Checkpoint{}, trainTok, valTok, so)
	if err != nil {
		t.Fatal(err)
	}
	want, err := sn.Search(m1, llama.Checkpoint{}, trainTok, valTok, so)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := pre.Clone()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadSupernet(m2, so, filepath.Join(o.OutDir, "supernet"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := loaded.Search(m2, llama.Checkpoint{}, trainTok, valTok, so)
	if err != nil {
		t.Fatal(err)
	}
	if got.Structure.Key() != want.Structure.Key() || got.SearchPPL != want.SearchPPL || got.Candidates != want.Candidates {
		t.Fatalf("loaded supernet found %d params at ppl %v; in memory %d at %v", got.Params, got.SearchPPL, want.Params, want.SearchPPL)
	}
	// another supernet's settings do not fit the checkpoint
	m3, _ := pre.Clone()
	so.Ranks = []int{2, 8}
	if _, err := LoadSupernet(m3, so, filepath.Join(o.OutDir, "supernet")); err == nil || !strings.Contains(err.Error(), "another supernet") {
		t.Fatalf("loading with other ranks: %v", err)
	}
}

// TestSearchGLoRAResumes: a chain stopped in its retraining continues with
// Resume — the supernet read from its checkpoint, the search and the
// finalists run again — and ends where an uninterrupted chain ends.
func TestSearchGLoRAResumes(t *testing.T) {
	pre, trainTok, valTok, _ := pretrained(t)
	run := func(dir string, stopAfter int, resume bool) (SearchResult, *Tuned) {
		m, err := pre.Clone()
		if err != nil {
			t.Fatal(err)
		}
		o := opts(dir)
		o.Steps, o.EvalEvery, o.StopAfter, o.Resume = 40, 10, stopAfter, resume
		cfg := search.Config{Population: 6, TopK: 2, Generations: 1, Mutations: 2, Crossovers: 2, MutationProb: 0.3}
		res, tuned, err := SearchGLoRA(m, llama.Checkpoint{}, trainTok, valTok, SearchOptions{
			FinetuneOptions: FinetuneOptions{Options: o}, Ranks: []int{2, 4}, SupernetSteps: 40, Search: cfg, SearchTokens: 300,
			Finalists: 2, NamedFinalists: true, Fresh: true})
		if err != nil {
			t.Fatal(err)
		}
		return res, tuned
	}
	want, wt := run(t.TempDir(), 0, false)
	dir := t.TempDir()
	if stopped, _ := run(dir, 20, false); !stopped.Retrain.Stopped {
		t.Fatal("the retraining did not stop at --stop-after")
	}
	got, gt := run(dir, 0, true)
	if got.Structure.Key() != want.Structure.Key() || got.Retrain.BestValLoss != want.Retrain.BestValLoss {
		t.Fatalf("resumed chain: %d params, best val loss %v; uninterrupted: %d, %v", got.Params, got.Retrain.BestValLoss, want.Params, want.Retrain.BestValLoss)
	}
	for i, p := range wt.Net.Store().Params() {
		if !slices.Equal(p.Value.Data, gt.Net.Store().Params()[i].Value.Data) {
			t.Fatalf("support tensor %s differs after resuming", p.Name)
		}
	}
}
