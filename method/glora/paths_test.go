package glora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/glora/glora/tensor"
)

// randomTensors fills every stored tensor (not only the Xavier ones), so
// that every path reads something non-zero.
func randomTensors(out, in, R int, seed uint64) LayerTensors {
	rng := rand.New(rand.NewPCG(seed, 3))
	t := NewLayerTensors(out, in, R, rng)
	for _, x := range t.List() {
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64() * 0.3)
		}
	}
	return t
}

// scalarMerge is docs/DESIGN.md §4 written element by element from the stored
// tensors, in float64: the reference MergeLinear must agree with.
func scalarMerge(w0, b0 *tensor.Tensor, t LayerTensors, lc LayerChoice) (w, b []float64) {
	out, in, R := w0.Shape[0], w0.Shape[1], t.Rank()
	ab := func(s Support, o, i int) float64 {
		xd, xu := t.Ad.Data, t.Au.Data
		if s == B {
			xd, xu = t.Bd.Data, t.Bu.Data
		}
		switch c := lc[s]; c.Kind {
		case LoRA:
			v := 0.0
			for k := 0; k < c.Rank; k++ {
				v += float64(xd[o*R+k]) * float64(xu[k*in+i])
			}
			return v
		case Vector:
			return float64(xd[o*R])
		case Constant:
			return float64(xd[0])
		}
		return 0
	}
	cv := func(i int) float64 {
		switch c := lc[C]; c.Kind {
		case LoRA:
			v := 0.0
			for k := 0; k < c.Rank; k++ {
				v += float64(t.Cd.Data[i*R+k]) * float64(t.Cu.Data[k])
			}
			return v
		case Vector:
			return float64(t.Cd.Data[i*R])
		}
		return 0
	}
	de := func(s Support, o int) float64 {
		x := t.D.Data
		if s == E {
			x = t.E.Data
		}
		switch lc[s].Kind {
		case Vector:
			return float64(x[o])
		case Constant:
			return float64(x[0])
		}
		return 0
	}
	w, b = make([]float64, out*in), make([]float64, out)
	for o := 0; o < out; o++ {
		bo := 0.0
		if b0 != nil {
			bo = float64(b0.Data[o])
		}
		b[o] = bo + bo*de(D, o) + de(E, o)
		for i := 0; i < in; i++ {
			w0v := float64(w0.Data[o*in+i])
			w[o*in+i] = w0v + w0v*ab(A, o, i) + ab(B, o, i)
			b[o] += w0v * cv(i)
		}
	}
	return w, b
}

func TestMergeLinearMatchesTheFormula(t *testing.T) {
	const out, in, R = 7, 5, 4
	rng := rand.New(rand.NewPCG(11, 0))
	w0, b0 := tensor.New(out, in), tensor.New(out)
	for i := range w0.Data {
		w0.Data[i] = float32(rng.NormFloat64())
	}
	for i := range b0.Data {
		b0.Data[i] = float32(rng.NormFloat64())
	}
	w0copy, b0copy := w0.Clone(), b0.Clone()
	st := randomTensors(out, in, R, 5)
	sp := Space{Ranks: []int{2, 4}}
	tg := Target{Path: "l", In: in, Out: out, HasBias: true}
	for trial := 0; trial < 300; trial++ {
		lc := sp.SampleLayer(rng, tg)
		for _, bias := range []*tensor.Tensor{b0, nil} {
			w, b, err := MergeLinear(w0, bias, &st, lc)
			if err != nil {
				t.Fatal(err)
			}
			ww, wb := scalarMerge(w0, bias, st, lc)
			var maxDiff float64
			for i, v := range w.Data {
				maxDiff = max(maxDiff, math.Abs(float64(v)-ww[i]))
			}
			if (b == nil) != (bias == nil && lc[C].Kind == None && lc[D].Kind == None && lc[E].Kind == None) {
				t.Fatalf("%s, bias %v: merged bias nil=%v", lc, bias != nil, b == nil)
			}
			if b != nil {
				for i, v := range b.Data {
					maxDiff = max(maxDiff, math.Abs(float64(v)-wb[i]))
				}
			}
			if maxDiff > 1e-5 {
				t.Fatalf("%s: max-abs-diff %.3g", lc, maxDiff)
			}
		}
	}
	if fmt.Sprint(w0.Data, b0.Data) != fmt.Sprint(w0copy.Data, b0copy.Data) {
		t.Fatal("MergeLinear modified W0 or b0")
	}
	// Fresh tensors: every path is exactly zero, so the merge is the identity.
	fresh := NewLayerTensors(out, in, R, rand.New(rand.NewPCG(1, 1)))
	w, b, err := MergeLinear(w0, b0, &fresh, LayerChoice{A: LoRAChoice(4), B: LoRAChoice(2), C: LoRAChoice(4), D: ChoiceVector, E: ChoiceConstant})
	if err != nil || fmt.Sprint(w.Data, b.Data) != fmt.Sprint(w0.Data, b0.Data) {
		t.Fatalf("fresh tensors changed the layer (%v)", err)
	}
	if _, _, err := MergeLinear(w0, b0, &st, LayerChoice{A: LoRAChoice(8)}); err == nil || !strings.Contains(err.Error(), "rank 4") {
		t.Fatalf("rank above R: %v", err)
	}
	st.E.Data[0] = float32(math.Inf(1))
	if _, _, err := MergeLinear(w0, b0, &st, LayerChoice{E: ChoiceConstant}); err == nil || !strings.Contains(err.Error(), "Inf") {
		t.Fatalf("Inf merged silently: %v", err)
	}
}

func TestFromMapChecksNamesAndShapes(t *testing.T) {
	lt := NewLayerTensors(6, 4, 2, nil)
	m := map[string]*tensor.Tensor{}
	for i, x := range lt.List() {
		m["blocks.0.mlp.fc1."+TensorNames[i]] = x
	}
	if _, err := FromMap(m, "blocks.0.mlp.fc1", 6, 4, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := FromMap(m, "blocks.0.mlp.fc1", 6, 5, 2); err == nil || !strings.Contains(err.Error(), `"blocks.0.mlp.fc1.glora_Au" has shape (2,4), want (2,5)`) {
		t.Fatalf("shape error: %v", err)
	}
	delete(m, "blocks.0.mlp.fc1.glora_Cu")
	if _, err := FromMap(m, "blocks.0.mlp.fc1", 6, 4, 2); err == nil || !strings.Contains(err.Error(), "glora_Cu") {
		t.Fatalf("missing tensor: %v", err)
	}
}
