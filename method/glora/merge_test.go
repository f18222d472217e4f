package glora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// sameBits reports whether two tensors hold the same float32 bit patterns.
func sameBits(a, b *tensor.Tensor) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Data) != len(b.Data) {
		return false
	}
	for i := range a.Data {
		if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
			return false
		}
	}
	return true
}

// checkTensor logs the max abs difference (llm.c's check_tensor, shown by
// go test -v) and fails above tol·(1 + max |want|).
func checkTensor(t *testing.T, label string, got, want *tensor.Tensor, tol float64) float64 {
	t.Helper()
	d := maxAbsDiff(got.Data, want.Data)
	scale := 0.0
	for _, v := range want.Data {
		scale = max(scale, math.Abs(float64(v)))
	}
	t.Logf("%-64s max abs diff %.3g", label, d)
	if d > tol*(1+scale) {
		t.Errorf("%s: max abs diff %.3g (values up to %.3g)", label, d, scale)
	}
	return d
}

// TestLayerMergeEveryChoice: for every path choice on a bare layer (with
// and without a bias), the merged plain Linear computes the unmerged
// forward, merging twice is merging once, and Unmerge restores W0 and b0
// bit for bit.
func TestLayerMergeEveryChoice(t *testing.T) {
	const out, in, R = 20, 12, 4
	worst := 0.0
	for _, bias := range []bool{true, false} {
		for i, lc := range append(pathChoices(R, 2), LayerChoice{}) {
			name := fmt.Sprintf("bias=%v %v", bias, lc)
			l := testLayer(t, out, in, R, bias, uint64(i+40))
			if err := l.SetChoice(lc); err != nil {
				t.Fatal(err)
			}
			w0, b0 := l.Base().W.Value.Clone(), (*tensor.Tensor)(nil)
			if bias {
				b0 = l.Base().B.Value.Clone()
			}
			x := ag.NewVar(randTensor(rand.New(rand.NewPCG(uint64(i), 1)), 1, 6, in), false)
			want := l.Forward(ag.NewTape(), x).Value
			if err := l.Merge(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			merged := l.Forward(ag.NewTape(), x).Value
			worst = max(worst, checkTensor(t, name+" merged vs unmerged", merged, want, 1e-5))
			mw, mb := l.Base().W.Value, l.Base().B
			if err := l.Merge(); err != nil || l.Base().W.Value != mw || l.Base().B != mb {
				t.Errorf("%s: a second Merge changed the layer (%v)", name, err)
			}
			if err := l.SetChoice(LayerChoice{E: ChoiceVector}); err == nil && lc != (LayerChoice{E: ChoiceVector}) {
				t.Errorf("%s: a merged layer accepted another choice", name)
			}
			l.Unmerge()
			if !sameBits(l.Base().W.Value, w0) {
				t.Errorf("%s: Unmerge did not restore W0 bit for bit", name)
			}
			if bias && !sameBits(l.Base().B.Value, b0) || !bias && l.Base().B != nil {
				t.Errorf("%s: Unmerge did not restore b0", name)
			}
			if got := l.Forward(ag.NewTape(), x).Value; !sameBits(got, want) {
				t.Errorf("%s: the unmerged forward changed", name)
			}
		}
	}
	t.Logf("merged vs unmerged forward, every path choice: max abs diff %.3g", worst)
}

// TestLayerMergeRefusesNonFinite: NaN or Inf in the result is an error and
// nothing is replaced.
func TestLayerMergeRefusesNonFinite(t *testing.T) {
	for _, c := range []struct {
		lc  LayerChoice
		idx int
		v   float32
	}{
		{LayerChoice{A: ChoiceVector}, iAd, float32(math.NaN())},
		{LayerChoice{B: LoRAChoice(2)}, iBu, float32(math.Inf(1))},
		{LayerChoice{C: ChoiceVector, E: ChoiceConstant}, iE, float32(math.NaN())},
	} {
		l := testLayer(t, 6, 5, 2, true, 3)
		if err := l.SetChoice(c.lc); err != nil {
			t.Fatal(err)
		}
		l.Vars()[c.idx].Value.Data[0] = c.v
		w, b := l.Base().W.Value, l.Base().B.Value
		w0 := w.Clone()
		err := l.Merge()
		if err == nil || !strings.Contains(err.Error(), l.Path()) {
			t.Errorf("%v with %v: Merge gave %v", c.lc, c.v, err)
			continue
		}
		t.Log(err)
		if l.Merged() || l.Base().W.Value != w || l.Base().B.Value != b || !sameBits(w, w0) {
			t.Errorf("%v: a failed Merge changed the layer", c.lc)
		}
	}
}
