package lmtrain

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/models/llama"
)

// parityTask: sequences of random tokens whose label is whether token 5
// appears in them: the classifier must read the whole sequence.
func parityTask(n int, seed uint64) Labelled {
	rng := rand.New(rand.NewPCG(seed, 9))
	var d Labelled
	for i := 0; i < n; i++ {
		ids := []int{1}
		for t := 0; t < 3+rng.IntN(12); t++ {
			ids = append(ids, 6+rng.IntN(18))
		}
		label := rng.IntN(2)
		if label == 1 {
			ids[1+rng.IntN(len(ids)-1)] = 5
		}
		d.IDs, d.Labels = append(d.IDs, ids), append(d.Labels, label)
	}
	return d
}

// TestClassifierPadding: a sequence's logits do not depend on the padding
// a longer sequence in its batch adds after it.
func TestClassifierPadding(t *testing.T) {
	m := tinyModel(t)
	c, err := llama.NewClassifier(m, 3, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	d := Labelled{IDs: [][]int{{1, 7, 9}, {1, 4, 4, 4, 8, 10, 3}}, Labels: []int{0, 2}}
	run := func(idx []int) []float32 {
		x, _ := batchOf(d, idx)
		tp := ag.NewTape()
		tp.NoGrad = true
		y := c.Forward(tp, tp.Wrap(x), nil)
		if err := tp.Err(); err != nil {
			t.Fatal(err)
		}
		return slices.Clone(y.Value.Data)
	}
	alone, both := run([]int{0}), run([]int{0, 1})
	for i := range alone {
		if d := alone[i] - both[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("logit %d: %v alone, %v padded in a batch", i, alone[i], both[i])
		}
	}
}

// TestClassify: LoRA on a briefly pretrained decoder with a fresh head
// learns a task that needs the whole sequence, and the classifier ends with
// the weights of its best validation step.
func TestClassify(t *testing.T) {
	pre, _, _, _ := pretrained(t)
	trainSet, val := parityTask(400, 1), parityTask(100, 2)
	o := opts("")
	o.Steps, o.Batch, o.EvalEvery, o.LR, o.WarmupSteps = 150, 16, 30, 1e-2, 10
	s, c, tuned, err := Classify(pre, 2, trainSet, val, FinetuneOptions{Options: o, Method: "lora", Rank: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("val accuracy by step: %+v", s.History)
	if s.BestValAcc < 0.8 {
		t.Fatalf("best validation accuracy %.2f", s.BestValAcc)
	}
	acc, _, err := Accuracy(c, val, 32, 0)
	if err != nil || acc != s.BestValAcc {
		t.Fatalf("the classifier scores %.3f (%v), its best step %.3f", acc, err, s.BestValAcc)
	}
	if tuned.Net == nil || tuned.Trainable() == 0 {
		t.Fatal("no adapter trained")
	}
	// Score's confusion matrix and Probabilities' arg-maxes are the same
	// predictions, in batches of another size; each row of probabilities
	// sums to 1
	mt, err := Score(c, val, 7, 0)
	if err != nil || mt.Accuracy != acc || mt.N != len(val.IDs) {
		t.Fatalf("Score: %+v (%v), Accuracy %v", mt, err, acc)
	}
	probs, err := Probabilities(c, val, 13, 0)
	if err != nil || len(probs) != len(val.IDs) {
		t.Fatalf("Probabilities: %d rows (%v)", len(probs), err)
	}
	confusion := [2][2]int{}
	for i, p := range probs {
		if math.Abs(p[0]+p[1]-1) > 1e-9 {
			t.Fatalf("row %d sums to %v", i, p[0]+p[1])
		}
		pred := 0
		if p[1] > p[0] {
			pred = 1
		}
		confusion[val.Labels[i]][pred]++
	}
	for tr := range 2 {
		for pr := range 2 {
			if confusion[tr][pr] != mt.Confusion[tr][pr] {
				t.Fatalf("Probabilities' confusion %v, Score's %v", confusion, mt.Confusion)
			}
		}
	}
	// saved as a plain LlamaForSequenceClassification: the same accuracy
	dir := filepath.Join(t.TempDir(), "cls")
	if err := tuned.SaveClassifier(dir, c, llama.Checkpoint{}, []string{"even", "odd"}); err != nil {
		t.Fatal(err)
	}
	c2, _, labels, err := llama.LoadClassifier(dir)
	if err != nil {
		t.Fatal(err)
	}
	acc2, _, err := Accuracy(c2, val, 32, 0)
	if err != nil || acc2 != acc || !slices.Equal(labels, []string{"even", "odd"}) {
		t.Fatalf("the saved classifier scores %.3f (%v) with labels %v; the tuned one %.3f", acc2, err, labels, acc)
	}
}

// TestSearchClassify: the chain on a classification task finds a structure
// within the budget whose retraining classifies the validation set, and
// the tuned classifier saves as a plain one that scores the same.
func TestSearchClassify(t *testing.T) {
	pre, _, _, _ := pretrained(t)
	trainSet, val := parityTask(400, 1), parityTask(100, 2)
	o := opts("")
	o.Steps, o.Batch, o.EvalEvery, o.LR, o.WarmupSteps = 150, 16, 30, 1e-2, 10
	cfg := search.Config{Population: 6, TopK: 2, Generations: 2, Mutations: 2, Crossovers: 2, MutationProb: 0.3}
	res, c, tuned, err := SearchClassify(pre, 2, trainSet, val, SearchOptions{
		FinetuneOptions: FinetuneOptions{Options: o}, Ranks: []int{2, 4}, SupernetSteps: 150, Search: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d candidates; %d support params (budget %d); search acc %.2f; retrained %.2f; stages %v s",
		res.Candidates, res.Params, res.Budget, res.SearchAcc, res.Retrain.BestValAcc, res.StageSeconds)
	if res.Params > res.Budget || res.Params == 0 || res.Candidates < 6 || len(res.Supernet.History) == 0 {
		t.Fatalf("structure of %d parameters (budget %d) after %d candidates", res.Params, res.Budget, res.Candidates)
	}
	if res.Retrain.BestValAcc < 0.8 {
		t.Fatalf("retrained validation accuracy %.2f", res.Retrain.BestValAcc)
	}
	if tuned.Net.Structure().Key() != res.Structure.Key() {
		t.Fatal("the tuned model does not hold the structure found")
	}
	acc, _, err := Accuracy(c, val, 32, 0)
	if err != nil || acc != res.Retrain.BestValAcc {
		t.Fatalf("the classifier scores %.3f (%v), its best step %.3f", acc, err, res.Retrain.BestValAcc)
	}
}
