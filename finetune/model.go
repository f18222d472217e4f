// Package finetune adapts a pretrained ViT to new data with one of the
// parameter-efficient methods glora offers, all through the same GLoRA
// layer, training loop and data pipeline so that comparisons are fair:
//
//	glora        a searched GLoRA structure (a structure file)
//	glora-fixed  PEFT's default GLoRA: A = B = C = lora_r, D = E = constant
//	lora         B = lora_r
//	ssf          A, D, E vectors (SSF-like scale and shift)
//	ia3          A, D vectors (IA³-like output scaling)
//	bitfit       E vector (bias tuning)
//	linear       the head only (linear probing)
//	full         every weight
//
// and the GLoRA supernet (every structure at once, one drawn per step),
// whose search evaluator scores structures with merged weights.
package finetune

import (
	"fmt"
	"math/rand/v2"
	"slices"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/vit"
)

// The methods.
const (
	GLoRA      = "glora"
	GLoRAFixed = "glora-fixed"
	LoRA       = "lora"
	SSF        = "ssf"
	IA3        = "ia3"
	BitFit     = "bitfit"
	Linear     = "linear"
	Full       = "full"
	Supernet   = "supernet" // not a fine-tuning method: the weight-sharing supernet
)

// Methods lists the fine-tuning methods.
var Methods = []string{GLoRA, GLoRAFixed, LoRA, SSF, IA3, BitFit, Linear, Full}

// Defaults.
const (
	DefaultRank = 8 // lora and glora-fixed
)

// DefaultRanks are the supernet's lora ranks (sharing storage up to 8).
var DefaultRanks = []int{4, 8}

// Setup says how to adapt a model.
type Setup struct {
	Method    string          // one of Methods, or Supernet
	Structure glora.Structure // Method glora: the structure to train
	Rank      int             // lora, glora-fixed: the lora rank (0: DefaultRank)
	Ranks     []int           // Supernet: the lora ranks (nil: DefaultRanks)
	Targets   []string        // module paths, suffixes or a regular expression (nil: all-linear)
	Exclude   []string        // layers left out of Targets
	Seed      uint64          // support tensors' initialisation and the supernet's draws
	// Init, when set, starts the support tensors (and the head, when it has
	// one of the right shape) from an adapter or supernet folder's tensors
	// (e.g. a supernet's shared weights for a searched structure) instead
	// of GLoRA's zero-path initialisation.
	Init *glora.Adapter
	// UndrawnMomentum (Supernet): support tensors a step's draw does not
	// read still take an AdamW step from their momentum (see SampleHook).
	UndrawnMomentum bool
	// AnchorLoRA (Supernet) is the fraction of steps that train LoRA at
	// the largest rank on every layer instead of a uniform draw
	// (glora.Supernet.SetAnchors); 0: none.
	AnchorLoRA float64
}

// LoRARank is the largest lora rank s trains: the structure's, lora's and
// glora-fixed's Rank (or DefaultRank), the supernet's largest; 0 when s
// trains no lora path.
func (s Setup) LoRARank() int {
	switch {
	case s.Structure != nil:
		return s.Structure.MaxRank()
	case s.Method == LoRA || s.Method == GLoRAFixed:
		if s.Rank == 0 {
			return DefaultRank
		}
		return s.Rank
	case s.Method == Supernet:
		if len(s.Ranks) == 0 {
			return slices.Max(DefaultRanks)
		}
		return slices.Max(s.Ranks)
	}
	return 0
}

// Model is a ViT with the method's adapter attached: what train runs and
// evaluates. Params lists the ViT's parameters and the support tensors;
// RequiresGrad marks what the method trains.
type Model struct {
	ViT    *vit.Model
	Net    *glora.Supernet // nil for linear and full
	Method string
	// Labels are the head's class names, written into adapter folders
	// (glora_labels) so that a merged model names its classes; nil if unknown.
	Labels []string
	// EvalStructure, for a supernet, is the structure inference uses (the
	// validation curve during supernet training follows it); nil keeps
	// whatever structure is set.
	EvalStructure glora.Structure
	// UndrawnMomentum, for a supernet, keeps moving the support tensors a
	// step's structure does not read (see SampleHook).
	UndrawnMomentum bool
	// Training is the data the model trains on, recorded in its adapter
	// folders (glora_training); nil if unknown.
	Training *glora.TrainingRecord
}

