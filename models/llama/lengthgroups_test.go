package llama

import (
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/floatcmp"
	"github.com/glora/glora/method/glora/gloratest"
	"github.com/glora/glora/tensor"
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
	run := func(groups, last bool, seed uint64, withGLoRA bool) (logits []float32, grads [][]float32) {
		defer func(o1, o2 bool) { byLength, lastOnly = o1, o2 }(byLength, lastOnly)
		byLength, lastOnly = groups, last
		cfg := Tiny()
		cfg.KVHeads = cfg.Heads / 2
		m, err := New(cfg, rand.New(rand.NewPCG(seed, 1)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewClassifier(m, 3, rand.New(rand.NewPCG(seed, 2)))
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(seed, 9))
		params := c.Params()
		if withGLoRA {
			sn, err := gloratest.Random(m, seed, rng)
			if err != nil {
				t.Fatal(err)
			}
			params = sn.Trainable()
		}
		B, T := len(lens), slices.Max(lens)
		x := tensor.New(B, T)
		for b, n := range lens {
			for i := 0; i < T; i++ {
				x.Data[b*T+i] = PadID
				if i < n {
					x.Data[b*T+i] = float32(rng.IntN(cfg.VocabSize))
				}
			}
		}
		tp := ag.NewTape()
		y := c.Forward(tp, ag.NewVar(x, false), nil)
		// rows weighted unequally: a row put back in the wrong place
		// changes the loss's gradient
		w := tensor.New(y.Value.Shape...)
		for i := range w.Data {
			w.Data[i] = float32(i%7) - 3
		}
		if err := tp.Backward(tp.SumAll(tp.Mul(tp.Mul(y, y), tp.Wrap(w)))); err != nil {
			t.Fatal(err)
		}
		for _, p := range params {
			if p.Grad != nil {
				grads = append(grads, slices.Clone(p.Grad.Data))
			}
		}
		return slices.Clone(y.Value.Data), grads
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

// BenchmarkClassifierByLength times a classifier's training step (forward
// and backward, every parameter trainable) on the shipped LM's shape,
// batch 16 of short documents of spread lengths (1 + an exponential of
// mean 40 tokens, at most 128: 3.7 padded tokens for each real one in the
// padded batch), padded to the longest (padded) and in length groups
// (groups, the default).
func BenchmarkClassifierByLength(b *testing.B) {
	cfg := Config{VocabSize: 2048, Dim: 192, Hidden: 512, Layers: 4, Heads: 6, KVHeads: 2, MaxSeq: 128,
		NormEps: 1e-5, RopeTheta: 10000, BOS: 1, EOS: 2, TiedEmbed: true}
	m, err := New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewClassifier(m, 2, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		b.Fatal(err)
	}
	const B = 16
	rng := rand.New(rand.NewPCG(5, 6))
	lens := make([]int, B)
	for i := range lens {
		lens[i] = min(cfg.MaxSeq, 1+int(rng.ExpFloat64()*40))
	}
	T := slices.Max(lens)
	x := tensor.New(B, T)
	real := 0
	for r, n := range lens {
		real += n
		for i := 0; i < T; i++ {
			x.Data[r*T+i] = PadID
			if i < n {
				x.Data[r*T+i] = float32(rng.IntN(cfg.VocabSize))
			}
		}
	}
	b.Logf("lengths %v: %.2f padded tokens a real one", lens, float64(B*T)/float64(real))
	for _, grouped := range []bool{false, true} {
		b.Run(map[bool]string{false: "padded", true: "groups"}[grouped], func(b *testing.B) {
			defer func(old bool) { byLength = old }(byLength)
			byLength = grouped
			tp := ag.NewTape()
			for i := 0; i < b.N; i++ {
				tp.Reset()
				y := c.Forward(tp, ag.NewVar(x, false), nil)
				if err := tp.Backward(tp.SumAll(tp.Mul(y, y))); err != nil {
					b.Fatal(err)
				}
				for _, p := range c.Params() {
					p.ZeroGrad()
				}
			}
		})
	}
}
