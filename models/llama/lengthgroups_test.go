package llama

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/glora/glora/internal/floatcmp"
)

// groupsCost is what lengthGroups minimises: Σ_g rows_g·T_g + groupTokens
// a group (one group: the padded batch).
func groupsCost(n []int, groups [][]int) int {
	if groups == nil {
		return len(n)*slices.Max(n) + groupTokens
	}
	c := 0
	for _, g := range groups {
		t := 0
		for _, b := range g {
			t = max(t, n[b])
		}
		c += len(g)*t + groupTokens
	}
	return c
}

// lengthGroups puts every row in exactly one group, in groups of rising
// length, and its cost is the least of every way to cut the sorted rows
// (all 2^(B−1) of them, on random batches of up to 9 rows); nil exactly
// when one group is cheapest.
func TestLengthGroupsCutWhereItPays(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	split := 0
	for trial := 0; trial < 400; trial++ {
		n := make([]int, 1+rng.IntN(9))
		for i := range n {
			n[i] = 1 + rng.IntN([]int{4, 40, 200}[trial%3])
		}
		groups := lengthGroups(n)
		seen, prev := make([]bool, len(n)), 0
		for _, g := range groups {
			if len(g) == 0 {
				t.Fatalf("%v: an empty group in %v", n, groups)
			}
			for _, b := range g {
				if seen[b] || n[b] < prev {
					t.Fatalf("%v: groups %v repeat a row or fall in length", n, groups)
				}
				seen[b], prev = true, n[b]
			}
		}
		if groups != nil && slices.Contains(seen, false) {
			t.Fatalf("%v: groups %v leave a row out", n, groups)
		}
		// every cut of the rows sorted by length
		order := make([]int, len(n))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return n[a] - n[b] })
		best := -1
		for mask := 0; mask < 1<<(len(n)-1); mask++ {
			var cut [][]int
			lo := 0
			for i := 1; i <= len(n); i++ {
				if i == len(n) || mask>>(i-1)&1 == 1 {
					cut = append(cut, order[lo:i])
					lo = i
				}
			}
			if c := groupsCost(n, cut); best < 0 || c < best {
				best = c
			}
		}
		got := groupsCost(n, groups)
		if got != best {
			t.Fatalf("%v: groups %v cost %d, the best cut %d", n, groups, got, best)
		}
		if groups != nil && (len(groups) < 2 || groupsCost(n, nil) <= got) {
			t.Fatalf("%v: groups %v where one group costs %d", n, groups, groupsCost(n, nil))
		}
		if groups != nil {
			split++
		}
	}
	if split < 50 {
		t.Fatalf("only %d of 400 batches were split: the test does not reach the groups", split)
	}
}

// A classifier batch run in groups of similar length gives the logits and
// every trainable tensor's gradient of the padded batch, to float32
// rounding: rows of 1 to 40 tokens in a batch that is split, in the
// training order of rows (not sorted), on the decoder alone and with GLoRA
// layers of random structures, with the last layer at the last tokens and
// at all of them.
func TestLengthGroupsKeepLogitsAndGradients(t *testing.T) {
	lens := []int{40, 2, 1, 38, 3, 40, 17, 2, 39, 1}
	if lengthGroups(lens) == nil {
		t.Fatal("the batch is not split: the test compares nothing")
	}
	run := func(groups, last bool, seed uint64, withGLoRA bool) ([]float32, [][]float32) {
		defer func(o1, o2 bool) { byLength, lastOnly = o1, o2 }(byLength, lastOnly)
		byLength, lastOnly = groups, last
		return classifierPaths(t, seed, withGLoRA, lens)
	}
	for seed := uint64(1); seed <= 2; seed++ {
		for _, withGLoRA := range []bool{false, true} {
			for _, last := range []bool{true, false} {
				wl, wg := run(false, last, seed, withGLoRA)
				gl, gg := run(true, last, seed, withGLoRA)
				if d := floatcmp.Paths(gl, wl, gg, wg, 1e-5); d != "" {
					t.Fatalf("seed %d, GLoRA %v, last layer at the last token %v: %s", seed, withGLoRA, last, d)
				}
			}
		}
	}
}

// BenchmarkClassifierByLength times a classifier's training step
// (benchClassifier's shape), batch 16 of short documents of spread lengths
// (1 + an exponential of mean 40 tokens, at most 128: 3.7 padded tokens
// for each real one in the padded batch), padded to the longest (padded)
// and in length groups (groups, the default).
func BenchmarkClassifierByLength(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	lens := make([]int, 16)
	real := 0
	for i := range lens {
		lens[i] = min(128, 1+int(rng.ExpFloat64()*40))
		real += lens[i]
	}
	c, x := benchClassifier(b, lens)
	b.Logf("lengths %v: %.2f padded tokens a real one", lens, float64(x.Numel())/float64(real))
	for _, grouped := range []bool{false, true} {
		b.Run(map[bool]string{false: "padded", true: "groups"}[grouped], func(b *testing.B) {
			defer func(old bool) { byLength = old }(byLength)
			byLength = grouped
			benchClassifierSteps(b, c, x)
		})
	}
}