// Forward maps images to logits (train.Model). A supernet in inference
// (rng nil) computes with EvalStructure when one is set.
func (m *Model) Forward(tp *ag.Tape, x *ag.Var, rng *rand.Rand) *ag.Var {
	if rng == nil && m.Net != nil && m.EvalStructure != nil && !m.Net.Merged() &&
		(m.Net.Mode() != glora.ModeFixed || m.Net.Structure().Key() != m.EvalStructure.Key()) {
		if err := m.Net.SetStructure(m.EvalStructure); err != nil {
			return tp.Fail(fmt.Errorf("finetune: evaluation structure: %w", err))
		}
	}
	return m.ViT.Forward(tp, x, rng)
}

// Params lists every parameter: the ViT's, then the support tensors.
func (m *Model) Params() []*ag.Var {
	ps := m.ViT.Params()
	if m.Net != nil {
		ps = append(slices.Clone(ps), m.Net.Store().Params()...)
	}
	return ps
}

// Trainable counts the parameters the method trains: support parameters
// the structure reads (a supernet: all it stores), and the head's.
func (m *Model) Trainable() (support, head int) {
	if m.ViT.Head != nil && m.ViT.Head.W.RequiresGrad {
		head = m.ViT.Head.W.Value.Numel()
		if m.ViT.Head.B != nil {
			head += m.ViT.Head.B.Value.Numel()
		}
	}
	switch {
	case m.Method == Full:
		return m.ViT.Store.Count(false) - head, head
	case m.Net == nil:
		return 0, head
	case m.Method == Supernet:
		return m.Net.Store().Count(true), head
	}
	return m.Net.Params(), head
}

// Attach adapts v (whose head already fits the data's classes) for s: it
// freezes the backbone (every method but full), keeps the head trainable,
// attaches GLoRA layers for the structure methods and the supernet, and
// marks trainable exactly the support tensors the structure reads.
func Attach(v *vit.Model, s Setup) (*Model, error) {
	if v.Head == nil {
		return nil, fmt.Errorf("finetune: the model has no classification head")
	}
	m := &Model{ViT: v, Method: s.Method, UndrawnMomentum: s.UndrawnMomentum}
	v.Store.SetTrainable(func(string, *ag.Var) bool { return s.Method == Full })
	v.Store.Unfreeze("head")
	rank := s.Rank
	if rank == 0 {
		rank = DefaultRank
	}
	var st glora.Structure
	space := glora.Space{Ranks: []int{rank}}
	switch s.Method {
	case Full, Linear:
		if s.Init != nil && s.Init.Head != nil {
			return m, initHead(v, s.Init)
		}
		return m, nil
	case Supernet:
		space.Ranks = s.Ranks
		if space.Ranks == nil {
			space.Ranks = DefaultRanks
		}
	case GLoRA:
		if len(s.Structure) == 0 {
			return nil, fmt.Errorf("finetune: method glora needs a structure (e.g. the search's structure.json)")
		}
		st = s.Structure
		space.Ranks = structureRanks(st)
	case SSF, IA3, BitFit:
		space.Ranks = []int{1} // vectors only: store (out, 1), exactly what they read
	case GLoRAFixed, LoRA:
	default:
		return nil, fmt.Errorf("finetune: unknown method %q (want %v)", s.Method, Methods)
	}
	net, err := glora.Attach(v, glora.Options{Targets: s.Targets, Exclude: s.Exclude, Space: space, Seed: s.Seed})
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	m.Net = net
	if s.Init != nil {
		if err := initFrom(m, s.Init); err != nil {
			net.Detach()
			return nil, err
		}
	}
	if s.Method == Supernet {
		if s.AnchorLoRA > 0 {
			lora, err := glora.Named(LoRA, net.Targets(), space.MaxRank(), false)
			if err == nil {
				err = net.SetAnchors([]glora.Structure{lora}, s.AnchorLoRA)
			}
			if err != nil {
				net.Detach()
				return nil, fmt.Errorf("finetune: %w", err)
			}
		}
		return m, nil
	}
	if st == nil {
		if st, err = glora.Named(s.Method, net.Targets(), space.MaxRank(), false); err != nil {
			net.Detach()
			return nil, fmt.Errorf("finetune: %w", err)
		}
	}
	if err := net.TrainStructure(st); err != nil { // only what st reads trains
		net.Detach()
		return nil, fmt.Errorf("finetune: %w", err)
	}
	return m, nil
}

