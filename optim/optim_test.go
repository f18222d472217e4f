package optim

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glora/glora/autograd"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

// readRef reads a fixture from testdata/ref.
func readRef(t *testing.T, name string) map[string]*tensor.Tensor {
	t.Helper()
	m, _, err := safetensors.ReadFile(filepath.Join("..", "testdata", "ref", name))
	if err != nil {
		t.Fatalf("%v (regenerate: /usr/bin/python3 reference/make_fixtures.py)", err)
	}
	return m
}

func ref(t *testing.T, m map[string]*tensor.Tensor, key string) *tensor.Tensor {
	t.Helper()
	v, ok := m[key]
	if !ok {
		t.Fatalf("fixture has no %q", key)
	}
	return v
}

// checkTensor compares got against want elementwise, like llm.c's
// check_tensor: it logs the max absolute difference and fails when any
// element is off by more than 1e-6 + 1e-5·|want|.
func checkTensor(t *testing.T, label string, got []float32, want *tensor.Tensor) {
	t.Helper()
	if len(got) != len(want.Data) {
		t.Errorf("%s: %d values, want %d", label, len(got), len(want.Data))
		return
	}
	maxd, bad := 0.0, -1
	for i, w := range want.Data {
		d := math.Abs(float64(got[i]) - float64(w))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		maxd = max(maxd, d)
		if bad < 0 && d > 1e-6+1e-5*math.Abs(float64(w)) {
			bad = i
		}
	}
	t.Logf("%-28s max abs diff %.3g", label, maxd)
	if bad >= 0 {
		t.Errorf("%s: element %d is %v, want %v", label, bad, got[bad], want.Data[bad])
	}
}

// fixtureParams builds the named params "w" (4,3) and "b" (3) from the
// fixture's initial values under prefix, with w in a group decaying by wdW.
func fixtureParams(t *testing.T, m map[string]*tensor.Tensor, prefix string, wdW float64) (map[string]*autograd.Var, []*autograd.Var, []Group) {
	ps := map[string]*autograd.Var{}
	for _, k := range []string{"w", "b"} {
		ps[k] = autograd.Param(k, ref(t, m, prefix+".init."+k).Clone())
	}
	list := []*autograd.Var{ps["w"], ps["b"]}
	return ps, list, []Group{{Params: list[:1], WeightDecay: wdW}, {Params: list[1:], WeightDecay: 0}}
}

func setGrads(t *testing.T, m map[string]*tensor.Tensor, prefix string, step int, ps map[string]*autograd.Var) {
	for k, p := range ps {
		p.Grad = ref(t, m, fmt.Sprintf("%s.grad.%d.%s", prefix, step, k)).Clone()
	}
}

func TestAdamWMatchesTorch(t *testing.T) {
	m := readRef(t, "adamw.safetensors")
	ps, list, groups := fixtureParams(t, m, "adamw", 0.05)
	opt := NewAdamW(groups, 1e-2, 0.9, 0.999, 1e-8)
	for s := range 5 {
		setGrads(t, m, "adamw", s, ps)
		norm := ClipGradNorm(list, 1.0)
		checkTensor(t, fmt.Sprintf("step %d norm", s), []float32{float32(norm)}, ref(t, m, fmt.Sprintf("adamw.norm.%d", s)))
		for _, k := range []string{"w", "b"} {
			checkTensor(t, fmt.Sprintf("step %d clipped grad %s", s, k), ps[k].Grad.Data, ref(t, m, fmt.Sprintf("adamw.clipped.%d.%s", s, k)))
		}
		if err := opt.Update(); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"w", "b"} {
			checkTensor(t, fmt.Sprintf("step %d param %s", s, k), ps[k].Value.Data, ref(t, m, fmt.Sprintf("adamw.param.%d.%s", s, k)))
		}
	}
	st := opt.State()
	for _, k := range []string{"w.exp_avg", "w.exp_avg_sq", "b.exp_avg", "b.exp_avg_sq"} {
		checkTensor(t, "state "+k, st[k].Data, ref(t, m, "adamw.state."+k))
	}
	if st["step"].Data[0] != 5 || st["w.step"].Data[0] != 5 {
		t.Errorf("state steps = %v, %v, want 5", st["step"].Data, st["w.step"].Data)
	}
}

func TestSGDMatchesTorch(t *testing.T) {
	m := readRef(t, "adamw.safetensors")
	for _, prefix := range []string{"sgd", "nesterov"} {
		ps, _, groups := fixtureParams(t, m, prefix, 0.01)
		opt := NewSGD(groups, 0.1, 0.9, prefix == "nesterov")
		for s := range 5 {
			setGrads(t, m, prefix, s, ps)
			if err := opt.Update(); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"w", "b"} {
				checkTensor(t, fmt.Sprintf("%s step %d param %s", prefix, s, k), ps[k].Value.Data, ref(t, m, fmt.Sprintf("%s.param.%d.%s", prefix, s, k)))
			}
		}
	}
}

