package glora

// Adapter folders in the format of PEFT's GLoRA tuner (see adapter_config.go
// for what PEFT writes and where that was found):
//
//	adapter_config.json        AdapterConfig
//	adapter_model.safetensors  per layer base_model.model.<path>.glora_{Ad,Au,Bd,Bu,Cd,Cu,D,E}
//	                           (Shapes(out, in, R)); the head, when trained,
//	                           base_model.model.<head path>.{weight,bias}
//
// Module paths are glora's, which are timm's (blocks.N.attn.qkv, …, head):
// for a timm base they are exactly the paths PEFT sees. A transformers-
// dialect base has separate query/key/value Linears where glora has one
// fused qkv; its adapters are still written and read in glora's (timm)
// paths, so glora merges them onto either dialect, but PEFT applied to a
// transformers ViTForImageClassification would not find these paths, and
// reading an adapter written in transformers paths (…attention.query) is
// refused: splitting and re-fusing qkv's paths is not implemented.

import (
	"errors"
	"fmt"
	"slices"

	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// File names inside an adapter folder, and PEFT's tensor name prefix.
const (
	AdapterConfigFile  = "adapter_config.json"
	AdapterWeightsFile = "adapter_model.safetensors"
	PeftPrefix         = "base_model.model."
)

// Head is a trained classification head saved with an adapter (PEFT's
// modules_to_save).
type Head struct {
	Path string         // module path, "head" for glora's ViT
	W    *tensor.Tensor // (classes, in)
	B    *tensor.Tensor // (classes)
}

// Adapter is the content of an adapter folder: a structure and the stored
// tensors it reads, at rank R, optionally with a trained head; or, with
// Supernet set, a whole supernet's tensors (no structure).
type Adapter struct {
	// Structure maps each GLoRA layer's module path to its choices; nil in
	// a supernet.
	Structure Structure
	// R is the stored rank: the structure's largest lora rank (at least 1),
	// or the supernet's largest.
	R int
	// Layers holds each layer's stored tensors at rank R. In an adapter
	// every entry the structure does not read is zero.
	Layers map[string]*LayerTensors
	// Head is the trained head, or nil.
	Head *Head
	// BaseModel is base_model_name_or_path ("" for none).
	BaseModel string
	// Labels are the head's class names (nil when unknown or no head).
	Labels []string
	// Training is the data it was trained on (nil when unknown).
	Training *TrainingRecord
	// Supernet marks a whole supernet; Ranks and AddBias are its space.
	Supernet bool
	Ranks    []int
	AddBias  bool
	// Config is the adapter_config.json read by Load (nil for a new
	// adapter); Save keeps its fields that glora does not derive
	// (task_type, revision, PEFT's other keys).
	Config *AdapterConfig
}

// NewAdapter makes an adapter of structure st from stored tensors (for
// instance a supernet's, at any rank ≥ the structure's): R is st's largest
// lora rank (1 when it has none) and only the entries st reads are copied,
// the rest of each tensor is zero. Errors name the layer and tensor.
func NewAdapter(st Structure, layers map[string]*LayerTensors, head *Head) (*Adapter, error) {
	a, err := newAdapter(st, layers, head)
	if err != nil {
		return nil, fmt.Errorf("glora: adapter: %w", err)
	}
	return a, nil
}

func newAdapter(st Structure, layers map[string]*LayerTensors, head *Head) (*Adapter, error) {
	if len(st) == 0 {
		return nil, errors.New("empty structure")
	}
	R := max(st.MaxRank(), 1)
	a := &Adapter{Structure: st.Clone(), R: R, Layers: map[string]*LayerTensors{}, Head: head}
	for _, p := range st.Paths() {
		t, ok := layers[p]
		if !ok || t == nil {
			return nil, fmt.Errorf("no tensors for layer %q", p)
		}
		out, in, err := layerDims(p, t)
		if err != nil {
			return nil, err
		}
		if t.Rank() < R {
			return nil, fmt.Errorf("layer %q: stored rank %d is below the structure's rank %d", p, t.Rank(), R)
		}
		c, err := readEntries(p, t, st[p], out, in, R)
		if err != nil {
			return nil, err
		}
		a.Layers[p] = c
	}
	for p := range layers {
		if _, ok := st[p]; !ok {
			return nil, fmt.Errorf("tensors for layer %q, which the structure does not name", p)
		}
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return a, nil
}

// NewSupernetAdapter describes a whole supernet for a supernet folder: the
// space, every layer's tensors at the space's rank (kept whole), and the
// head or nil.
func NewSupernetAdapter(sp Space, layers map[string]*LayerTensors, head *Head) (*Adapter, error) {
	if err := sp.Validate(); err != nil {
		return nil, err
	}
	a := &Adapter{R: sp.MaxRank(), Layers: layers, Head: head, Supernet: true,
		Ranks: slices.Clone(sp.Ranks), AddBias: sp.AddBias}
	if err := a.check(); err != nil {
		return nil, fmt.Errorf("glora: supernet: %w", err)
	}
	return a, nil
}

// layerDims reads (out, in) from a layer's tensors and checks that the
// eight shapes agree at the tensors' rank.
func layerDims(path string, t *LayerTensors) (out, in int, err error) {
	l := t.List()
	for i, v := range l {
		if v == nil {
			return 0, 0, fmt.Errorf("layer %q: tensor %s missing", path, TensorNames[i])
		}
	}
	if len(t.Ad.Shape) != 2 || len(t.Au.Shape) != 2 {
		return 0, 0, fmt.Errorf("layer %q: %s has shape %s and %s %s, want (out, R) and (R, in)",
			path, TensorNames[0], tensor.ShapeString(t.Ad.Shape), TensorNames[1], tensor.ShapeString(t.Au.Shape))
	}
	out, R, in := t.Ad.Shape[0], t.Ad.Shape[1], t.Au.Shape[1]
	if out < 1 || in < 1 || R < 1 {
		return 0, 0, fmt.Errorf("layer %q: %s has shape %s and %s %s: sizes must be ≥ 1",
			path, TensorNames[0], tensor.ShapeString(t.Ad.Shape), TensorNames[1], tensor.ShapeString(t.Au.Shape))
	}
	sh := Shapes(out, in, R)
	for i, v := range l {
		if !tensor.SameShape(v.Shape, sh[i]) {
			return 0, 0, fmt.Errorf("layer %q: tensor %s has shape %s, want %s (layer %d→%d, rank %d)",
				path, TensorNames[i], tensor.ShapeString(v.Shape), tensor.ShapeString(sh[i]), in, out, R)
		}
	}
	return out, in, nil
}

// readEntries copies the entries choice lc reads from t (any rank ≥ R)
// into fresh zero tensors of rank R, refusing NaN and Inf among them.
func readEntries(path string, t *LayerTensors, lc LayerChoice, out, in, R int) (*LayerTensors, error) {
	if err := CheckChoice(lc, R); err != nil {
		return nil, fmt.Errorf("layer %q: %w", path, err)
	}
	c := NewLayerTensors(out, in, R, nil)
	src, dst := t.List(), c.List()
	Rs := t.Rank()
	// copy2 copies rows [0,rows) × cols [0,cols) of a (·, srcCols) matrix.
	copy2 := func(i, rows, cols, srcCols, dstCols int) error {
		for r := 0; r < rows; r++ {
			for k := 0; k < cols; k++ {
				v := src[i].Data[r*srcCols+k]
				if firstNonFinite([]float32{v}) >= 0 {
					return fmt.Errorf("layer %q: tensor %s has %v at [%d, %d], an entry %s reads",
						path, TensorNames[i], v, r, k, lc)
				}
				dst[i].Data[r*dstCols+k] = v
			}
		}
		return nil
	}
	for s, pair := range [][2]int{A: {0, 1}, B: {2, 3}} {
		d, u := pair[0], pair[1]
		var err error
		switch ch := lc[s]; ch.Kind {
		case LoRA:
			if err = copy2(d, out, ch.Rank, Rs, R); err == nil {
				err = copy2(u, ch.Rank, in, in, in)
			}
		case Vector:
			err = copy2(d, out, 1, Rs, R)
		case Constant:
			err = copy2(d, 1, 1, Rs, R)
		}
		if err != nil {
			return nil, err
		}
	}
	var err error
	switch ch := lc[C]; ch.Kind {
	case LoRA:
		if err = copy2(4, in, ch.Rank, Rs, R); err == nil {
			err = copy2(5, ch.Rank, 1, 1, 1)
		}
	case Vector:
		err = copy2(4, in, 1, Rs, R)
	}
	if err != nil {
		return nil, err
	}
	for s, i := range map[Support]int{D: 6, E: 7} {
		switch lc[s].Kind {
		case Vector:
			err = copy2(i, 1, out, out, out)
		case Constant:
			err = copy2(i, 1, 1, out, out)
		}
		if err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// check validates a: structure and layers agree, shapes at rank R, choices
// within R, finite values (an adapter: the read entries, which are all its
// non-zero entries; a supernet: everything), and the head.
func (a *Adapter) check() error {
	if a.R < 1 {
		return fmt.Errorf("rank %d must be ≥ 1", a.R)
	}
	if len(a.Layers) == 0 {
		return errors.New("no layers")
	}
	if !a.Supernet {
		if len(a.Structure) == 0 {
			return errors.New("no structure")
		}
		for p := range a.Structure {
			if _, ok := a.Layers[p]; !ok {
				return fmt.Errorf("no tensors for layer %q", p)
			}
		}
	} else if a.Structure != nil {
		return errors.New("a supernet folder holds no structure")
	}
	for p, t := range a.Layers {
		if !validModulePath(p) {
			return fmt.Errorf("%q is not a module path", p)
		}
		if !a.Supernet {
			if _, ok := a.Structure[p]; !ok {
				return fmt.Errorf("tensors for layer %q, which the structure does not name", p)
			}
		}
		if t == nil {
			return fmt.Errorf("layer %q: no tensors", p)
		}
		if _, _, err := layerDims(p, t); err != nil {
			return err
		}
		if t.Rank() != a.R {
			return fmt.Errorf("layer %q: stored rank %d, the adapter's is %d", p, t.Rank(), a.R)
		}
		if !a.Supernet {
			if err := CheckChoice(a.Structure[p], a.R); err != nil {
				return fmt.Errorf("layer %q: %w", p, err)
			}
		}
		for i, v := range t.List() {
			if j := firstNonFinite(v.Data); j >= 0 {
				return fmt.Errorf("layer %q: tensor %s has %v at flat index %d", p, TensorNames[i], v.Data[j], j)
			}
		}
	}
	if h := a.Head; h != nil {
		if !validModulePath(h.Path) {
			return fmt.Errorf("head path %q is not a module path", h.Path)
		}
		if _, ok := a.Layers[h.Path]; ok {
			return fmt.Errorf("%q is both a GLoRA layer and the saved head", h.Path)
		}
		if h.W == nil || h.B == nil || len(h.W.Shape) != 2 || len(h.B.Shape) != 1 || h.B.Shape[0] != h.W.Shape[0] || h.W.Shape[0] < 1 {
			return fmt.Errorf("head %q: want weight (classes, in) and bias (classes)", h.Path)
		}
		if a.Labels != nil && len(a.Labels) != h.W.Shape[0] {
			return fmt.Errorf("glora_labels has %d class names, the head %q %d classes", len(a.Labels), h.Path, h.W.Shape[0])
		}
		for _, x := range []struct {
			n string
			t *tensor.Tensor
		}{{"weight", h.W}, {"bias", h.B}} {
			if j := firstNonFinite(x.t.Data); j >= 0 {
				return fmt.Errorf("head tensor %s.%s has %v at flat index %d", h.Path, x.n, x.t.Data[j], j)
			}
		}
	}
	return nil
}

// config derives adapter_config.json from a (keeping a.Config's
// underived fields).
func (a *Adapter) config() *AdapterConfig {
	c := &AdapterConfig{}
	if a.Config != nil {
		cp := *a.Config
		c = &cp
	}
	c.PeftType, c.R, c.Supernet, c.AddBias = PeftType, a.R, a.Supernet, a.AddBias
	c.InferenceMode = !a.Supernet
	c.BaseModelNameOrPath = nil
	if a.BaseModel != "" {
		b := a.BaseModel
		c.BaseModelNameOrPath = &b
	}
	paths := make(Structure, len(a.Layers))
	for p := range a.Layers {
		paths[p] = LayerChoice{}
	}
	c.TargetModules = TargetModules{Names: paths.Paths()}
	c.ModulesToSave, c.Labels, c.Training = nil, nil, a.Training
	if a.Head != nil {
		c.ModulesToSave = []string{a.Head.Path}
		c.Labels = a.Labels
	}
	if a.Supernet {
		c.Structure, c.Ranks = nil, slices.Clone(a.Ranks)
		c.ConfigAB, c.ConfigC, c.ConfigDE = nil, nil, nil
	} else {
		c.Structure, c.Ranks = a.Structure.Clone(), structureRanks(a.Structure)
		c.ConfigAB, c.ConfigC, c.ConfigDE = peftUniform(a.Structure, a.R)
	}
	return c
}

// Targets lists the adapter's layers as Targets (widths from the tensors;
// HasBias is unknown here and false), in natural path order.
func (a *Adapter) Targets() []Target {
	paths := make(Structure, len(a.Layers))
	for p := range a.Layers {
		paths[p] = LayerChoice{}
	}
	var out []Target
	for _, p := range paths.Paths() {
		t := a.Layers[p]
		out = append(out, Target{Path: p, In: t.Au.Shape[1], Out: t.Ad.Shape[0]})
	}
	return out
}

// Params counts what the adapter trains: the parameters its structure
// reads (docs/DESIGN.md §1; a supernet: every stored entry) and, separately, the
// head's.
func (a *Adapter) Params() (support, head int) {
	for _, t := range a.Targets() {
		if a.Supernet {
			for _, v := range a.Layers[t.Path].List() {
				support += v.Numel()
			}
		} else {
			support += a.Structure[t.Path].Params(t.In, t.Out)
		}
	}
	if a.Head != nil {
		head = a.Head.W.Numel() + a.Head.B.Numel()
	}
	return support, head
}

// MergedLinear is one layer merged by Adapter.Merge: the new weight and
// bias; AddsBias when the base layer had no bias and the merged one does.
type MergedLinear struct {
	Path     string
	Site     nn.LinearSite
	W, B     *tensor.Tensor
	AddsBias bool
}

// Merge computes every layer of the adapter merged into the base sites
// (MergeLinear from the original W0, b0), without modifying anything: each
// layer must be one of the sites (not the head) with the adapter's widths,
// and a merged result holding NaN/Inf is an error naming the layer. The
// head, if any, is checked against the base's input width but returned
// as is (a.Head). A supernet cannot be merged.
func (a *Adapter) Merge(sites []nn.LinearSite) ([]MergedLinear, error) {
	if a.Supernet {
		return nil, errors.New("glora: merge: a supernet has no single structure to merge; search for one and save it as an adapter")
	}
	byPath := map[string]nn.LinearSite{}
	var headSite *nn.LinearSite
	for i, s := range sites {
		byPath[s.Path] = s
		if s.Head {
			headSite = &sites[i]
		}
	}
	var out []MergedLinear
	for _, t := range a.Targets() {
		s, ok := byPath[t.Path]
		if !ok {
			return nil, fmt.Errorf("glora: merge: adapter layer %q: the base model has no such Linear (it has %s)", t.Path, sitesSummary(sites))
		}
		if s.Head {
			return nil, fmt.Errorf("glora: merge: adapter layer %q is the base's classification head, which GLoRA never wraps", t.Path)
		}
		if s.In() != t.In || s.Out() != t.Out {
			return nil, fmt.Errorf("glora: merge: adapter layer %q is %d→%d, the base's Linear is %d→%d", t.Path, t.In, t.Out, s.In(), s.Out())
		}
		var b0 *tensor.Tensor
		if s.Base.B != nil {
			b0 = s.Base.B.Value
		}
		w, b, err := MergeLinear(s.Base.W.Value, b0, a.Layers[t.Path], a.Structure[t.Path])
		if err != nil {
			return nil, fmt.Errorf("glora: merge: layer %q: %w", t.Path, err)
		}
		out = append(out, MergedLinear{Path: t.Path, Site: s, W: w, B: b, AddsBias: b0 == nil && b != nil})
	}
	if h := a.Head; h != nil && headSite != nil { // a headless base gets the head from the caller
		if h.Path != headSite.Path {
			return nil, fmt.Errorf("glora: merge: the adapter's head is %q, the base's is %q", h.Path, headSite.Path)
		}
		if h.W.Shape[1] != headSite.In() {
			return nil, fmt.Errorf("glora: merge: the adapter's head %q reads %d features, the base's %d", h.Path, h.W.Shape[1], headSite.In())
		}
	}
	return out, nil
}
