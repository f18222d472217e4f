package bench

import (
	"testing"

	"github.com/glora/glora/tensor"
)

// bench search scores the same candidates three ways with the same
// results, reports each rate, and reuses merged layers; no timing is
// checked.
func TestBenchSearchRuns(t *testing.T) {
	r, err := Search(SearchOptions{Model: "vit-micro", Val: 20, Candidates: 12, Batch: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Candidates != 12 || r.Layers != 8 || r.Unmerged <= 0 || r.Merged <= 0 || r.MergedFull <= 0 || r.Ratio <= 0 {
		t.Fatalf("%+v", r)
	}
	if !r.SameScores {
		t.Error("merged and unmerged evaluation scored a candidate differently")
	}
	if r.Reused <= 0 {
		t.Errorf("no merged layer was reused between consecutive search candidates: %+v", r)
	}
	t.Logf("%s", r)
}

// bench merged-forward: the merged model computes the unmerged adapter's
// logits and both rates are reported.
func TestBenchMergedForwardRuns(t *testing.T) {
	r, err := MergedForward("vit-micro", 4, 1, 2, 1, tensor.F32)
	if err != nil {
		t.Fatal(err)
	}
	if r.Base <= 0 || r.Merged <= 0 || r.Steps != 2 || r.MaxDiff > 1e-4 {
		t.Fatalf("%+v", r)
	}
	t.Logf("%s", r)
}
