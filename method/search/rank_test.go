package search

import (
	"math"
	"slices"
	"testing"

	"github.com/glora/glora/method/glora"
)

func TestKendallTau(t *testing.T) {
	for _, c := range []struct {
		name string
		x, y []float64
		want float64
	}{
		{"same order", []float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{"reversed", []float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		// 5 items, one swapped pair: 9 concordant, 1 discordant of 10.
		{"one swap", []float64{1, 2, 3, 4, 5}, []float64{1, 3, 2, 4, 5}, 0.8},
		// scipy.stats.kendalltau([1,2,2,3],[1,3,2,4]) = 0.9128709291752769 (tau-b).
		{"ties in x", []float64{1, 2, 2, 3}, []float64{1, 3, 2, 4}, 0.9128709291752769},
		// scipy.stats.kendalltau([1,2,3,4,5],[2,1,2,4,3]) = 0.5270462766947299.
		{"ties in y", []float64{1, 2, 3, 4, 5}, []float64{2, 1, 2, 4, 3}, 0.5270462766947299},
	} {
		if got := KendallTau(c.x, c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: τ = %v, want %v", c.name, got, c.want)
		}
	}
	for _, c := range [][2][]float64{{{1}, {1}}, {{1, 2}, {1}}, {{1, 1, 1}, {1, 2, 3}}} {
		if got := KendallTau(c[0], c[1]); !math.IsNaN(got) {
			t.Errorf("KendallTau(%v, %v) = %v, want NaN", c[0], c[1], got)
		}
	}
}

func TestRanks(t *testing.T) {
	got := Ranks([]float64{0.5, 0.9, 0.5, 0.1})
	want := []float64{2.5, 1, 2.5, 4}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Ranks = %v, want %v", got, want)
		}
	}
}

func TestBest(t *testing.T) {
	tg := targets()
	a, _ := glora.Named("lora", tg, 4, false)
	b, _ := glora.Named("ssf", tg, 4, false)
	c, _ := glora.Named("bitfit", tg, 4, false)
	cs := []Candidate{
		{Hash: "b", Score: Score{Accuracy: 0.5, Loss: 1}, Structure: b},
		{Hash: "a", Score: Score{Accuracy: 0.7, Loss: 2}, Structure: a},
		{Hash: "a again", Score: Score{Accuracy: 0.7, Loss: 1}, Structure: a.Clone()}, // the same structure: counted once
		{Hash: "c", Score: Score{Accuracy: 0.5, Loss: 0.5}, Structure: c},
	}
	var got []string
	for _, x := range Best(cs, 3) {
		got = append(got, x.Hash)
	}
	if want := []string{"a again", "c", "b"}; !slices.Equal(got, want) {
		t.Fatalf("Best = %v, want %v", got, want)
	}
}

// RankCheckSet: the best ⌈n/2⌉, then distinct random structures at the
// budget that keep accepts, the same for the same seed.
func TestRankCheckSet(t *testing.T) {
	tg := targets()
	sp := glora.Space{Ranks: []int{2, 4}}
	a, _ := glora.Named("lora", tg, 4, false)
	b, _ := glora.Named("ssf", tg, 4, false)
	cs := []Candidate{{Hash: "b", Score: Score{Accuracy: 0.5}, Structure: b}, {Hash: "a", Score: Score{Accuracy: 0.7}, Structure: a}}
	budget := glora.Params(a, tg)
	keep := func(st glora.Structure) bool { return glora.Params(st, tg) > 0 }
	names, sts := RankCheckSet(cs, sp, tg, budget, 6, 3, keep)
	if want := []string{"top 1", "top 2", "random 1", "random 2", "random 3", "random 4"}; !slices.Equal(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	if sts[0].Key() != a.Key() || sts[1].Key() != b.Key() {
		t.Fatal("the best do not come first, best first")
	}
	seen := map[string]bool{}
	for _, st := range sts {
		if n := glora.Params(st, tg); seen[st.Key()] || n > budget || n == 0 {
			t.Fatalf("a structure repeated, over the budget or refused by keep (%d parameters)", n)
		}
		seen[st.Key()] = true
	}
	names2, sts2 := RankCheckSet(cs, sp, tg, budget, 6, 3, keep)
	for i := range sts {
		if names2[i] != names[i] || sts2[i].Key() != sts[i].Key() {
			t.Fatal("not the same set for the same seed")
		}
	}
}
