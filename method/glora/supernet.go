package glora

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// Mode is what a supernet's layers compute.
type Mode int

// The modes.
const (
	// ModeDisabled: every layer computes its base Linear (the adapter is off).
	ModeDisabled Mode = iota
	// ModeSample: every layer uses the choice the last Sample drew
	// (supernet training, docs/DESIGN.md §2).
	ModeSample
	// ModeFixed: every layer uses the structure SetStructure gave.
	ModeFixed
)

func (m Mode) String() string {
	switch m {
	case ModeDisabled:
		return "disabled"
	case ModeSample:
		return "sample"
	case ModeFixed:
		return "fixed"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Options configures Attach.
type Options struct {
	// Targets selects the wrapped layers with PEFT's target_modules rules
	// (SelectTargets); empty means all-linear (every Linear but the head).
	Targets []string
	// Exclude removes layers from the selection (same rules).
	Exclude []string
	// Space holds the lora ranks (the stored rank R is the largest) and
	// whether C, D, E may act on bias-less layers.
	Space Space
	// Seed seeds the support tensors' initialisation and the per-step draws.
	Seed uint64
}

// Supernet is a model whose selected Linear layers are wrapped by GLoRA
// layers sharing one set of stored support tensors for every structure
// (docs/DESIGN.md §2). It starts disabled: the model computes exactly what it did
// before Attach until Sample or SetStructure picks a structure.
type Supernet struct {
	space   Space
	seed    uint64
	sites   []nn.LinearSite
	layers  []*Layer
	targets []Target
	byPath  map[string]*Layer
	store   *nn.Store
	mode    Mode
	merged  bool
	cur     Structure       // the structure the layers use (all none when disabled)
	mcache  [][]*mergedCopy // per layer, its last MergeStructure results, most recent first (merge_incremental.go)
	anchors []Structure     // SetAnchors
	anchorP float64
}

// initStream and sampleTag separate the seeded sources of initialisation
// and of per-step structure draws.
const (
	initStream = 0x676c6f7261 // "glora"
	sampleTag  = "glora-sample"
	anchorTag  = "glora-anchor"
)

// Attach wraps the model's selected Linear layers (default: all-linear) in
// GLoRA layers of stored rank R = max(Space.Ranks), initialised from Seed
// (Au, Bu, Cu Xavier-uniform, the rest zero: every path starts at exactly
// zero), and installs them with each site's Set. The support tensors live in
// the supernet's own Store as "<module path>.glora_Ad" … ".glora_E", all
// trainable. The base layers are not modified and never receive gradients
// through the wrappers. A layer already wrapped by something else is an
// error.
func Attach(model nn.LinearWalker, o Options) (*Supernet, error) {
	if err := o.Space.Validate(); err != nil {
		return nil, err
	}
	modules := o.Targets
	if len(modules) == 0 {
		modules = []string{AllLinear}
	}
	sites, err := SelectTargets(model.Linears(), modules, o.Exclude)
	if err != nil {
		return nil, err
	}
	for _, st := range sites {
		if cur := st.Current(); cur != nn.Layer(st.Base) {
			return nil, fmt.Errorf("glora: layer %q is already wrapped (by %T)", st.Path, cur)
		}
	}
	s := &Supernet{space: o.Space, seed: o.Seed, sites: sites, targets: TargetsOf(sites),
		byPath: make(map[string]*Layer, len(sites)), store: nn.NewStore(), cur: Structure{}}
	R := o.Space.MaxRank()
	for _, t := range s.targets {
		if err := CheckRank(t, R); err != nil {
			return nil, err
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, initStream))
	// The same initialisation as NewLayerTensors, in the same draw order.
	inits := [8]nn.Init{nn.Zeros, nn.XavierUniform, nn.Zeros, nn.XavierUniform, nn.Zeros, nn.XavierUniform, nn.Zeros, nn.Zeros}
	for _, st := range sites {
		b := nn.NewBuilder(s.store, rng).Sub(st.Path)
		sh := Shapes(st.Out(), st.In(), R)
		var vars [8]*ag.Var
		for i, name := range TensorNames {
			if vars[i], err = b.Param(name, inits[i], sh[i]...); err != nil {
				return nil, fmt.Errorf("glora: %w", err)
			}
		}
		l, err := newLayerVars(st.Path, st.Base, vars)
		if err != nil {
			return nil, err
		}
		s.layers = append(s.layers, l)
		s.byPath[st.Path] = l
		s.cur[st.Path] = LayerChoice{}
	}
	for i, st := range sites {
		st.Set(s.layers[i])
	}
	return s, nil
}

// Layers are the GLoRA layers in the model's order.
func (s *Supernet) Layers() []*Layer { return s.layers }

// Layer returns the layer wrapping the module path.
func (s *Supernet) Layer(path string) (*Layer, bool) {
	l, ok := s.byPath[path]
	return l, ok
}

// Targets describes the wrapped layers (paths, widths, bias).
func (s *Supernet) Targets() []Target { return s.targets }

// Space is the search space.
func (s *Supernet) Space() Space { return s.space }

// Seed is the seed of the initialisation and of Sample's draws.
func (s *Supernet) Seed() uint64 { return s.seed }

// Store holds the support tensors, "<path>.glora_X", in the layers' order.
func (s *Supernet) Store() *nn.Store { return s.store }

// Trainable lists the support tensors that require a gradient (all of
// them unless frozen through Store().Freeze).
func (s *Supernet) Trainable() []*ag.Var {
	var out []*ag.Var
	for _, v := range s.store.Params() {
		if v.RequiresGrad {
			out = append(out, v)
		}
	}
	return out
}

// Active lists the trainable support tensors the current structure reads:
// the only ones a step's backward pass gives a gradient (an optimiser that
// updates only these matches PyTorch, where the others' .grad stays None).
func (s *Supernet) Active() []*ag.Var {
	var out []*ag.Var
	for _, l := range s.layers {
		for _, v := range l.used(l.choice) {
			if v.RequiresGrad {
				out = append(out, v)
			}
		}
	}
	return out
}

// Mode is the current mode.
func (s *Supernet) Mode() Mode { return s.mode }

// Structure is a copy of the structure the layers use now (every path none
// when disabled).
func (s *Supernet) Structure() Structure { return s.cur.Clone() }

// Params counts the support parameters the current structure reads.
func (s *Supernet) Params() int { return Params(s.cur, s.targets) }

// StepRand is the seeded source of step's structure draw: a pure function
// of (seed, step), so a resumed run draws what the uninterrupted one did.
func StepRand(seed uint64, step int) *rand.Rand { return stepRand(seed, step, sampleTag) }

func stepRand(seed uint64, step int, tag string) *rand.Rand {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], seed)
	binary.LittleEndian.PutUint64(key[8:], uint64(step))
	copy(key[16:], tag)
	return rand.New(rand.NewChaCha8(key))
}

