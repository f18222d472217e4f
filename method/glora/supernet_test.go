package glora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// microViT is a vit-micro model whose every parameter (Linear biases and
// LayerNorms included, which vit.New sets to 0 and 1) is random, so that
// every path, D included, changes the output.
func microViT(t *testing.T, qkvBias bool) *vit.Model {
	t.Helper()
	cfg, err := vit.Preset("vit-micro")
	if err != nil {
		t.Fatal(err)
	}
	cfg.QKVBias = qkvBias
	rng := rand.New(rand.NewPCG(21, 21))
	m, err := vit.New(cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Store.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] += float32(rng.NormFloat64() * 0.1)
		}
		p.RequiresGrad = false
	}
	return m
}

// microImages is a fixed batch of images for m.
func microImages(m *vit.Model, n int) *ag.Var {
	c := m.Cfg
	x := randTensor(rand.New(rand.NewPCG(5, 5)), 1, n, c.InChans, c.ImageSize, c.ImageSize)
	return ag.NewVar(x, false)
}

// logits runs the model on a fresh tape (recording, so that the training
// path is the one exercised).
func logits(t *testing.T, m *vit.Model, img *ag.Var) *tensor.Tensor {
	t.Helper()
	tp := ag.NewTape()
	y := m.Forward(tp, img, nil)
	if tp.Err() != nil {
		t.Fatal(tp.Err())
	}
	return y.Value.Clone()
}

// randomizeSupport fills every stored support tensor with N(0, std²).
func randomizeSupport(s *Supernet, seed uint64, std float64) {
	rng := rand.New(rand.NewPCG(seed, 77))
	for _, v := range s.Store().Params() {
		for i := range v.Value.Data {
			v.Value.Data[i] = float32(rng.NormFloat64() * std)
		}
	}
}