func TestCosine(t *testing.T) {
	m := readRef(t, "adamw.safetensors")
	c := Cosine{Peak: 1e-3, Min: 1e-5, WarmupStart: 1e-6, WarmupSteps: 5, TotalSteps: 20}
	steps, want := ref(t, m, "cosine.step"), ref(t, m, "cosine.lr")
	got := make([]float32, len(steps.Data))
	for i, s := range steps.Data {
		got[i] = float32(c.LR(int(s)))
	}
	checkTensor(t, "cosine lr", got, want)
	// Shape of the curve, independent of the fixture.
	if c.LR(0) != 1e-6 || c.LR(5) != 1e-3 || c.LR(20) != 1e-5 || c.LR(1000) != 1e-5 {
		t.Errorf("endpoints: %v %v %v %v", c.LR(0), c.LR(5), c.LR(20), c.LR(1000))
	}
	if want := 1e-5 + 0.5*(1e-3-1e-5)*(1+math.Cos(math.Pi*7/15)); math.Abs(c.LR(12)-want) > 1e-15 {
		t.Errorf("LR(12) = %v, want %v", c.LR(12), want)
	}
	for s := 1; s < 25; s++ {
		if up := s <= 5; up != (c.LR(s) > c.LR(s-1)) && c.LR(s) != c.LR(s-1) {
			t.Errorf("LR not monotone at step %d: %v → %v", s, c.LR(s-1), c.LR(s))
		}
	}
	if got := (Cosine{Peak: 2, Min: 0, TotalSteps: 10}).LR(0); got != 2 {
		t.Errorf("no warm-up: LR(0) = %v, want the peak", got)
	}
}

func TestDecayGroups(t *testing.T) {
	mk := func(name string, shape ...int) *autograd.Var { return autograd.Param(name, tensor.New(shape...)) }
	ps := []*autograd.Var{
		mk("blocks.0.attn.qkv.weight", 6, 2), mk("blocks.0.attn.qkv.bias", 6), mk("norm.weight", 2),
		mk("pos_embed", 1, 3, 2), mk("cls_token", 1, 1, 2), mk("head.weight", 3, 2), mk("glora.A_bias", 2, 2),
	}
	gs := DecayGroups(ps, 0.05, nil)
	if len(gs) != 2 || gs[0].WeightDecay != 0.05 || gs[1].WeightDecay != 0 {
		t.Fatalf("groups %+v", gs)
	}
	names := func(g Group) (s []string) {
		for _, p := range g.Params {
			s = append(s, p.Name)
		}
		return s
	}
	if got := names(gs[0]); !slices.Equal(got, []string{"blocks.0.attn.qkv.weight", "head.weight"}) {
		t.Errorf("decay group %v", got)
	}
	if got := names(gs[1]); len(got) != 5 {
		t.Errorf("no-decay group %v", got)
	}
	custom := DecayGroups(ps, 0.1, func(p *autograd.Var) bool { return strings.HasPrefix(p.Name, "head") })
	if len(custom) != 2 || len(custom[0].Params) != 6 || custom[1].Params[0].Name != "head.weight" {
		t.Errorf("custom rule groups %+v", custom)
	}
	if one := DecayGroups(ps[:1], 0.1, nil); len(one) != 1 {
		t.Errorf("empty group not omitted: %+v", one)
	}
}

func TestClipGradNorm(t *testing.T) {
	a := autograd.Param("a", tensor.New(2))
	b := autograd.Param("b", tensor.New(1))
	c := autograd.Param("c", tensor.New(3)) // nil Grad: skipped
	a.Grad, _ = tensor.FromSlice([]float32{3, 0}, 2)
	b.Grad, _ = tensor.FromSlice([]float32{4}, 1)
	ps := []*autograd.Var{a, b, c}
	if n := ClipGradNorm(ps, 10); n != 5 || a.Grad.Data[0] != 3 {
		t.Errorf("below threshold: norm %v, grad %v", n, a.Grad.Data)
	}
	if n := ClipGradNorm(ps, 1); n != 5 || math.Abs(float64(a.Grad.Data[0])-0.6) > 1e-6 || math.Abs(float64(b.Grad.Data[0])-0.8) > 1e-6 {
		t.Errorf("clip to 1: norm %v, grads %v %v", n, a.Grad.Data, b.Grad.Data)
	}
	b.Grad.Data[0] = float32(math.NaN())
	if n := ClipGradNorm(ps, 1e-3); !math.IsNaN(n) || a.Grad.Data[0] == 0 || math.Abs(float64(a.Grad.Data[0])-0.6) > 1e-6 {
		t.Errorf("NaN: norm %v, grads touched %v", n, a.Grad.Data)
	}
	b.Grad.Data[0] = float32(math.Inf(1))
	if n := ClipGradNorm(ps, 1); !math.IsInf(n, 1) {
		t.Errorf("Inf: norm %v", n)
	}
	// Big gradient: blocked parallel sum equals the serial float64 sum.
	rng := rand.New(rand.NewPCG(1, 2))
	big := autograd.Param("big", tensor.New(3*block+17))
	big.Grad = tensor.New(3*block + 17)
	var want float64
	for i := range big.Grad.Data {
		big.Grad.Data[i] = float32(rng.NormFloat64())
		want += float64(big.Grad.Data[i]) * float64(big.Grad.Data[i])
	}
	want = math.Sqrt(want)
	if n := ClipGradNorm([]*autograd.Var{big}, 1); math.Abs(n-want) > 1e-9*want {
		t.Errorf("big norm %v, want %v", n, want)
	}
	if n := ClipGradNorm([]*autograd.Var{big}, 0); math.Abs(n-1) > 1e-5 {
		t.Errorf("after clipping to 1 the norm is %v", n)
	}
}

