package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// naiveSDPA is attention with explicit loops in float64:
// q (B,H,Tq,D), k, v (B,Hkv,Tk,D), causal aligned at the end.
func naiveSDPA(q, k, v []float32, b, h, hkv, tq, tk, d int, causal bool) []float64 {
	out := make([]float64, b*h*tq*d)
	s := make([]float64, tk)
	for bi := 0; bi < b; bi++ {
		for hi := 0; hi < h; hi++ {
			kh := hi / (h / hkv)
			for i := 0; i < tq; i++ {
				m := math.Inf(-1)
				for j := 0; j < tk; j++ {
					s[j] = math.Inf(-1)
					if causal && j > i+tk-tq {
						continue
					}
					var dot float64
					for e := 0; e < d; e++ {
						dot += float64(q[((bi*h+hi)*tq+i)*d+e]) * float64(k[((bi*hkv+kh)*tk+j)*d+e])
					}
					s[j] = dot / math.Sqrt(float64(d))
					m = math.Max(m, s[j])
				}
				var z float64
				for j := range s {
					s[j] = math.Exp(s[j] - m)
					z += s[j]
				}
				for j := range s {
					for e := 0; e < d; e++ {
						out[((bi*h+hi)*tq+i)*d+e] += s[j] / z * float64(v[((bi*hkv+kh)*tk+j)*d+e])
					}
				}
			}
		}
	}
	return out
}

// splitQKV rearranges timm's qkv (B,T,3C) into q, k, v (B,H,T,D).
func splitQKV(qkv []float32, b, t, h, d int) (q, k, v []float32) {
	c := h * d
	parts := [3][]float32{make([]float32, b*t*c), make([]float32, b*t*c), make([]float32, b*t*c)}
	for bi := 0; bi < b; bi++ {
		for ti := 0; ti < t; ti++ {
			for s := 0; s < 3; s++ {
				for hi := 0; hi < h; hi++ {
					for e := 0; e < d; e++ {
						parts[s][((bi*h+hi)*t+ti)*d+e] = qkv[(bi*t+ti)*3*c+s*c+hi*d+e]
					}
				}
			}
		}
	}
	return parts[0], parts[1], parts[2]
}

// mergeHeads rearranges (B,H,T,D) into (B,T,H·D).
func mergeHeads(x []float64, b, h, t, d int) []float64 {
	out := make([]float64, len(x))
	for bi := 0; bi < b; bi++ {
		for hi := 0; hi < h; hi++ {
			for ti := 0; ti < t; ti++ {
				for e := 0; e < d; e++ {
					out[(bi*t+ti)*h*d+hi*d+e] = x[((bi*h+hi)*t+ti)*d+e]
				}
			}
		}
	}
	return out
}

func TestAttentionForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 5))
	const b, tt, h, d = 2, 7, 3, 4
	qkv := randVar(rng, true, 1, b, tt, 3*h*d)
	q, k, v := splitQKV(qkv.Value.Data, b, tt, h, d)
	for _, causal := range []bool{false, true} {
		want := mergeHeads(naiveSDPA(q, k, v, b, h, h, tt, tt, d, causal), b, h, tt, d)
		tp := ag.NewTape()
		y := Attention(tp, qkv, h, causal)
		if tp.Err() != nil {
			t.Fatal(tp.Err())
		}
		if !tensor.SameShape(y.Value.Shape, []int{b, tt, h * d}) {
			t.Fatalf("shape %v", y.Value.Shape)
		}
		checkClose(t, "attention", y.Value.Data, want, 1e-5, 1e-4)
		// inference (probabilities in scratch, not stored) gives the same values
		tp = ag.NewTape()
		tp.NoGrad = true
		checkClose(t, "attention nograd", Attention(tp, qkv, h, causal).Value.Data, want, 1e-5, 1e-4)
	}
}

func TestAttentionGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 5))
	qkv := randVar(rng, true, 1, 2, 5, 3*8)
	for _, causal := range []bool{false, true} {
		gradCheck(t, "attention", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
			return Attention(tp, in[0], 2, causal)
		}, qkv)
	}
}

