package search

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/glora/glora/method/glora"
)

// RankCheckSet is the structures a rank check of n measures and their
// names: the ⌈n/2⌉ best of cs ("top i"), then distinct random structures
// at the budget ("random i", drawn from seed) that keep accepts (nil:
// every one) for the rest, at most 100·n draws.
func RankCheckSet(cs []Candidate, sp glora.Space, targets []glora.Target, budget, n int, seed uint64,
	keep func(glora.Structure) bool) (names []string, sts []glora.Structure) {
	seen := map[string]bool{}
	for i, c := range Best(cs, (n+1)/2) {
		seen[c.Structure.Key()] = true
		names, sts = append(names, fmt.Sprintf("top %d", i+1)), append(sts, c.Structure)
	}
	rng := rand.New(rand.NewPCG(seed, 0x72616e6b)) // "rank"
	for i, tries := 1, 0; len(sts) < n && tries < 100*n; tries++ {
		st := Random(rng, sp, targets, budget)
		if seen[st.Key()] || keep != nil && !keep(st) {
			continue
		}
		seen[st.Key()] = true
		names, sts = append(names, fmt.Sprintf("random %d", i)), append(sts, st)
		i++
	}
	return names, sts
}

// KendallTau is Kendall's rank correlation τ_b between x and y (pairs of
// scores of the same items): (concordant − discordant) over
// √((n₀ − ties in x)(n₀ − ties in y)), n₀ the number of pairs. 1 means the
// same order, −1 the reverse, 0 no relation. It is NaN for fewer than two
// items, for slices of different lengths, or when either side is constant.
//
// The search uses it to measure how well a supernet's shared weights rank
// structures: x their shared-weight validation scores, y their validation
// accuracy after standalone training.
func KendallTau(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 2 {
		return math.NaN()
	}
	var conc, disc, tx, ty float64
	for i := range x {
		for j := i + 1; j < len(x); j++ {
			dx, dy := x[i]-x[j], y[i]-y[j]
			switch {
			case dx == 0 && dy == 0:
				tx++
				ty++
			case dx == 0:
				tx++
			case dy == 0:
				ty++
			case (dx > 0) == (dy > 0):
				conc++
			default:
				disc++
			}
		}
	}
	n0 := float64(len(x)*(len(x)-1)) / 2
	den := math.Sqrt((n0 - tx) * (n0 - ty))
	if den == 0 {
		return math.NaN()
	}
	return (conc - disc) / den
}

// Ranks are the 1-based ranks of x, highest first, ties given their
// average rank.
func Ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] > x[idx[b]] })
	out := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		r := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			out[idx[k]] = r
		}
		i = j + 1
	}
	return out
}