// SetAnchors makes Sample train one of the structures sts, chosen
// uniformly, instead of a uniform draw in a fraction p of the steps (each
// step decides from its own seeded source, apart from StepRand, so the
// other steps draw what they would without anchors). A supernet's shared
// weights for a structure it rarely draws whole (LoRA on every layer is
// one draw in thousands) were trained among other paths; an anchor
// trains them as that structure, so the search scores it as it would
// train. nil (or p 0) turns anchors off.
func (s *Supernet) SetAnchors(sts []Structure, p float64) error {
	if p < 0 || p > 1 {
		return fmt.Errorf("glora: anchor fraction %g outside [0, 1]", p)
	}
	for _, st := range sts {
		if err := s.space.ValidateStructure(st, s.targets); err != nil {
			return fmt.Errorf("glora: anchor: %w", err)
		}
	}
	s.anchors, s.anchorP = nil, p
	for _, st := range sts {
		s.anchors = append(s.anchors, st.Clone())
	}
	return nil
}

// Sample draws training step's structure, every layer's choice uniform over
// its combinations (docs/DESIGN.md §2), from StepRand(seed, step), or one of
// the anchors (SetAnchors), installs it and switches to ModeSample. A
// merged supernet refuses (Unmerge first).
func (s *Supernet) Sample(step int) (Structure, error) {
	if len(s.anchors) > 0 && s.anchorP > 0 {
		if ar := stepRand(s.seed, step, anchorTag); ar.Float64() < s.anchorP {
			return s.useSample(func() Structure { return s.anchors[ar.IntN(len(s.anchors))] })
		}
	}
	return s.SampleFrom(StepRand(s.seed, step))
}

// SampleFrom is Sample with the draw taken from rng.
func (s *Supernet) SampleFrom(rng *rand.Rand) (Structure, error) {
	return s.useSample(func() Structure { return s.space.Sample(rng, s.targets) })
}