// AttentionFirst is Attention's output at token 0, and its gradients are
// those of a loss on that row alone.
func TestAttentionFirst(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	const b, tt, h, d = 2, 7, 3, 4
	qkv := randVar(rng, true, 1, b, tt, 3*h*d)
	q, k, v := splitQKV(qkv.Value.Data, b, tt, h, d)
	all := mergeHeads(naiveSDPA(q, k, v, b, h, h, tt, tt, d, false), b, h, tt, d)
	var want []float64
	for i := 0; i < b; i++ {
		want = append(want, all[i*tt*h*d:i*tt*h*d+h*d]...)
	}
	for _, noGrad := range []bool{false, true} {
		tp := ag.NewTape()
		tp.NoGrad = noGrad
		y := AttentionFirst(tp, qkv, h)
		if tp.Err() != nil {
			t.Fatal(tp.Err())
		}
		if !tensor.SameShape(y.Value.Shape, []int{b, h * d}) {
			t.Fatalf("shape %v", y.Value.Shape)
		}
		checkClose(t, "attention (first query)", y.Value.Data, want, 1e-5, 1e-4)
	}
	gradCheck(t, "attention (first query)", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
		return AttentionFirst(tp, in[0], h)
	}, qkv)
	tp := ag.NewTape()
	if AttentionFirst(tp, randVar(rng, false, 1, b, tt, 3*h*d+1), h); tp.Err() == nil {
		t.Fatal("qkv of 3C+1 columns accepted")
	}
}

// QueryAttention gives row b the causal output of ScaledDotProductAttention
// at position keys[b]−1, and its gradients pass a finite-difference check
// with rows that see one key, some, and all (grouped-query heads included).
func TestQueryAttention(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	const b, h, hkv, tt, d = 3, 4, 2, 6, 4
	keys := []int{1, 4, tt}
	qAll := randVar(rng, false, 1, b, h, tt, d)
	k := randVar(rng, true, 1, b, hkv, tt, d)
	v := randVar(rng, true, 1, b, hkv, tt, d)
	want := naiveSDPA(qAll.Value.Data, k.Value.Data, v.Value.Data, b, h, hkv, tt, tt, d, true)
	q := randVar(rng, true, 1, b, h, 1, d)
	var wantRows []float64
	for bi := 0; bi < b; bi++ {
		for hi := 0; hi < h; hi++ {
			row := ((bi*h+hi)*tt + keys[bi] - 1) * d
			copy(q.Value.Data[(bi*h+hi)*d:(bi*h+hi+1)*d], qAll.Value.Data[row:row+d])
			wantRows = append(wantRows, want[row:row+d]...)
		}
	}
	tp := ag.NewTape()
	y := QueryAttention(tp, q, k, v, keys)
	if tp.Err() != nil {
		t.Fatal(tp.Err())
	}
	checkClose(t, "query attention", y.Value.Data, wantRows, 1e-5, 1e-4)
	gradCheck(t, "query attention", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
		return QueryAttention(tp, in[0], in[1], in[2], keys)
	}, q, k, v)
	for _, bad := range [][]int{{0, 1, 1}, {1, 1, tt + 1}, {1, 1}} {
		tp := ag.NewTape()
		if QueryAttention(tp, q, k, v, bad); tp.Err() == nil {
			t.Fatalf("keys %v accepted", bad)
		}
	}
}

