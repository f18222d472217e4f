package glora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// randTensor is a tensor of N(0, std²) values.
func randTensor(rng *rand.Rand, std float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64() * std)
	}
	return t
}

// testBase is a random frozen Linear (out, in), with or without a bias.
func testBase(rng *rand.Rand, out, in int, bias bool) *nn.Linear {
	l := &nn.Linear{W: ag.NewVar(randTensor(rng, 0.5, out, in), false)}
	if bias {
		l.B = ag.NewVar(randTensor(rng, 0.5, out), false)
	}
	return l
}

// testLayer wraps a random base with stored rank R whose every stored
// tensor is random (so every path reads something non-zero).
func testLayer(t *testing.T, out, in, R int, bias bool, seed uint64) *Layer {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	l, err := NewLayer("blocks.0.mlp.fc1", testBase(rng, out, in, bias), R, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range l.Vars() {
		copy(v.Value.Data, randTensor(rng, 0.4, v.Value.Shape...).Data)
	}
	return l
}

// pathChoices lists every path kind of every support tensor alone (lora at
// the full stored rank R and sliced to r < R), then mixes.
func pathChoices(R, r int) []LayerChoice {
	var out []LayerChoice
	for s := range numSupports {
		kinds := []Choice{ChoiceVector}
		if s != C {
			kinds = append(kinds, ChoiceConstant)
		}
		if s == A || s == B || s == C {
			kinds = append(kinds, LoRAChoice(R), LoRAChoice(r))
		}
		for _, c := range kinds {
			var lc LayerChoice
			lc[s] = c
			out = append(out, lc)
		}
	}
	L, l := LoRAChoice(R), LoRAChoice(r)
	v, k := ChoiceVector, ChoiceConstant
	return append(out,
		LayerChoice{A: L, B: L, C: L, D: k, E: k}, // PEFT's default
		LayerChoice{A: l, B: L, C: l, D: v, E: v},
		LayerChoice{A: L, B: v, C: v, D: v, E: k},
		LayerChoice{A: l, B: k},
		LayerChoice{A: v, B: L, C: v, D: v, E: v},
		LayerChoice{A: k, B: v, C: L, D: k, E: v},
		LayerChoice{A: v, B: k, D: v},
		LayerChoice{A: k, B: l, E: v},
		LayerChoice{A: v, D: v, E: v}, // SSF-like
	)
}

// noBias clears C, D, E (what a bias-less layer allows without AddBias).
func noBias(lc LayerChoice) LayerChoice {
	lc[C], lc[D], lc[E] = ChoiceNone, ChoiceNone, ChoiceNone
	return lc
}

func TestLayerGradCheck(t *testing.T) {
	type tc struct {
		name       string
		out, in, R int
		r          int
		bias       bool
		batchShape []int
	}
	for _, c := range []tc{
		{"bias R=4", 6, 5, 4, 2, true, []int{2, 3}},
		{"no-bias R=4", 5, 7, 4, 2, false, []int{4}},
		{"bias R=1", 3, 4, 1, 1, true, []int{5}},
	} {
		for i, lc := range pathChoices(c.R, c.r) {
			if lc.IsBase() {
				continue
			}
			name := fmt.Sprintf("%s/%d %v", c.name, i, lc)
			l := testLayer(t, c.out, c.in, c.R, c.bias, uint64(i+1))
			if err := l.SetChoice(lc); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(uint64(i), 5))
			x := ag.NewVar(randTensor(rng, 1, append(append([]int(nil), c.batchShape...), c.in)...), true)
			x.Name = "x"
			inputs := append([]*ag.Var{x}, l.used(lc)...)
			worst, err := ag.GradCheck(func(tp *ag.Tape, in []*ag.Var) *ag.Var {
				return l.Forward(tp, in[0])
			}, inputs, 1e-2, 2e-3, 2e-3, 0)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if worst > 1e-3 {
				t.Logf("%s: max |analytic−numeric| %.3g", name, worst)
			}
		}
	}
}