// useSample installs a training step's structure, draw's, in ModeSample
// and returns a copy of it. A merged supernet refuses before drawing.
func (s *Supernet) useSample(draw func() Structure) (Structure, error) {
	if s.merged {
		return nil, fmt.Errorf("glora: the supernet is merged; unmerge before sampling")
	}
	st := draw()
	if err := s.install(st); err != nil {
		return nil, err
	}
	s.mode = ModeSample
	return st.Clone(), nil
}

// SetStructure fixes the structure (ModeFixed) after checking it against
// the space and the targets (Space.ValidateStructure: every wrapped layer
// named, every choice allowed, C, D, E none on bias-less layers unless
// AddBias). A merged supernet accepts only the structure it merged.
func (s *Supernet) SetStructure(st Structure) error {
	if err := s.space.ValidateStructure(st, s.targets); err != nil {
		return err
	}
	if s.merged {
		if st.Key() != s.cur.Key() {
			return fmt.Errorf("glora: the supernet is merged with another structure; unmerge first")
		}
		s.mode = ModeFixed
		return nil
	}
	if err := s.install(st); err != nil {
		return err
	}
	s.mode = ModeFixed
	return nil
}

// TrainStructure is SetStructure with exactly the support tensors st reads
// trainable and every other one frozen: an optimiser then holds no state
// for what st does not read, and nothing unread moves (fixed-structure
// training, a search's finalists, a retraining from the supernet).
func (s *Supernet) TrainStructure(st Structure) error {
	if err := s.SetStructure(st); err != nil {
		return err
	}
	read := map[*ag.Var]bool{}
	for _, l := range s.layers {
		for _, v := range l.used(l.choice) {
			read[v] = true
		}
	}
	for _, p := range s.store.Params() {
		p.RequiresGrad = read[p]
	}
	return nil
}

// Disable switches the adapter off (ModeDisabled): every layer computes its
// base Linear, exactly. A merged supernet is unmerged first.
func (s *Supernet) Disable() {
	s.Unmerge()
	for _, l := range s.layers {
		l.choice = LayerChoice{}
		s.cur[l.path] = LayerChoice{}
	}
	s.mode = ModeDisabled
}

// install sets every layer's choice from st (validated by the caller or
// drawn from the space).
func (s *Supernet) install(st Structure) error {
	for _, l := range s.layers {
		if err := l.SetChoice(st[l.path]); err != nil {
			return err
		}
	}
	for _, l := range s.layers {
		s.cur[l.path] = l.choice
	}
	return nil
}

// Merged reports whether the structure is folded into the base layers.
func (s *Supernet) Merged() bool { return s.merged }

// Merge folds the current structure into every wrapped base Linear
// (docs/DESIGN.md §4, from the original W0; see Layer.Merge): the model then
// computes with plain Linears. It is all or nothing: a NaN or Inf in any
// layer's result is an error naming the layer, and no layer is changed.
// Merging a merged supernet does nothing.
func (s *Supernet) Merge() error {
	if s.merged {
		return nil
	}
	ws := make([]tensorPair, len(s.layers))
	for i, l := range s.layers {
		w, b, err := l.merge()
		if err != nil {
			return err
		}
		ws[i] = tensorPair{w, b}
	}
	for i, l := range s.layers {
		l.commit(ws[i].w, ws[i].b)
	}
	s.merged = true
	return nil
}

// tensorPair is a merged weight and bias.
type tensorPair struct{ w, b *tensor.Tensor }

// Unmerge restores every base layer's original W0 and b0, bit for bit.
func (s *Supernet) Unmerge() {
	for _, l := range s.layers {
		l.Unmerge()
	}
	s.merged = false
}

// Detach unmerges and puts the base layers back in the model (each site's
// Set(Base)); the supernet must not be used afterwards.
func (s *Supernet) Detach() {
	s.Unmerge()
	for _, st := range s.sites {
		st.Set(st.Base)
	}
}

// MergeAndDetach merges and puts the merged base layers back in the model
// for good: the model is then a plain model (zero extra inference cost)
// whose wrapped Linears hold W = W0 + W0⊙A + B and b = b0 + b0⊙D + E + W0·C;
// the original W0 and b0 are dropped. A bias-less base that gained a bias
// keeps it (a Var named "<path>.bias", not in the model's Store). On error
// nothing changes. The supernet must not be used afterwards.
func (s *Supernet) MergeAndDetach() error {
	if err := s.Merge(); err != nil {
		return err
	}
	for i, st := range s.sites {
		l := s.layers[i]
		l.w0, l.b0, l.merged, l.addedBias = nil, nil, false, false
		st.Set(st.Base)
	}
	s.merged = false
	return nil
}