// Attention keeps its probabilities (B, H, Tq, Tk) for the backward pass
// up to keepProbsMax = Tq·Tk and computes them again beyond: the tape then
// holds nothing but the output after the forward pass, and the gradients
// are the same floats either way.
func TestAttentionProbsKeptOrRecomputed(t *testing.T) {
	defer func(v int) { keepProbsMax = v }(keepProbsMax)
	rng := rand.New(rand.NewPCG(2, 6))
	const b, tq, h, d = 2, 20, 2, 4
	qkv := randVar(rng, true, 1, b, tq, 3*h*d)
	q, k, v := randVar(rng, true, 1, b, h, tq, d), randVar(rng, true, 1, b, 1, tq, d), randVar(rng, true, 1, b, 1, tq, d)
	out, probs := int64(b*tq*h*d*4), int64(b*h*tq*tq*4)
	for _, causal := range []bool{false, true} {
		var grads [2][][]float32
		for i, keep := range []int{tq * tq, tq*tq - 1} {
			keepProbsMax = keep
			want := out
			if i == 0 {
				want += probs
			}
			for _, in := range []*ag.Var{qkv, q, k, v} {
				in.Grad = nil
			}
			tp := ag.NewTape()
			y := Attention(tp, qkv, h, causal)
			if got := tp.PoolBytes(); tp.Err() != nil || got != want {
				t.Fatalf("causal %v, keepProbsMax %d: the tape holds %d bytes after the forward pass, want %d (%v)", causal, keep, got, want, tp.Err())
			}
			tp2 := ag.NewTape()
			y2 := ScaledDotProductAttention(tp2, q, k, v, causal)
			if got := tp2.PoolBytes(); tp2.Err() != nil || got != want {
				t.Fatalf("sdpa causal %v, keepProbsMax %d: the tape holds %d bytes after the forward pass, want %d (%v)", causal, keep, got, want, tp2.Err())
			}
			for _, c := range []struct {
				tp *ag.Tape
				y  *ag.Var
			}{{tp, y}, {tp2, y2}} {
				loss := c.tp.SumAll(c.tp.Mul(c.y, c.y))
				if err := c.tp.Backward(loss); err != nil {
					t.Fatal(err)
				}
			}
			for _, in := range []*ag.Var{qkv, q, k, v} {
				grads[i] = append(grads[i], append([]float32(nil), in.Grad.Data...))
			}
		}
		for j := range grads[0] {
			if !slices.Equal(grads[0][j], grads[1][j]) {
				t.Errorf("causal %v: gradient %d differs between kept and recomputed probabilities", causal, j)
			}
		}
	}
}

func TestSDPAForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	cases := []struct{ b, h, hkv, tq, tk, d int }{
		{2, 2, 2, 6, 6, 4}, // multi-head
		{1, 4, 2, 3, 7, 8}, // grouped-query, fewer queries than keys (cache)
		{2, 3, 1, 5, 5, 2}, // multi-query
	}
	for _, c := range cases {
		q := randVar(rng, false, 1, c.b, c.h, c.tq, c.d)
		k := randVar(rng, false, 1, c.b, c.hkv, c.tk, c.d)
		v := randVar(rng, false, 1, c.b, c.hkv, c.tk, c.d)
		for _, causal := range []bool{false, true} {
			tp := ag.NewTape()
			y := ScaledDotProductAttention(tp, q, k, v, causal)
			if tp.Err() != nil {
				t.Fatal(tp.Err())
			}
			checkClose(t, "sdpa", y.Value.Data,
				naiveSDPA(q.Value.Data, k.Value.Data, v.Value.Data, c.b, c.h, c.hkv, c.tq, c.tk, c.d, causal), 1e-5, 1e-4)
		}
	}
}

func TestSDPAGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	q := randVar(rng, true, 1, 2, 4, 3, 4)
	k := randVar(rng, true, 1, 2, 2, 5, 4)
	v := randVar(rng, true, 1, 2, 2, 5, 4)
	for _, causal := range []bool{false, true} {
		gradCheck(t, "sdpa gqa", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
			return ScaledDotProductAttention(tp, in[0], in[1], in[2], causal)
		}, q, k, v)
	}
	// only some inputs need a gradient
	q2 := randVar(rng, true, 1, 1, 2, 4, 3)
	k2 := randVar(rng, false, 1, 1, 2, 4, 3)
	v2 := randVar(rng, true, 1, 1, 2, 4, 3)
	gradCheck(t, "sdpa partial", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
		return ScaledDotProductAttention(tp, in[0], in[1], in[2], true)
	}, q2, k2, v2)
}

func TestAttentionShapeErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	tp := ag.NewTape()
	Attention(tp, randVar(rng, true, 1, 2, 3, 10), 1, false) // 10 not divisible by 3
	wantShapeErr(t, "qkv width", tp)
	tp = ag.NewTape()
	Attention(tp, randVar(rng, true, 1, 2, 3, 12), 3, false) // C = 4 not divisible by 3 heads
	wantShapeErr(t, "heads", tp)
	tp = ag.NewTape()
	Attention(tp, randVar(rng, true, 1, 6, 12), 1, false)
	wantShapeErr(t, "rank", tp)
	tp = ag.NewTape()
	q := randVar(rng, true, 1, 1, 4, 3, 8)
	ScaledDotProductAttention(tp, q, randVar(rng, true, 1, 1, 3, 3, 8), randVar(rng, true, 1, 1, 3, 3, 8), false)
	wantShapeErr(t, "sdpa kv heads", tp)
	tp = ag.NewTape()
	ScaledDotProductAttention(tp, q, randVar(rng, true, 1, 1, 4, 3, 8), randVar(rng, true, 1, 1, 4, 2, 8), false)
	wantShapeErr(t, "sdpa k vs v", tp)
	tp = ag.NewTape()
	ScaledDotProductAttention(tp, q, randVar(rng, true, 1, 1, 4, 3, 4), randVar(rng, true, 1, 1, 4, 3, 4), false)
	wantShapeErr(t, "sdpa head size", tp)
}