// adamRef is a scalar float64 AdamW for one parameter, written from the
// formula rather than from the fused loop.
func adamRef(w, g, m, v []float64, step int, lr, b1, b2, eps, wd float64) {
	for i := range w {
		w[i] *= 1 - lr*wd
		m[i] = b1*m[i] + (1-b1)*g[i]
		v[i] = b2*v[i] + (1-b2)*g[i]*g[i]
		mh := m[i] / (1 - math.Pow(b1, float64(step)))
		vh := v[i] / (1 - math.Pow(b2, float64(step)))
		w[i] -= lr * mh / (math.Sqrt(vh) + eps)
	}
}

func TestAdamWBigParamMatchesScalar(t *testing.T) {
	n := 4*block + 5 // several parallel blocks and a ragged tail
	rng := rand.New(rand.NewPCG(3, 4))
	p := autograd.Param("p", tensor.New(n))
	p.Grad = tensor.New(n)
	w, g, m, v := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range w {
		p.Value.Data[i] = float32(rng.NormFloat64())
		w[i] = float64(p.Value.Data[i])
	}
	opt := NewAdamW([]Group{{Params: []*autograd.Var{p}, WeightDecay: 0.1}}, 3e-3, 0.9, 0.95, 1e-8)
	for s := 1; s <= 3; s++ {
		for i := range g {
			p.Grad.Data[i] = float32(rng.NormFloat64())
			g[i] = float64(p.Grad.Data[i])
		}
		if err := opt.Update(); err != nil {
			t.Fatal(err)
		}
		adamRef(w, g, m, v, s, 3e-3, 0.9, 0.95, 1e-8, 0.1)
	}
	want := &tensor.Tensor{Shape: []int{n}, Data: make([]float32, n)}
	for i := range w {
		want.Data[i] = float32(w[i])
	}
	checkTensor(t, "big param after 3 steps", p.Value.Data, want)
}

func TestAdamWSkipsNilGradAndBadShape(t *testing.T) {
	a := autograd.Param("a", tensor.New(2))
	b := autograd.Param("b", tensor.New(2))
	a.Value.Data[0], b.Value.Data[0] = 1, 1
	a.Grad = tensor.New(2)
	a.Grad.Data[0] = 1
	opt := NewAdamW([]Group{{Params: []*autograd.Var{a, b}, WeightDecay: 0.5}}, 0.1, 0.9, 0.999, 1e-8)
	if err := opt.Update(); err != nil {
		t.Fatal(err)
	}
	if b.Value.Data[0] != 1 || a.Value.Data[0] >= 1 {
		t.Errorf("a=%v (want decreased) b=%v (want untouched)", a.Value.Data, b.Value.Data)
	}
	if st := opt.State(); st["a.step"].Data[0] != 1 || st["b.step"].Data[0] != 0 {
		t.Errorf("per-param steps a=%v b=%v, want 1 and 0", st["a.step"].Data, st["b.step"].Data)
	}
	b.Grad = tensor.New(3)
	before := a.Value.Data[0]
	if err := opt.Update(); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("mismatched gradient: err = %v", err)
	}
	if a.Value.Data[0] != before || opt.Step != 1 {
		t.Errorf("failed Update changed state")
	}
}

func TestAdamWStateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	mk := func() (*AdamW, []*autograd.Var) {
		w := autograd.Param("w", tensor.New(3, 2))
		b := autograd.Param("", tensor.New(2)) // unnamed: keyed param1
		ps := []*autograd.Var{w, b}
		return NewAdamW(DecayGroups(ps, 0.05, nil), 1e-2, 0.9, 0.999, 1e-8), ps
	}
	grads := func(ps []*autograd.Var, r *rand.Rand) {
		for _, p := range ps {
			p.Grad = tensor.New(p.Value.Shape...)
			for i := range p.Grad.Data {
				p.Grad.Data[i] = float32(r.NormFloat64())
			}
		}
	}
	o1, p1 := mk()
	for range 3 {
		grads(p1, rng)
		o1.Update()
	}
	st := o1.State()
	if _, ok := st["param1.exp_avg"]; !ok {
		t.Fatalf("unnamed param key missing: %v", slices.Sorted(maps.Keys(st)))
	}
	o2, p2 := mk()
	for i := range p1 {
		copy(p2[i].Value.Data, p1[i].Value.Data)
	}
	if err := o2.Load(st); err != nil {
		t.Fatal(err)
	}
	if o2.Step != 3 {
		t.Errorf("loaded Step %d", o2.Step)
	}
	st["w.exp_avg"].Data[0] = 1e9 // Load must have copied
	seed := rand.New(rand.NewPCG(7, 8))
	grads(p1, seed)
	for i := range p2 {
		p2[i].Grad = p1[i].Grad.Clone()
	}
	o1.Update()
	o2.Update()
	for i := range p1 {
		if !slices.Equal(p1[i].Value.Data, p2[i].Value.Data) {
			t.Errorf("param %d differs after resume: %v vs %v", i, p1[i].Value.Data, p2[i].Value.Data)
		}
	}

	// Errors name the entry; a failed Load changes nothing.
	good := o2.State()
	for _, tc := range []struct{ drop, reshape, want string }{
		{drop: "w.exp_avg_sq", want: `"w.exp_avg_sq" missing`},
		{drop: "step", want: `"step"`},
		{reshape: "param1.exp_avg", want: `"param1.exp_avg"`},
	} {
		bad := map[string]*tensor.Tensor{}
		for k, v := range good {
			bad[k] = v
		}
		delete(bad, tc.drop)
		if tc.reshape != "" {
			bad[tc.reshape] = tensor.New(5)
		}
		err := o2.Load(bad)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load without %q / with bad %q: err = %v, want mention of %s", tc.drop, tc.reshape, err, tc.want)
		}
	}
	if o2.Step != 4 {
		t.Errorf("failed Load changed Step to %d", o2.Step)
	}
}

func TestSGDStateRoundTrip(t *testing.T) {
	mk := func() (*SGD, *autograd.Var) {
		w := autograd.Param("w", tensor.New(2))
		w.Grad, _ = tensor.FromSlice([]float32{1, -1}, 2)
		return NewSGD([]Group{{Params: []*autograd.Var{w}}}, 0.1, 0.9, false), w
	}
	o, w := mk()
	o.Update()
	st := o.State()
	if got := st["w.momentum_buffer"]; got == nil || got.Data[0] != 1 {
		t.Fatalf("momentum buffer %v", got)
	}
	o2, w2 := mk()
	copy(w2.Value.Data, w.Value.Data)
	if err := o2.Load(st); err != nil {
		t.Fatal(err)
	}
	o.Update()
	o2.Update()
	// second step: b = 0.9·1 + 1 = 1.9, w = −0.1 − 0.1·1.9 = −0.29
	if !slices.Equal(w.Value.Data, w2.Value.Data) || math.Abs(float64(w.Value.Data[0])+0.29) > 1e-6 {
		t.Errorf("after resume %v vs %v, want −0.29", w.Value.Data, w2.Value.Data)
	}
	if err := o2.Load(map[string]*tensor.Tensor{"w.momentum_buffer": tensor.New(3)}); err == nil || !strings.Contains(err.Error(), "w.momentum_buffer") {
		t.Errorf("bad buffer: err = %v", err)
	}
}

// BenchmarkAdamW updates ViT-Tiny's 5.7M parameters (as 12 blocks' worth of
// matrices and vectors).
func BenchmarkAdamW(b *testing.B) {
	var ps []*autograd.Var
	for l := 0; l < 12; l++ {
		for _, sh := range [][]int{{576, 192}, {192, 192}, {768, 192}, {192, 768}, {576}, {192}, {768}, {192}, {192}, {192}} {
			p := autograd.Param(fmt.Sprintf("blocks.%d.%v", l, sh), tensor.New(sh...))
			p.Grad = tensor.New(sh...)
			for i := range p.Grad.Data {
				p.Grad.Data[i] = float32(i%7) - 3
			}
			ps = append(ps, p)
		}
	}
	n := 0
	for _, p := range ps {
		n += len(p.Value.Data)
	}
	o := NewAdamW(DecayGroups(ps, 0.05, nil), 1e-3, 0.9, 0.999, 1e-8)
	b.SetBytes(int64(n) * 16) // read w, g, m, v; write w, m, v
	for b.Loop() {
		o.Update()
	}
	b.ReportMetric(float64(n), "params")
}