// naiveForward is the layer built from plain autograd ops, W' in full as the
// reference code does: W' = W0 + W0⊙A + B, b' = b0 + b0⊙D + E + W0·C,
// y = x·W'ᵀ + b'.
func naiveForward(tp *ag.Tape, l *Layer, x *ag.Var) *ag.Var {
	v, lc := l.Vars(), l.Choice()
	w0 := ag.NewVar(l.Base().W.Value, false)
	out := l.Out()
	first := func(a *ag.Var, axis, n int) *ag.Var { return tp.Slice(a, axis, 0, n) }
	weightPath := func(xd, xu *ag.Var, c Choice) *ag.Var {
		switch c.Kind {
		case LoRA:
			return tp.MatMul(first(xd, 1, c.Rank), first(xu, 0, c.Rank), false, false) // (out, in)
		case Vector:
			return first(xd, 1, 1) // (out, 1)
		case Constant:
			return first(first(xd, 0, 1), 1, 1) // (1, 1)
		}
		return nil
	}
	wp := w0
	if a := weightPath(v[iAd], v[iAu], lc[A]); a != nil {
		wp = tp.Add(wp, tp.Mul(w0, a))
	}
	if b := weightPath(v[iBd], v[iBu], lc[B]); b != nil {
		wp = tp.Add(wp, b)
	}
	var bias *ag.Var
	if l.Base().B != nil {
		bias = ag.NewVar(l.Base().B.Value, false)
	} else {
		bias = ag.NewVar(tensor.New(out), false)
	}
	b0 := bias
	vec := func(x *ag.Var, c Choice) *ag.Var {
		if c.Kind == Constant {
			return first(x, 0, 1)
		}
		return x
	}
	if lc[D].Kind != None {
		bias = tp.Add(bias, tp.Mul(b0, vec(v[iD], lc[D])))
	}
	if lc[E].Kind != None {
		bias = tp.Add(bias, vec(v[iE], lc[E]))
	}
	var c *ag.Var
	switch lc[C].Kind {
	case LoRA:
		c = tp.MatMul(first(v[iCd], 1, lc[C].Rank), first(v[iCu], 0, lc[C].Rank), false, false) // (in, 1)
	case Vector:
		c = first(v[iCd], 1, 1)
	}
	if c != nil {
		bias = tp.Add(bias, tp.Reshape(tp.MatMul(w0, c, false, false), out))
	}
	return tp.Linear(x, wp, bias)
}

// runWithGrads runs f on a fresh tape, back-propagates L = Σ y⊙proj and
// returns y and copies of the gradients of vs (nil where none reached).
func runWithGrads(t *testing.T, f func(tp *ag.Tape) *ag.Var, proj *tensor.Tensor, vs []*ag.Var) (*tensor.Tensor, []*tensor.Tensor) {
	t.Helper()
	for _, v := range vs {
		v.Grad = nil
	}
	tp := ag.NewTape()
	y := f(tp)
	loss := tp.SumAll(tp.Mul(y, ag.NewVar(proj, false)))
	grads := make([]*tensor.Tensor, len(vs))
	if !loss.RequiresGrad { // everything the choice reads is frozen
		return y.Value.Clone(), grads
	}
	if err := tp.Backward(loss); err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v.Grad != nil {
			grads[i] = v.Grad.Clone()
		}
	}
	return y.Value.Clone(), grads
}

// maxAbsDiff is the largest |a−b| (Inf for a NaN or a length mismatch).
func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		m = max(m, d)
	}
	return m
}

