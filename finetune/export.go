package finetune

import (
	"context"
	"fmt"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/data"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// SampleHook is the supernet's per-step hook (train.Hook): it draws the
// step's structure, every layer's choice uniform over its combinations,
// as a pure function of the supernet's seed and the step (so a resumed run
// draws the same), and drops the gradient buffers of the support tensors
// the draw does not read, so that AdamW leaves them alone that step (no
// momentum step, no decay), as PyTorch's zero_grad(set_to_none=True) does.
// With m.UndrawnMomentum they get a zero gradient instead, so AdamW moves
// them every step from their momentum (and decays them), as the reference
// code's PyTorch 1.10 zero_grad() did.
func (m *Model) SampleHook() train.Hook {
	return func(step int, _ *rand.Rand) error {
		if m.Net == nil {
			return fmt.Errorf("finetune: no supernet to sample")
		}
		if _, err := m.Net.Sample(step); err != nil {
			return err
		}
		active := map[*ag.Var]bool{}
		for _, p := range m.Net.Active() {
			active[p] = true
		}
		for _, p := range m.Net.Store().Params() {
			switch {
			case active[p]:
			case !m.UndrawnMomentum:
				p.Grad = nil
			case p.Grad == nil:
				p.Grad = tensor.New(p.Value.Shape...)
			}
		}
		return nil
	}
}

// head is the ViT's head as an adapter's head.
func (m *Model) head() *glora.Head {
	h := m.ViT.Head
	if h == nil {
		return nil
	}
	out := &glora.Head{Path: "head", W: h.W.Value}
	if h.B != nil {
		out.B = h.B.Value
	}
	return out
}

// layerTensors maps each GLoRA layer's path to its stored tensors.
func (m *Model) layerTensors() map[string]*glora.LayerTensors {
	out := map[string]*glora.LayerTensors{}
	for _, l := range m.Net.Layers() {
		t := l.Tensors()
		out[l.Path()] = &t
	}
	return out
}

// Adapter is m's adapter-folder content: the structure it trains with the
// tensors that structure reads and the head (structure methods); every
// stored tensor (a supernet); base names the base model
// (base_model_name_or_path). Linear and full have no adapter.
func (m *Model) Adapter(base string) (*glora.Adapter, error) {
	if m.Net == nil {
		return nil, fmt.Errorf("finetune: method %s has no adapter (it changes the model itself: save the model)", m.Method)
	}
	var a *glora.Adapter
	var err error
	if m.Method == Supernet {
		a, err = glora.NewSupernetAdapter(m.Net.Space(), m.layerTensors(), m.head())
	} else {
		a, err = glora.NewAdapter(m.Net.Structure(), m.layerTensors(), m.head())
	}
	if err != nil {
		return nil, err
	}
	a.BaseModel, a.Training = base, m.Training
	if a.Head != nil && len(m.Labels) == m.ViT.Cfg.NumClasses {
		a.Labels = m.Labels
	}
	return a, nil
}

// SaveAdapter writes m's adapter (or supernet) folder.
func (m *Model) SaveAdapter(dir, base string) error {
	a, err := m.Adapter(base)
	if err != nil {
		return err
	}
	return glora.Save(dir, a, glora.SaveOptions{})
}

// SaveMerged writes the plain model m computes (the structure folded into
// W and b: the base's shape and inference cost) as a checkpoint folder in
// ck's dialect, without changing m: a supernet is merged for the save and
// unmerged after.
func (m *Model) SaveMerged(dir string, ck vit.Checkpoint, dt safetensors.DType) error {
	if m.Net != nil {
		if m.EvalStructure != nil && !m.Net.Merged() {
			if err := m.Net.SetStructure(m.EvalStructure); err != nil {
				return err
			}
		}
		if err := m.Net.Merge(); err != nil {
			return err
		}
		defer m.Net.Unmerge()
		for _, l := range m.Net.Layers() {
			if l.Base().B != nil && !l.HasBias() {
				return fmt.Errorf("finetune: layer %q gained a bias the model's format has no place for", l.Path())
			}
		}
	}
	ck.Config = m.ViT.Cfg
	return vit.SaveFresh(m.ViT, dir, ck, dt)
}

// Evaluator scores structures for the search (docs/DESIGN.md §3): the supernet
// with the structure fixed, its weights merged into plain Linears (as fast
// as the base; each layer merged once and reused by later candidates with
// the same choice there while its support values are unchanged), top-1 accuracy and loss on val, the shared weights
// inherited, nothing fine-tuned; the matrix products at precision prec.
func (m *Model) Evaluator(val *data.Dataset, pre data.Preprocess, batch int, prec tensor.Precision) search.Evaluator {
	return func(ctx context.Context, st glora.Structure) (search.Score, error) {
		if m.Net == nil {
			return search.Score{}, fmt.Errorf("finetune: no supernet to search")
		}
		m.EvalStructure = nil
		// Merged incrementally: layers whose choice the last candidate
		// shared keep their merged weights (glora.Supernet.MergeStructure).
		if _, err := m.Net.MergeStructure(st); err != nil {
			return search.Score{}, err
		}
		defer m.Net.Unmerge()
		mt, err := train.EvaluateModel(m, val, pre, batch, prec)
		if err != nil {
			return search.Score{}, err
		}
		return search.Score{Accuracy: mt.Accuracy, Loss: mt.Loss}, nil
	}
}
