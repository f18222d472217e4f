package bench

import (
	"math/rand/v2"
	"testing"

	"github.com/glora/glora/models/llama"
)

// The lm-train methods: full trains the decoder; lora and glora freeze it
// and train only the support tensors (the glora hook sets each step's
// structure); an unknown method is refused.
func TestLMMethods(t *testing.T) {
	for _, method := range []string{"full", "lora", "glora"} {
		m, err := llama.New(llama.Tiny(), rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		lm := llama.CausalLM{Model: m}
		name, hook, err := lmMethod(&lm, LMOptions{Method: method, Rank: 4, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		frozen := m.Store.Count(true) == 0
		if frozen != (method != "full") || (len(lm.Extra) == 0) != (method == "full") {
			t.Fatalf("%s (%s): decoder frozen %v, %d support tensors", method, name, frozen, len(lm.Extra))
		}
		for _, p := range lm.Extra {
			if !p.RequiresGrad {
				t.Fatalf("%s: support tensor %s does not train", method, p.Name)
			}
		}
		if (hook != nil) != (method == "glora") {
			t.Fatalf("%s: hook %v", method, hook != nil)
		}
		if hook != nil {
			if err := hook(3, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	lm := llama.CausalLM{}
	if _, _, err := lmMethod(&lm, LMOptions{Method: "dora"}); err == nil {
		t.Fatal("method dora accepted")
	}
}

func TestLMTrainRuns(t *testing.T) {
	r, err := LMTrain(LMOptions{Config: llama.Tiny(), Batch: 2, SeqLen: 8, Steps: 2, Method: "glora", Rank: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Bench != "lm-glora-train" || r.TokPerS <= 0 || r.Steps != 2 {
		t.Fatalf("%+v", r)
	}
}
