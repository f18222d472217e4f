package search

import (
	"math"
	"testing"
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
