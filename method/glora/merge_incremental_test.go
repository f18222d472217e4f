package glora

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/glora/glora/tensor"
)

// mutateStructure redraws each layer's choices with probability p.
func mutateStructure(rng *rand.Rand, sp Space, ts []Target, st Structure, p float64) Structure {
	out := st.Clone()
	for _, t := range ts {
		if rng.Float64() < p {
			out[t.Path] = sp.SampleLayer(rng, t)
		}
	}
	return out
}

// TestMergeStructureIncremental: over a chain of structures, each differing
// from the last in some layers (some every path none), MergeStructure gives
// every layer exactly the weights a fresh merge of its choice from W0 gives
// (a none layer: W0 itself), reuses the very tensors of unchanged layers,
// computes the logits of the unmerged supernet, and Unmerge restores W0 and
// b0 bit for bit; changed support values and an Unmerge in between are seen.
func TestMergeStructureIncremental(t *testing.T) {
	for _, qkvBias := range []bool{true, false} {
		m := microViT(t, qkvBias)
		img := microImages(m, 3)
		s, err := Attach(m, Options{Space: Space{Ranks: []int{2, 4}}, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		randomizeSupport(s, 9, 0.05)
		w0 := map[string]*tensor.Tensor{}
		b0 := map[string]*tensor.Tensor{}
		for _, l := range s.Layers() {
			w0[l.Path()] = l.Base().W.Value.Clone()
			if l.Base().B != nil {
				b0[l.Path()] = l.Base().B.Value.Clone()
			}
		}
		rng := rand.New(rand.NewPCG(4, 4))
		st := s.Space().Sample(rng, s.Targets())
		st[s.Layers()[0].Path()] = LayerChoice{} // one layer none from the start
		var prev map[string]*tensor.Tensor
		var lastChoice Structure
		totalReused := 0
		for step := 0; step < 8; step++ {
			if step > 0 {
				st = mutateStructure(rng, s.Space(), s.Targets(), st, 0.4)
			}
			if step == 5 {
				s.Unmerge() // reuse survives an Unmerge
			}
			var touched *Layer
			if step == 6 {
				// a changed support value (as after training) is not reused
				for _, l := range s.Layers() {
					if lc := st[l.Path()]; !lc.IsBase() && touched == nil {
						touched = l
						l.used(lc)[0].Value.Data[0] += 0.5
					}
				}
				if err := s.SetStructure(lastChoice); err != nil {
					t.Fatal(err)
				}
				if err := s.SetStructure(st); err == nil && st.Key() != lastChoice.Key() {
					t.Fatal("a merged supernet accepted another structure")
				}
			}
			// the reference: the unmerged supernet's logits
			s.Unmerge()
			if err := s.SetStructure(st); err != nil {
				t.Fatal(err)
			}
			want := logits(t, m, img)
			stats, err := s.MergeStructure(st)
			if err != nil {
				t.Fatal(err)
			}
			if !s.Merged() || s.Mode() != ModeFixed || s.Structure().Key() != st.Key() {
				t.Fatalf("step %d: merged %v, mode %v, structure changed", step, s.Merged(), s.Mode())
			}
			if stats.Merged+stats.Reused+stats.Base != len(s.Layers()) {
				t.Fatalf("step %d: stats %+v for %d layers", step, stats, len(s.Layers()))
			}
			totalReused += stats.Reused
			cur := map[string]*tensor.Tensor{}
			for _, l := range s.Layers() {
				lc := st[l.Path()]
				cur[l.Path()] = l.Base().W.Value
				var bb *tensor.Tensor
				if b, ok := b0[l.Path()]; ok {
					bb = b
				}
				tt := l.Tensors()
				ww, wb, err := MergeLinear(w0[l.Path()], bb, &tt, lc)
				if err != nil {
					t.Fatal(err)
				}
				if !sameBits(l.Base().W.Value, ww) {
					t.Fatalf("step %d, %s (%v): merged W differs from a fresh merge", step, l.Path(), lc)
				}
				gotB := (*tensor.Tensor)(nil)
				if l.Base().B != nil {
					gotB = l.Base().B.Value
				}
				if !sameBits(gotB, wb) {
					t.Fatalf("step %d, %s (%v): merged b differs from a fresh merge", step, l.Path(), lc)
				}
				if lc.IsBase() && l.Merged() {
					t.Fatalf("step %d, %s: a none layer holds a merged copy, not W0", step, l.Path())
				}
				changed := l == touched
				if prev != nil && !changed && lc == lastChoice[l.Path()] && !lc.IsBase() && prev[l.Path()] != cur[l.Path()] {
					t.Fatalf("step %d, %s: unchanged choice merged again", step, l.Path())
				}
			}
			if touched != nil && cur[touched.Path()] == prev[touched.Path()] {
				t.Fatal("a changed support value was not merged again")
			}
			if step == 5 && stats.Reused == 0 {
				t.Fatal("nothing reused after an Unmerge")
			}
			if got := logits(t, m, img); maxAbsDiff(got.Data, want.Data) > 1e-4 {
				t.Fatalf("step %d: merged logits differ from unmerged by %.3g", step, maxAbsDiff(got.Data, want.Data))
			}
			prev = cur
			lastChoice = st.Clone()
		}
		if totalReused == 0 {
			t.Fatal("MergeStructure never reused a layer")
		}
		s.Unmerge()
		for _, l := range s.Layers() {
			if !sameBits(l.Base().W.Value, w0[l.Path()]) {
				t.Fatalf("%s: Unmerge did not restore W0", l.Path())
			}
			if b, ok := b0[l.Path()]; ok && !sameBits(l.Base().B.Value, b) || !ok && l.Base().B != nil {
				t.Fatalf("%s: Unmerge did not restore b0", l.Path())
			}
		}
		t.Logf("qkv bias %v: %d layer merges reused over 8 structures", qkvBias, totalReused)
	}
}

// TestMergeStructureAllOrNothing: an invalid structure or a NaN in one
// layer's result is an error and leaves the supernet as it was.
func TestMergeStructureAllOrNothing(t *testing.T) {
	m := microViT(t, true)
	s, err := Attach(m, Options{Space: Space{Ranks: []int{4}}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	randomizeSupport(s, 2, 0.05)
	lora, err := Named("lora", s.Targets(), 4, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MergeStructure(lora); err != nil {
		t.Fatal(err)
	}
	before := map[string]*tensor.Tensor{}
	for _, l := range s.Layers() {
		before[l.Path()] = l.Base().W.Value
	}
	bad := lora.Clone()
	delete(bad, s.Layers()[0].Path())
	if _, err := s.MergeStructure(bad); err == nil {
		t.Fatal("a structure missing a layer was merged")
	}
	last := s.Layers()[len(s.Layers())-1]
	last.Vars()[iE].Value.Data[0] = float32(math.NaN())
	nan := lora.Clone()
	for _, p := range nan.Paths() {
		nan[p] = LayerChoice{A: ChoiceVector, E: ChoiceVector}
	}
	_, err = s.MergeStructure(nan)
	if err == nil || !strings.Contains(err.Error(), last.Path()) {
		t.Fatalf("NaN in %s: %v", last.Path(), err)
	}
	if s.Structure().Key() != lora.Key() || !s.Merged() {
		t.Fatal("a failed MergeStructure changed the structure")
	}
	for _, l := range s.Layers() {
		if l.Base().W.Value != before[l.Path()] || l.Choice() != lora[l.Path()] {
			t.Fatalf("%s: a failed MergeStructure changed the layer", l.Path())
		}
	}
}

// TestMergeStructureKeepsSeveralCopies: A, then B, then A again reuses
// every layer of A's first merge (the very tensors).
func TestMergeStructureKeepsSeveralCopies(t *testing.T) {
	m := microViT(t, true)
	s, err := Attach(m, Options{Space: Space{Ranks: []int{4}}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	randomizeSupport(s, 2, 0.05)
	a, _ := Named("lora", s.Targets(), 4, false)
	b, _ := Named("ssf", s.Targets(), 4, false)
	if _, err := s.MergeStructure(a); err != nil {
		t.Fatal(err)
	}
	first := map[string]*tensor.Tensor{}
	for _, l := range s.Layers() {
		first[l.Path()] = l.Base().W.Value
	}
	if st, err := s.MergeStructure(b); err != nil || st.Merged != len(s.Layers()) {
		t.Fatalf("%+v %v", st, err)
	}
	s.Unmerge()
	st, err := s.MergeStructure(a)
	if err != nil || st.Reused != len(s.Layers()) {
		t.Fatalf("A again: %+v %v", st, err)
	}
	for _, l := range s.Layers() {
		if l.Base().W.Value != first[l.Path()] {
			t.Fatalf("%s: A's merged weight was not reused", l.Path())
		}
	}
}