func TestAttachNamesAndTargets(t *testing.T) {
	m := microViT(t, true)
	s, err := Attach(m, Options{Space: Space{Ranks: []int{2, 4}}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Layers()) != 4*m.Cfg.Depth {
		t.Fatalf("%d layers, want %d (every block Linear, not the head)", len(s.Layers()), 4*m.Cfg.Depth)
	}
	names := s.Store().Names()
	if len(names) != 8*len(s.Layers()) || len(s.Trainable()) != len(names) {
		t.Fatalf("%d support tensors (%d trainable), want %d", len(names), len(s.Trainable()), 8*len(s.Layers()))
	}
	v, ok := s.Store().Get("blocks.1.mlp.fc2.glora_Ad")
	if !ok || !tensor.SameShape(v.Value.Shape, []int{m.Cfg.Dim, 4}) {
		t.Fatalf("blocks.1.mlp.fc2.glora_Ad: %v %v", ok, v)
	}
	if l, _ := s.Layer("blocks.0.attn.qkv"); l.Vars()[iAu] != mustGet(t, s.Store(), "blocks.0.attn.qkv.glora_Au") {
		t.Fatal("the layer's parameters are not the store's")
	}
	for _, st := range m.Linears() {
		_, wrapped := st.Current().(*Layer)
		if wrapped == st.Head {
			t.Errorf("%s: wrapped=%v", st.Path, wrapped)
		}
	}
	if _, err := Attach(m, Options{Space: Space{Ranks: []int{4}}}); err == nil {
		t.Error("a second Attach wrapped the wrappers")
	}
	s.Detach()
	// A rank above a layer's min(in, out) is refused before anything is allocated.
	wide := m.Cfg.Dim + 1
	if _, err := Attach(m, Options{Space: Space{Ranks: []int{4, wide}}}); err == nil ||
		!strings.Contains(err.Error(), fmt.Sprintf("lora rank %d is above min(in, out) = %d", wide, m.Cfg.Dim)) {
		t.Errorf("ranks 4,%d on dim-%d layers: %v", wide, m.Cfg.Dim, err)
	}
	for _, st := range m.Linears() {
		if st.Current() != nn.Layer(st.Base) {
			t.Fatalf("%s: a refused Attach left a wrapper", st.Path)
		}
	}
	for _, st := range m.Linears() {
		if st.Current() != nn.Layer(st.Base) {
			t.Errorf("%s: Detach left a wrapper", st.Path)
		}
	}
	s2, err := Attach(m, Options{Targets: []string{"mlp.fc1", "head"}, Space: Space{Ranks: []int{1}}})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, tg := range s2.Targets() {
		paths = append(paths, tg.Path)
	}
	if strings.Join(paths, " ") != "blocks.0.mlp.fc1 blocks.1.mlp.fc1 head" {
		t.Fatalf("targets %v", paths)
	}
	if _, err := Attach(microViT(t, true), Options{Space: Space{}}); err == nil {
		t.Error("a space without ranks accepted")
	}
}

func mustGet(t *testing.T, s *nn.Store, name string) *ag.Var {
	t.Helper()
	v, ok := s.Get(name)
	if !ok {
		t.Fatalf("no %s", name)
	}
	return v
}

// TestFreshSupernetIsBase: at initialisation the supernet computes exactly
// the base model (bit for bit) in every mode and for every drawn structure.
func TestFreshSupernetIsBase(t *testing.T) {
	for _, qkvBias := range []bool{true, false} {
		m := microViT(t, qkvBias)
		img := microImages(m, 3)
		want := logits(t, m, img)
		s, err := Attach(m, Options{Space: Space{Ranks: []int{4, 8}, AddBias: true}, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string) {
			if got := logits(t, m, img); !sameBits(got, want) {
				t.Errorf("qkv bias %v, %s: output differs from the base model (max abs diff %.3g)",
					qkvBias, what, maxAbsDiff(got.Data, want.Data))
			}
		}
		check("disabled")
		for step := range 8 {
			if _, err := s.Sample(step); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("sample step %d", step))
		}
		st, err := Named("glora-fixed", s.Targets(), 8, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetStructure(st); err != nil {
			t.Fatal(err)
		}
		check("glora-fixed")
	}
}

// TestSupernetMerge is table-driven over every path choice (the same choice
// in every layer) and random structures, on vit-micro with random support
// tensors: merged output = unmerged forward, merging twice = once, Unmerge
// restores every model tensor bit for bit, disabled = the base model.
func TestSupernetMerge(t *testing.T) {
	m := microViT(t, false) // qkv without a bias: AddBias exercises the added bias
	img := microImages(m, 4)
	snapshot := map[string]*tensor.Tensor{}
	for name, v := range m.Store.Tensors() {
		snapshot[name] = v.Clone()
	}
	base := logits(t, m, img)
	sp := Space{Ranks: []int{2, 4}, AddBias: true}
	s, err := Attach(m, Options{Space: sp, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	randomizeSupport(s, 1, 0.2)
	type tc struct {
		name string
		st   Structure
	}
	var cases []tc
	for _, lc := range pathChoices(4, 2) {
		cases = append(cases, tc{lc.String(), Uniform(s.Targets(), lc, true)})
	}
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range 12 {
		cases = append(cases, tc{fmt.Sprintf("random %d", i), sp.Sample(rng, s.Targets())})
	}
	worst := 0.0
	for _, c := range cases {
		if err := s.SetStructure(c.st); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := logits(t, m, img)
		if sameBits(want, base) {
			t.Errorf("%s: the structure does not change the output", c.name)
		}
		if err := s.Merge(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// after Merge every wrapped layer computes its merged plain Linear
		got := logits(t, m, img)
		d := checkTensor(t, c.name+": merged vs unmerged", got, want, 2e-5)
		worst = max(worst, d)
		if err := s.Merge(); err != nil {
			t.Fatal(err)
		}
		if again := logits(t, m, img); !sameBits(again, got) {
			t.Errorf("%s: merging twice differs from merging once", c.name)
		}
		if err := s.SetStructure(c.st); err != nil {
			t.Errorf("%s: a merged supernet refused its own structure: %v", c.name, err)
		}
		if _, err := s.Sample(0); err == nil {
			t.Errorf("%s: a merged supernet sampled", c.name)
		}
		s.Unmerge()
		for name, v := range m.Store.Tensors() {
			if !sameBits(v, snapshot[name]) {
				t.Fatalf("%s: Unmerge did not restore %s bit for bit", c.name, name)
			}
		}
		for _, l := range s.Layers() {
			if l.HasBias() != (l.Base().B != nil) {
				t.Fatalf("%s: %s kept an added bias after Unmerge", c.name, l.Path())
			}
		}
		if again := logits(t, m, img); !sameBits(again, want) {
			t.Errorf("%s: the unmerged forward changed", c.name)
		}
	}
	t.Logf("vit-micro, %d structures: merged vs unmerged logits max abs diff %.3g", len(cases), worst)
	if err := s.Merge(); err != nil {
		t.Fatal(err)
	}
	s.Disable()
	if s.Merged() || s.Mode() != ModeDisabled {
		t.Fatal("Disable left the supernet merged")
	}
	if got := logits(t, m, img); !sameBits(got, base) {
		t.Errorf("disabled: output differs from the base model by %.3g", maxAbsDiff(got.Data, base.Data))
	}
	if s.Params() != 0 {
		t.Errorf("disabled: %d parameters in use", s.Params())
	}
	s.Detach()
	if got := logits(t, m, img); !sameBits(got, base) {
		t.Error("detached: output differs from the base model")
	}
}

// TestSupernetMergeAllOrNothing: a NaN in one layer's tensors fails Merge
// naming the layer, and no layer (the healthy ones before it included) is
// changed.
func TestSupernetMergeAllOrNothing(t *testing.T) {
	m := microViT(t, true)
	s, err := Attach(m, Options{Space: Space{Ranks: []int{2}}, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	randomizeSupport(s, 2, 0.1)
	if err := s.SetStructure(Uniform(s.Targets(), LayerChoice{A: ChoiceVector, E: ChoiceVector}, false)); err != nil {
		t.Fatal(err)
	}
	last := s.Layers()[len(s.Layers())-1]
	last.Vars()[iE].Value.Data[3] = float32(math.Inf(1))
	before := map[string]*tensor.Tensor{}
	for name, v := range m.Store.Tensors() {
		before[name] = v
	}
	err = s.Merge()
	if err == nil || !strings.Contains(err.Error(), last.Path()) {
		t.Fatalf("Merge: %v", err)
	}
	t.Log(err)
	if s.Merged() {
		t.Fatal("Merged after a failed merge")
	}
	for name, v := range m.Store.Tensors() {
		if v != before[name] {
			t.Fatalf("%s was replaced by a failed merge", name)
		}
	}
}

// TestSampleIsAFunctionOfSeedAndStep: draws are reproducible, resumable (a
// fresh supernet with the same seed draws the same structure at the same
// step) and uniform over each layer's allowed choices.
func TestSampleIsAFunctionOfSeedAndStep(t *testing.T) {
	sp := Space{Ranks: []int{4, 8}}
	a, err := Attach(microViT(t, false), Options{Space: sp, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Attach(microViT(t, false), Options{Space: sp, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Attach(microViT(t, false), Options{Space: sp, Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range a.Store().Names() {
		if !sameBits(mustGet(t, a.Store(), p).Value, mustGet(t, b.Store(), p).Value) {
			t.Fatalf("%s: the same seed initialised differently", p)
		}
	}
	for i := range 5 {
		b.Sample(100 + i) // b has run other steps before
	}
	sa, _ := a.Sample(42)
	sb, _ := b.Sample(42)
	sc, _ := c.Sample(42)
	s43, _ := a.Sample(43)
	if sa.Key() != sb.Key() {
		t.Error("the same (seed, step) drew different structures")
	}
	if sa.Key() == sc.Key() || sa.Key() == s43.Key() {
		t.Error("another seed or step drew the same structure")
	}
	if a.Mode() != ModeSample || a.Structure().Key() != s43.Key() {
		t.Error("Sample did not install its structure")
	}
	if err := sp.ValidateStructure(sa, a.Targets()); err != nil {
		t.Fatal(err)
	}
	// every allowed choice of every support appears, none that is not allowed
	counts := map[string]int{}
	for step := range 400 {
		st, _ := a.Sample(step)
		for _, tg := range a.Targets() {
			for s, ch := range st[tg.Path] {
				counts[fmt.Sprintf("%v %s=%s", tg.HasBias, Support(s), ch)]++
			}
		}
	}
	for _, hasBias := range []bool{true, false} {
		for s := range numSupports {
			for _, ch := range sp.Allowed(s, hasBias) {
				if counts[fmt.Sprintf("%v %s=%s", hasBias, s, ch)] == 0 {
					t.Errorf("bias=%v: %s=%s never drawn", hasBias, s, ch)
				}
			}
		}
	}
	if counts["false C=vector"]+counts["false D=vector"]+counts["false E=constant"] != 0 {
		t.Error("C, D or E drawn on a bias-less layer")
	}
}

func TestSetStructureValidates(t *testing.T) {
	m := microViT(t, false)
	s, err := Attach(m, Options{Space: Space{Ranks: []int{4}}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	st := Uniform(s.Targets(), LayerChoice{B: LoRAChoice(4)}, false)
	if err := s.SetStructure(st); err != nil || s.Mode() != ModeFixed {
		t.Fatal(err)
	}
	bad := st.Clone()
	bad["blocks.0.attn.qkv"] = LayerChoice{D: ChoiceVector}
	err = s.SetStructure(bad)
	if err == nil || !strings.Contains(err.Error(), "no bias") {
		t.Fatalf("D on a bias-less qkv: %v", err)
	}
	t.Log(err)
	bad = st.Clone()
	bad["blocks.0.mlp.fc1"] = LayerChoice{A: LoRAChoice(8)}
	if err := s.SetStructure(bad); err == nil {
		t.Fatal("lora_8 accepted in a rank-4 space")
	}
	bad = st.Clone()
	delete(bad, "blocks.1.mlp.fc2")
	if err := s.SetStructure(bad); err == nil {
		t.Fatal("a structure missing a layer accepted")
	}
	if got := s.Structure(); got.Key() != st.Key() {
		t.Fatal("a refused structure was installed")
	}
	active := s.Active()
	if len(active) != 2*len(s.Layers()) || !slices.ContainsFunc(active, func(v *ag.Var) bool { return strings.HasSuffix(v.Name, "glora_Bu") }) {
		t.Fatalf("%d active tensors for B = lora_4 on %d layers", len(active), len(s.Layers()))
	}
}

// TestSupernetTrainsOnlySupport: a training step gives gradients to the
// support tensors the structure reads, and none to the frozen model.
func TestSupernetTrainsOnlySupport(t *testing.T) {
	m := microViT(t, true)
	m.Head.W.RequiresGrad, m.Head.B.RequiresGrad = true, true
	s, err := Attach(m, Options{Space: Space{Ranks: []int{2, 4}}, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	randomizeSupport(s, 5, 0.1)
	if _, err := s.Sample(1); err != nil {
		t.Fatal(err)
	}
	tp := ag.NewTape()
	y := m.Forward(tp, microImages(m, 2), nil)
	if err := tp.Backward(nn.CrossEntropy(tp, y, []int{1, 2}, 0)); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Store.Params() {
		if (p.Grad != nil) != (p == m.Head.W || p == m.Head.B) {
			t.Errorf("%s: gradient %v", p.Name, p.Grad != nil)
		}
	}
	active := map[*ag.Var]bool{}
	for _, v := range s.Active() {
		active[v] = true
		if v.Grad == nil {
			t.Errorf("%s: read by the structure, no gradient", v.Name)
		}
	}
	for _, v := range s.Store().Params() {
		if !active[v] && v.Grad != nil {
			t.Errorf("%s: not read, has a gradient", v.Name)
		}
	}
}

// TrainStructure leaves exactly the tensors the structure reads trainable,
// also after a structure that froze some of them.
func TestTrainStructure(t *testing.T) {
	s, err := Attach(microViT(t, true), Options{Space: Space{Ranks: []int{2, 4}}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	trainable := func() []string {
		var out []string
		for _, v := range s.Trainable() {
			out = append(out, v.Name)
		}
		return out
	}
	for _, name := range []string{"ssf", "lora", "glora-fixed"} {
		st, err := Named(name, s.Targets(), 4, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.TrainStructure(st); err != nil {
			t.Fatal(err)
		}
		got := trainable()
		var want []string
		for _, l := range s.Layers() {
			for _, v := range l.used(l.choice) {
				want = append(want, v.Name)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Fatalf("%s: trainable %v, want what it reads: %v", name, got, want)
		}
	}
	if err := s.TrainStructure(Structure{}); err == nil {
		t.Fatal("an empty structure was accepted")
	}
}

// Anchors replace about a fraction p of the draws; every other step draws
// what it would without anchors.
func TestSampleAnchors(t *testing.T) {
	sp := Space{Ranks: []int{4, 8}}
	plain, err := Attach(microViT(t, false), Options{Space: sp, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	anch, err := Attach(microViT(t, false), Options{Space: sp, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	lora, err := Named("lora", anch.Targets(), 8, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := anch.SetAnchors([]Structure{lora}, 0.25); err != nil {
		t.Fatal(err)
	}
	hits := 0
	const steps = 400
	for step := range steps {
		a, err := anch.Sample(step)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := plain.Sample(step)
		switch a.Key() {
		case lora.Key():
			hits++
		case b.Key():
		default:
			t.Fatalf("step %d: neither the anchor nor the plain draw", step)
		}
	}
	if hits < steps/8 || hits > steps*3/8 {
		t.Fatalf("%d anchor steps of %d at p 0.25", hits, steps)
	}
	if err := anch.SetAnchors([]Structure{lora}, 1.5); err == nil {
		t.Fatal("p 1.5 accepted")
	}
	if err := anch.SetAnchors([]Structure{{"no.such.layer": LayerChoice{}}}, 0.5); err == nil {
		t.Fatal("an anchor naming no layer of the supernet accepted")
	}
}
