package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/glora/glora/method/glora"
)

func targets() []glora.Target {
	var tg []glora.Target
	for i := 0; i < 4; i++ {
		tg = append(tg, glora.Target{Path: fmt.Sprintf("blocks.%d.attn.qkv", i), In: 16, Out: 48, HasBias: true},
			glora.Target{Path: fmt.Sprintf("blocks.%d.mlp.fc2", i), In: 64, Out: 16, HasBias: true})
	}
	return tg
}

// fakeEval rewards lora paths on B and vectors on E, and punishes A, as a
// smooth function with a clear optimum under the budget.
func fakeEval(calls map[string]int) Evaluator {
	return func(_ context.Context, st glora.Structure) (Score, error) {
		calls[st.Key()]++
		acc := 0.0
		for _, lc := range st {
			if lc[glora.B].Kind == glora.LoRA {
				acc += 1
			}
			if lc[glora.E].Kind == glora.Vector {
				acc += 0.5
			}
			if lc[glora.A].Kind != glora.None {
				acc -= 0.25
			}
		}
		return Score{Accuracy: acc, Loss: -acc}, nil
	}
}

func smallConfig(budget int) Config {
	return Config{Population: 12, TopK: 4, Generations: 6, Mutations: 5, Crossovers: 5, MutationProb: 0.2, Budget: budget, Seed: 3}
}

func TestSearchRespectsBudgetEvaluatesOnceAndImproves(t *testing.T) {
	sp := glora.Space{Ranks: []int{2, 4}}
	tg := targets()
	lora4, _ := glora.Named("lora", tg, 4, false)
	budget := glora.Params(lora4, tg)
	calls := map[string]int{}
	var records []Candidate
	cfg := smallConfig(budget)
	cfg.Record = func(c Candidate) error { records = append(records, c); return nil }
	res, err := Run(context.Background(), cfg, sp, tg, fakeEval(calls))
	if err != nil {
		t.Fatal(err)
	}
	for k, n := range calls {
		if n != 1 {
			t.Fatalf("structure evaluated %d times: %s", n, k)
		}
	}
	if len(records) != len(calls) || res.Evaluated != len(calls) {
		t.Fatalf("%d records, %d evaluations, result says %d", len(records), len(calls), res.Evaluated)
	}
	if n := MaxCandidates(cfg); len(records) > n || len(records) < cfg.Population {
		t.Fatalf("%d candidates scored, want between the population %d and MaxCandidates %d", len(records), cfg.Population, n)
	}
	first := math.Inf(1)
	for _, r := range records {
		if r.Params > budget {
			t.Fatalf("candidate %s has %d params over the budget %d", r.Hash, r.Params, budget)
		}
		if r.Generation == 0 {
			first = min(first, -r.Accuracy)
		}
	}
	if res.Best.Accuracy <= -first {
		t.Fatalf("no improvement over generation 0: best %.2f", res.Best.Accuracy)
	}
	t.Logf("best %.2f (%d params ≤ %d) after %d candidates", res.Best.Accuracy, res.Best.Params, budget, len(records))

	// The same seed gives the same search.
	again, err := Run(context.Background(), smallConfig(budget), sp, tg, fakeEval(map[string]int{}))
	if err != nil || again.Best.Structure.Key() != res.Best.Structure.Key() || again.Evaluated != res.Evaluated {
		t.Fatalf("not reproducible: %v", err)
	}
}