// TestFusedMatchesNaive compares the fused op with W' built in full from
// plain autograd ops: outputs and the gradients of x and every stored
// tensor, for every path choice and random structures, with and without a
// bias, with everything trainable and with x or some stored tensors frozen.
func TestFusedMatchesNaive(t *testing.T) {
	const out, in, R = 24, 16, 4
	sp := Space{Ranks: []int{2, 4}, AddBias: true}
	rng := rand.New(rand.NewPCG(9, 9))
	choices := pathChoices(R, 2)
	for range 20 {
		choices = append(choices, sp.SampleLayer(rng, Target{In: in, Out: out, HasBias: true}))
	}
	worstY, worstG := 0.0, 0.0
	// frozen: 0 everything trains; 1 x frozen (a layer after a frozen one);
	// 2 x and the down halves Ad, Bd, Cd frozen (only the up halves, D, E train)
	for run := range 6 {
		bias, frozen := run%2 == 0, run/2
		for i, lc := range choices {
			l := testLayer(t, out, in, R, bias, uint64(100+i))
			if err := l.SetChoice(lc); err != nil {
				t.Fatal(err)
			}
			x := ag.NewVar(randTensor(rng, 1, 3, 7, in), frozen == 0)
			lv := l.Vars()
			if frozen == 2 {
				lv[iAd].RequiresGrad, lv[iBd].RequiresGrad, lv[iCd].RequiresGrad = false, false, false
			}
			proj := randTensor(rng, 1, 3, 7, out)
			vs := append([]*ag.Var{x}, lv[:]...)
			yF, gF := runWithGrads(t, func(tp *ag.Tape) *ag.Var { return l.Forward(tp, x) }, proj, vs)
			yN, gN := runWithGrads(t, func(tp *ag.Tape) *ag.Var { return naiveForward(tp, l, x) }, proj, vs)
			name := fmt.Sprintf("bias=%v frozen=%d %v", bias, frozen, lc)
			d := maxAbsDiff(yF.Data, yN.Data)
			worstY = max(worstY, d)
			if d > 1e-4 {
				t.Errorf("%s: output max abs diff %.3g", name, d)
			}
			for j := range vs {
				if (gF[j] == nil) != (gN[j] == nil) {
					// the fused op leaves a tensor the choice does not read
					// without a gradient; the naive one may give it zeros
					if gF[j] != nil || maxAbsDiff(gN[j].Data, make([]float32, len(gN[j].Data))) != 0 {
						t.Errorf("%s: gradient of input %d: fused %v, naive %v", name, j, gF[j] != nil, gN[j] != nil)
					}
					continue
				}
				if gF[j] == nil {
					continue
				}
				d := maxAbsDiff(gF[j].Data, gN[j].Data)
				worstG = max(worstG, d)
				if d > 1e-3 {
					t.Errorf("%s: gradient of %s: max abs diff %.3g", name, vs[j].Name, d)
				}
			}
		}
	}
	t.Logf("fused vs naive: output max abs diff %.3g, gradients %.3g", worstY, worstG)
}

// TestFreshLayerIsBase: at initialisation every path reads zero, so every
// choice gives exactly (bit for bit) the base layer's output.
func TestFreshLayerIsBase(t *testing.T) {
	const out, in, R = 12, 10, 4
	for _, bias := range []bool{true, false} {
		rng := rand.New(rand.NewPCG(3, 4))
		base := testBase(rng, out, in, bias)
		l, err := NewLayer("fc", base, R, rng)
		if err != nil {
			t.Fatal(err)
		}
		x := ag.NewVar(randTensor(rng, 1, 5, in), false)
		want := ag.NewTape().Linear(x, base.W, base.B).Value
		for _, lc := range pathChoices(R, 2) {
			if err := l.SetChoice(lc); err != nil {
				t.Fatal(err)
			}
			got := l.Forward(ag.NewTape(), x).Value
			for i := range want.Data {
				if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
					t.Errorf("bias=%v %v: y[%d] = %v, base %v", bias, lc, i, got.Data[i], want.Data[i])
					break
				}
			}
		}
	}
}

// TestBaseNeverGetsGradients: W0 and b0 stay without gradient whatever the
// choice, even when the base parameters are marked trainable.
func TestBaseNeverGetsGradients(t *testing.T) {
	l := testLayer(t, 6, 5, 2, true, 1)
	l.Base().W.RequiresGrad, l.Base().B.RequiresGrad = true, true
	for _, lc := range append(pathChoices(2, 1), LayerChoice{}) {
		if err := l.SetChoice(lc); err != nil {
			t.Fatal(err)
		}
		x := ag.NewVar(randTensor(rand.New(rand.NewPCG(1, 1)), 1, 3, 5), true)
		tp := ag.NewTape()
		if err := tp.Backward(tp.SumAll(l.Forward(tp, x))); err != nil {
			t.Fatal(err)
		}
		if l.Base().W.Grad != nil || l.Base().B.Grad != nil {
			t.Fatalf("%v: the base received a gradient", lc)
		}
	}
}

func TestLayerErrors(t *testing.T) {
	l := testLayer(t, 6, 5, 4, false, 1)
	if err := l.SetChoice(LayerChoice{A: LoRAChoice(8)}); err == nil {
		t.Error("lora_8 accepted on rank-4 tensors")
	}
	if err := l.SetChoice(LayerChoice{C: ChoiceConstant}); err == nil {
		t.Error("C = constant accepted")
	}
	if err := l.SetChoice(LayerChoice{D: LoRAChoice(2)}); err == nil {
		t.Error("D = lora_2 accepted")
	}
	if err := l.SetChoice(LayerChoice{B: ChoiceVector}); err != nil {
		t.Fatal(err)
	}
	tp := ag.NewTape()
	l.Forward(tp, ag.NewVar(tensor.New(2, 4), false))
	if tp.Err() == nil {
		t.Error("wrong input width accepted")
	} else {
		t.Log(tp.Err())
	}
	if _, err := NewLayer("x", &nn.Linear{}, 4, nil); err == nil {
		t.Error("empty base accepted")
	}
	bad := NewLayerTensors(6, 5, 4, nil)
	bad.Cu = tensor.New(4, 2)
	if _, err := NewLayerWith("x", l.Base(), bad); err == nil {
		t.Error("wrong Cu shape accepted")
	} else {
		t.Log(err)
	}
}

