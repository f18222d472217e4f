package lmtrain

import (
	"path/filepath"
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
		FinetuneOptions: FinetuneOptions{Options: o}, Ranks: []int{2, 4}, SupernetSteps: 60, Search: cfg, SearchTokens: 300})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d candidates; %d support params (budget %d); search ppl %.2f; retrained val loss %.3f (base %.3f); stages %v s",
		res.Candidates, res.Params, res.Budget, res.SearchPPL, res.Retrain.BestValLoss, loss0, res.StageSeconds)
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