func TestSearchResumesFromItsRecords(t *testing.T) {
	sp := glora.Space{Ranks: []int{4}}
	tg := targets()
	budget := 3000
	full, err := Run(context.Background(), smallConfig(budget), sp, tg, fakeEval(map[string]int{}))
	if err != nil {
		t.Fatal(err)
	}
	// Interrupt after 20 evaluations.
	ctx, cancel := context.WithCancel(context.Background())
	var records []Candidate
	cfg := smallConfig(budget)
	cfg.Record = func(c Candidate) error {
		records = append(records, c)
		if len(records) == 20 {
			cancel()
		}
		return nil
	}
	_, err = Run(ctx, cfg, sp, tg, fakeEval(map[string]int{}))
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
	cfg = smallConfig(budget)
	cfg.Known = records
	calls := map[string]int{}
	res, err := Run(context.Background(), cfg, sp, tg, fakeEval(calls))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if calls[r.Structure.Key()] != 0 {
			t.Fatal("a recorded candidate was evaluated again")
		}
	}
	if res.Best.Structure.Key() != full.Best.Structure.Key() || res.Evaluated+len(records) != full.Evaluated {
		t.Fatalf("resumed search differs: %d+%d evaluations vs %d", res.Evaluated, len(records), full.Evaluated)
	}
}

func TestSearchRejectsBadSettings(t *testing.T) {
	sp := glora.Space{Ranks: []int{4}}
	for _, cfg := range []Config{
		{Population: 0, TopK: 1, Generations: 1, MutationProb: 0.2},
		{Population: 5, TopK: 6, Generations: 1, MutationProb: 0.2},
		{Population: 5, TopK: 2, Generations: 0, MutationProb: 0.2},
		{Population: 5, TopK: 2, Generations: 1, MutationProb: 0},
		{Population: 5, TopK: 2, Generations: 1, MutationProb: 0.2, Budget: -1},
	} {
		if _, err := Run(context.Background(), cfg, sp, targets(), fakeEval(map[string]int{})); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	// A zero budget admits only the empty structure.
	cfg := smallConfig(0)
	res, err := Run(context.Background(), cfg, sp, targets(), fakeEval(map[string]int{}))
	if err != nil || res.Best.Params != 0 || res.Total != 1 {
		t.Fatalf("zero budget: %+v %v", res, err)
	}
}

// Initial structures join the first generation (those that fit the
// budget bounds and the space), and MinParams keeps every candidate at or
// above the floor.
func TestSearchInitialAndFloor(t *testing.T) {
	sp := glora.Space{Ranks: []int{2, 4}}
	tg := targets()
	lora4, _ := glora.Named("lora", tg, 4, false)
	lora2, _ := glora.Named("lora", tg, 2, false)
	ssf, _ := glora.Named("ssf", tg, 4, false)
	fixed8, _ := glora.Named("glora-fixed", tg, 8, false) // rank 8: not in the space
	budget := glora.Params(lora4, tg)
	cfg := smallConfig(budget)
	cfg.MinParams = glora.Params(ssf, tg) + 1 // ssf falls under the floor
	cfg.Initial = []glora.Structure{lora4, lora2, ssf, fixed8}
	var first []Candidate
	cfg.Record = func(c Candidate) error {
		if c.Params < cfg.MinParams || c.Params > budget {
			t.Fatalf("candidate %s with %d params outside [%d, %d]", c.Hash, c.Params, cfg.MinParams, budget)
		}
		if c.Generation == 0 {
			first = append(first, c)
		}
		return nil
	}
	if _, err := Run(context.Background(), cfg, sp, tg, fakeEval(map[string]int{})); err != nil {
		t.Fatal(err)
	}
	if len(first) != cfg.Population || first[0].Hash != lora4.Hash() || first[1].Hash != lora2.Hash() {
		t.Fatalf("first generation: %d candidates, starting %s, %s; want %d starting with lora4 %s and lora2 %s",
			len(first), first[0].Hash, first[1].Hash, cfg.Population, lora4.Hash(), lora2.Hash())
	}
	for _, c := range first[2:] {
		if c.Hash == ssf.Hash() || c.Hash == fixed8.Hash() {
			t.Fatalf("an initial structure outside the floor or the space was scored: %s", c.Hash)
		}
	}
	cfg.MinParams = budget + 1
	if _, err := Run(context.Background(), cfg, sp, tg, fakeEval(map[string]int{})); err == nil {
		t.Fatal("a floor above the budget was accepted")
	}
}