// BenchmarkAttention times one forward and backward pass of self-attention
// at ViT-Tiny's 224² shape and at the shipped backbone's (28×28 images,
// batch 128).
func BenchmarkAttention(b *testing.B) {
	for _, c := range []struct {
		name          string
		bsz, tt, c, h int
		first         bool // AttentionFirst: the cls token's row alone
		prec          tensor.Precision
	}{{"vit-tiny", 32, 197, 192, 3, false, tensor.F32}, {"shipped", 128, 50, 128, 4, false, tensor.F32},
		{"first/vit-tiny", 32, 197, 192, 3, true, tensor.F32}, {"first/shipped", 128, 50, 128, 4, true, tensor.F32},
		{"vit-tiny/bf16", 32, 197, 192, 3, false, tensor.BF16}, {"shipped/bf16", 128, 50, 128, 4, false, tensor.BF16}} {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			qkv := randVar(rng, true, 1, c.bsz, c.tt, 3*c.c)
			r := make([]float32, c.bsz*c.tt*c.c)
			if c.first {
				r = r[:c.bsz*c.c]
			}
			for i := range r {
				r[i] = float32(rng.NormFloat64())
			}
			tp := ag.NewTape()
			tp.Precision = c.prec
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tp.Reset()
				qkv.ZeroGrad()
				var y *ag.Var
				if c.first {
					y = AttentionFirst(tp, qkv, c.h)
				} else {
					y = Attention(tp, qkv, c.h, false)
				}
				if err := tp.Backward(benchLoss(tp, y, r)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCausalBlocks covers causal attention long enough to be split into
// row blocks (each multiplying only the keys it can see).
func TestCausalBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 5))
	for _, c := range []struct{ tq, tk int }{{150, 150}, {98, 130}} {
		q := randVar(rng, true, 1, 1, 2, c.tq, 2)
		k := randVar(rng, true, 1, 1, 1, c.tk, 2)
		v := randVar(rng, true, 1, 1, 1, c.tk, 2)
		tp := ag.NewTape()
		y := ScaledDotProductAttention(tp, q, k, v, true)
		checkClose(t, "causal blocks", y.Value.Data, naiveSDPA(q.Value.Data, k.Value.Data, v.Value.Data, 1, 2, 1, c.tq, c.tk, 2, true), 1e-5, 1e-4)
		// every element: a block's edge rows and keys must not be missed
		worst, err := ag.GradCheck(func(tp *ag.Tape, in []*ag.Var) *ag.Var {
			return ScaledDotProductAttention(tp, in[0], in[1], in[2], true)
		}, []*ag.Var{q, k, v}, 1e-2, 1e-2, 1e-2, 0)
		t.Logf("tq %d tk %d: max diff %.3g", c.tq, c.tk, worst)
		if err != nil {
			t.Fatal(err)
		}
	}
	qkv := randVar(rng, true, 1, 1, 100, 3*8)
	q, k, v := splitQKV(qkv.Value.Data, 1, 100, 2, 4)
	tp := ag.NewTape()
	checkClose(t, "attention causal blocks", Attention(tp, qkv, 2, true).Value.Data,
		mergeHeads(naiveSDPA(q, k, v, 1, 2, 2, 100, 100, 4, true), 1, 2, 100, 4), 1e-5, 1e-4)
}