// RecomputeOutput releases a layer's output after the forward pass where
// A is vector or constant (y is rebuilt from the kept y0 before its
// consumer's backward) and keeps it otherwise; either way every gradient
// is the same bit for bit as with y held, for each path choice.
func TestRecomputeOutputKeepsGradients(t *testing.T) {
	const out, in, R, r = 6, 5, 4, 2
	for i, lc := range pathChoices(R, r) {
		if lc.IsBase() {
			continue
		}
		l := testLayer(t, out, in, R, true, uint64(i+1))
		if err := l.SetChoice(lc); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		x := ag.NewVar(randTensor(rng, 1, 3, in), true)
		proj := randTensor(rng, 1, 3, out)
		vs := append([]*ag.Var{x}, l.used(lc)...)
		var released bool
		run := func(recompute bool) []*tensor.Tensor {
			_, grads := runWithGrads(t, func(tp *ag.Tape) *ag.Var {
				y := l.Forward(tp, x)
				z := nn.GELU(tp, y, false) // its backward reads y
				if recompute {
					released = nn.RecomputeOutput(tp, l, y)
					if released && y.Value.Data != nil {
						t.Fatalf("%v: y released but still holds data", lc)
					}
				}
				return z
			}, proj, vs)
			if l.last != nil { // it holds the tape through x
				t.Fatalf("%v: the layer still holds its forward pass's state after the backward pass", lc)
			}
			return grads
		}
		want, got := run(false), run(true)
		if k := lc[A].Kind; released != (k == Vector || k == Constant) {
			t.Fatalf("%v: RecomputeOutput released y: %v", lc, released)
		}
		for j := range want {
			if (want[j] == nil) != (got[j] == nil) || want[j] != nil && !slices.Equal(want[j].Data, got[j].Data) {
				t.Fatalf("%v: gradient %d differs with y recomputed", lc, j)
			}
		}
	}
}

// ReadsInput says exactly when the backward pass reads x's value: with x
// overwritten by NaN after the forward pass, every gradient is the same to
// the bit where it says no, and some gradient changes where it says yes;
// for every path choice and the base, with every stored tensor trainable
// and with A, Bu or all of them frozen.
func TestReadsInputTellsWhatBackwardReads(t *testing.T) {
	const out, in, R, r = 6, 5, 4, 2
	freezes := map[string][]int{"none": nil, "A": {iAd, iAu}, "Bu": {iBu}, "all": {iAd, iAu, iBd, iBu, iCd, iCu, iD, iE}}
	for i, lc := range append(pathChoices(R, r), LayerChoice{}) {
		for name, frozen := range freezes {
			l := testLayer(t, out, in, R, true, uint64(i+1))
			if err := l.SetChoice(lc); err != nil {
				t.Fatal(err)
			}
			for _, j := range frozen {
				l.vars[j].RequiresGrad = false
			}
			rng := rand.New(rand.NewPCG(uint64(i), 8))
			x := ag.NewVar(randTensor(rng, 1, 3, in), true)
			keep := slices.Clone(x.Value.Data)
			proj := randTensor(rng, 1, 3, out)
			lv := l.Vars()
			vs := append([]*ag.Var{x}, lv[:]...)
			var reads bool
			run := func(poison bool) []*tensor.Tensor {
				copy(x.Value.Data, keep)
				_, grads := runWithGrads(t, func(tp *ag.Tape) *ag.Var {
					y := l.Forward(tp, x)
					reads = l.ReadsInput()
					if poison {
						for k := range x.Value.Data {
							x.Value.Data[k] = float32(math.NaN())
						}
					}
					return y
				}, proj, vs)
				return grads
			}
			want, got := run(false), run(true)
			same := true
			for j := range want {
				if (want[j] == nil) != (got[j] == nil) || want[j] != nil && !slices.Equal(want[j].Data, got[j].Data) {
					same = false
				}
			}
			if same == reads {
				t.Fatalf("%v, frozen %s: ReadsInput %v, but the gradients with x overwritten after the forward pass are the same: %v",
					lc, name, reads, same)
			}
		}
	}
}