// structureRanks lists the distinct lora ranks st uses (at least one).
func structureRanks(st glora.Structure) []int {
	var rs []int
	for _, lc := range st {
		for _, c := range lc {
			if c.Kind == glora.LoRA && !slices.Contains(rs, c.Rank) {
				rs = append(rs, c.Rank)
			}
		}
	}
	if len(rs) == 0 {
		return []int{1}
	}
	slices.Sort(rs)
	return rs
}

// initFrom copies an adapter's or supernet's stored tensors into m's
// layers (the first min(R, R') ranks; the rest of m's stay as initialised)
// and its head when the shapes agree.
func initFrom(m *Model, a *glora.Adapter) error {
	for _, l := range m.Net.Layers() {
		src, ok := a.Layers[l.Path()]
		if !ok {
			return fmt.Errorf("finetune: --init has no tensors for layer %q", l.Path())
		}
		dst := l.Tensors()
		s, d := src.List(), dst.List()
		for i := range d {
			if err := copyLeading(d[i].Data, d[i].Shape, s[i].Data, s[i].Shape); err != nil {
				return fmt.Errorf("finetune: --init layer %q tensor %s: %w", l.Path(), glora.TensorNames[i], err)
			}
		}
	}
	if a.Head != nil {
		return initHead(m.ViT, a)
	}
	return nil
}

// initHead copies a's head into v's when the shapes agree.
func initHead(v *vit.Model, a *glora.Adapter) error {
	h := a.Head
	if h.W == nil || len(h.W.Shape) != 2 || h.W.Shape[0] != v.Cfg.NumClasses || h.W.Shape[1] != v.Cfg.Dim {
		return nil // another task's head: keep the fresh one
	}
	copy(v.Head.W.Value.Data, h.W.Data)
	if h.B != nil && v.Head.B != nil && len(h.B.Data) == len(v.Head.B.Value.Data) {
		copy(v.Head.B.Value.Data, h.B.Data)
	}
	return nil
}

// copyLeading copies the overlapping leading block of a 1-D or 2-D source
// into a destination of the same rank: rows agree, columns (the rank
// dimension for (out, R) and (in, R)) or rows (for (R, in), (R, 1)) may differ.
func copyLeading(dst []float32, dshape []int, src []float32, sshape []int) error {
	if len(dshape) != len(sshape) {
		return fmt.Errorf("shape %v, want rank %d", sshape, len(dshape))
	}
	if len(dshape) == 1 {
		if dshape[0] != sshape[0] {
			return fmt.Errorf("shape %v, want %v", sshape, dshape)
		}
		copy(dst, src)
		return nil
	}
	dr, dc, sr, sc := dshape[0], dshape[1], sshape[0], sshape[1]
	// Exactly one of the two dimensions is the rank; the other must agree.
	if dr != sr && dc != sc {
		return fmt.Errorf("shape %v does not fit %v", sshape, dshape)
	}
	for r := 0; r < min(dr, sr); r++ {
		copy(dst[r*dc:r*dc+min(dc, sc)], src[r*sc:r*sc+min(dc, sc)])
	}
	return nil
}
