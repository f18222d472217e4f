package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	ag "github.com/glora/glora/autograd"
)

func naiveLayerNorm(x, w, b []float32, c int, eps float64) []float64 {
	out := make([]float64, len(x))
	for r := 0; r < len(x)/c; r++ {
		row := toF64(x[r*c : (r+1)*c])
		var mu, v float64
		for _, e := range row {
			mu += e
		}
		mu /= float64(c)
		for _, e := range row {
			v += (e - mu) * (e - mu)
		}
		v /= float64(c)
		for i, e := range row {
			o := (e - mu) / math.Sqrt(v+eps)
			if w != nil {
				o *= float64(w[i])
			}
			if b != nil {
				o += float64(b[i])
			}
			out[r*c+i] = o
		}
	}
	return out
}

func TestLayerNormForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := randVar(rng, false, 3, 4, 5, 96)
	w := randVar(rng, false, 1, 96)
	b := randVar(rng, false, 1, 96)
	tp := ag.NewTape()
	y := LayerNorm(tp, x, w, b, 1e-5)
	checkClose(t, "layernorm", y.Value.Data, naiveLayerNorm(x.Value.Data, w.Value.Data, b.Value.Data, 96, 1e-5), 1e-5, 1e-4)
	y = LayerNorm(tp, x, nil, nil, 1e-5)
	checkClose(t, "layernorm no affine", y.Value.Data, naiveLayerNorm(x.Value.Data, nil, nil, 96, 1e-5), 1e-5, 1e-4)
	if tp.Err() != nil {
		t.Fatal(tp.Err())
	}
}

func TestLayerNormGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := randVar(rng, true, 1, 2, 3, 6)
	w := randVar(rng, true, 1, 6)
	b := randVar(rng, true, 1, 6)
	gradCheck(t, "layernorm", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
		return LayerNorm(tp, in[0], in[1], in[2], 1e-5)
	}, x, w, b)
	gradCheck(t, "layernorm no affine", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
		return LayerNorm(tp, in[0], nil, nil, 1e-5)
	}, x)
}

// TestLayerNormGradManyRows exercises the per-part weight-gradient reduction
// (enough rows for several parallel parts).
func TestLayerNormGradManyRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := randVar(rng, true, 1, 600, 64)
	w := randVar(rng, true, 1, 64)
	b := randVar(rng, true, 1, 64)
	worst, err := ag.GradCheck(func(tp *ag.Tape, in []*ag.Var) *ag.Var {
		return LayerNorm(tp, in[0], in[1], in[2], 1e-5)
	}, []*ag.Var{x, w, b}, 1e-2, 2e-2, 2e-2, 40)
	t.Logf("max diff %.3g", worst)
	if err != nil {
		t.Fatal(err)
	}
}

func TestRMSNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x := randVar(rng, false, 2, 5, 32)
	w := randVar(rng, false, 1, 32)
	tp := ag.NewTape()
	y := RMSNorm(tp, x, w, 1e-6)
	want := make([]float64, len(x.Value.Data))
	for r := 0; r < 5; r++ {
		var ms float64
		for i := 0; i < 32; i++ {
			v := float64(x.Value.Data[r*32+i])
			ms += v * v
		}
		ms /= 32
		for i := 0; i < 32; i++ {
			want[r*32+i] = float64(x.Value.Data[r*32+i]) / math.Sqrt(ms+1e-6) * float64(w.Value.Data[i])
		}
	}
	checkClose(t, "rmsnorm", y.Value.Data, want, 1e-5, 1e-4)

	xg := randVar(rng, true, 1, 2, 3, 8)
	wg := randVar(rng, true, 1, 8)
	gradCheck(t, "rmsnorm", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
		return RMSNorm(tp, in[0], in[1], 1e-6)
	}, xg, wg)
	gradCheck(t, "rmsnorm no weight", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
		return RMSNorm(tp, in[0], nil, 1e-6)
	}, xg)
}

func TestNormShapeErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := randVar(rng, true, 1, 2, 8)
	tp := ag.NewTape()
	y := LayerNorm(tp, x, randVar(rng, true, 1, 7), nil, 1e-5)
	wantShapeErr(t, "layernorm weight", tp)
	RMSNorm(tp, y, nil, 1e-5) // no-op on a failed tape, keeps the first error
	wantShapeErr(t, "after", tp)

	tp = ag.NewTape()
	LayerNorm(tp, x, nil, randVar(rng, true, 1, 8, 1), 1e-5)
	wantShapeErr(t, "layernorm bias", tp)
	tp = ag.NewTape()
	RMSNorm(tp, x, randVar(rng, true, 1, 9), 1e-5)
	wantShapeErr(t, "rmsnorm weight", tp)
}

func BenchmarkLayerNormViTTiny(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := randVar(rng, true, 1, 32, 197, 192)
	w := randVar(rng, true, 1, 192)
	bias := randVar(rng, true, 1, 192)
	r := make([]float32, x.Value.Numel())
	for i := range r {
		r[i] = 1
	}
	tp := ag.NewTape()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tp.Reset()
		x.ZeroGrad()
		w.ZeroGrad()
		bias.ZeroGrad()
		y := LayerNorm(tp, x, w, bias, 1e-6)
		if err := tp.Backward(benchLoss(tp, y, r)); err != nil {
			b.Fatal(err)
		}
	}
}