// TestCachedAttention: queries against the first tk positions of a larger
// cache give ScaledDotProductAttention's causal output over those keys; a
// tape that records gradients is refused.
func TestCachedAttention(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	b, h, hkv, tq, tk, tmax, d := 2, 4, 2, 3, 7, 10, 4
	q := randVar(rng, false, 1, b, h, tq, d)
	k := randVar(rng, false, 1, b, hkv, tk, d)
	v := randVar(rng, false, 1, b, hkv, tk, d)
	kc, vc := tensor.New(b, hkv, tmax, d), tensor.New(b, hkv, tmax, d)
	for i := range kc.Data {
		kc.Data[i], vc.Data[i] = 1e3, -1e3 // beyond tk: must never be read
	}
	for g := 0; g < b*hkv; g++ {
		copy(kc.Data[g*tmax*d:], k.Value.Data[g*tk*d:(g+1)*tk*d])
		copy(vc.Data[g*tmax*d:], v.Value.Data[g*tk*d:(g+1)*tk*d])
	}
	tp := ag.NewTape()
	tp.NoGrad = true
	y := CachedAttention(tp, q, kc, vc, tk)
	if tp.Err() != nil {
		t.Fatal(tp.Err())
	}
	checkClose(t, "cached", y.Value.Data,
		naiveSDPA(q.Value.Data, k.Value.Data, v.Value.Data, b, h, hkv, tq, tk, d, true), 1e-5, 1e-4)
	if tp2 := ag.NewTape(); CachedAttention(tp2, q, kc, vc, tk) != nil && tp2.Err() == nil {
		t.Fatal("a recording tape was accepted")
	}
	tp4 := ag.NewTape()
	tp4.NoGrad = true
	if CachedAttention(tp4, q, kc, vc, tmax+1); tp4.Err() == nil {
		t.Fatal("tk beyond the cache was accepted")
	}
}

// TestAttentionGradIntoGarbage: the gradient buffer of an Attention input
// made on the tape comes from the tape's pool uninitialised, and the
// backward pass stores into it (beta 0, or clearing where causal row
// blocks accumulate); a leaf's gradient it accumulates into. Both give the
// same floats. The pool is seeded with NaNs: an element accumulated into
// instead of stored, or one never written, fails, and so does a store
// where row blocks or heads must accumulate.
func TestAttentionGradIntoGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	for _, c := range []struct {
		tt            int
		causal, first bool // first: AttentionFirst, whose q gradient is row 0 alone
	}{{9, false, false}, {9, true, false}, {150, true, false}, {9, false, true}} { // 150: causal row blocks of 64
		const b, h, d = 2, 3, 4
		qkv := randVar(rng, true, 1, b, c.tt, 3*h*d)
		zero := ag.NewVar(tensor.New(qkv.Value.Shape...), false)
		attn := func(tp *ag.Tape, x *ag.Var) *ag.Var {
			if c.first {
				return AttentionFirst(tp, x, h)
			}
			return Attention(tp, x, h, c.causal)
		}
		r := make([]float32, b*c.tt*h*d)
		if c.first {
			r = r[:b*h*d]
		}
		for i := range r {
			r[i] = float32(rng.NormFloat64())
		}
		// accumulated into the leaf's zeroed gradient
		qkv.Grad = tensor.New(qkv.Value.Shape...)
		tp := ag.NewTape()
		if err := tp.Backward(benchLoss(tp, attn(tp, qkv), r)); err != nil {
			t.Fatal(err)
		}
		want := qkv.Grad.Data
		// stored into a fresh buffer of the tape, from a pool of NaNs
		tp = ag.NewTape()
		seeded := map[*float32]bool{}
		var bufs []*tensor.Tensor
		for range 6 { // x's value takes one, its gradient another (and requests of half their size or more may take some)
			g := tp.AllocRaw(qkv.Value.Shape...)
			for i := range g.Data {
				g.Data[i] = float32(math.NaN())
			}
			seeded[&g.Data[0]] = true
			bufs = append(bufs, g)
		}
		for _, g := range bufs {
			tp.Release(g)
		}
		x := tp.Add(qkv, zero) // on the tape: its gradient buffer is the tape's
		var got []float32
		var reused bool
		tp.Record(x, func() { // runs after Attention's backward
			got, reused = append([]float32(nil), x.Grad.Data...), seeded[&x.Grad.Data[0]]
		})
		if err := tp.Backward(benchLoss(tp, attn(tp, x), r)); err != nil {
			t.Fatal(err)
		}
		if !reused {
			t.Fatalf("T %d causal %v: the backward pass did not get a seeded buffer", c.tt, c.causal)
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("T %d causal %v: gradient %d = %g stored into garbage, %g accumulated", c.tt, c.causal, i, got[i], want[i])
			}
		}
	}
}
