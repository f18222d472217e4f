package lmtrain

import (
	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/llama"
)

// MergeAdapter folds a into m (glora.Adapter.Merge: MergeLinear per layer
// from the original weights): each projection's weight, and its bias, is
// the merged one. A projection that gains a bias (C, D or E on a bias-less
// Llama projection) keeps it, and the model returned declares it
// (llama.Model.WithBiases: attention_bias / mlp_bias). It returns that
// model and how many layers were merged; m's weights are overwritten.
func MergeAdapter(m *llama.Model, a *glora.Adapter) (*llama.Model, int, error) {
	merged, err := a.Merge(m.Linears())
	if err != nil {
		return nil, 0, err
	}
	for _, ml := range merged {
		copy(ml.Site.Base.W.Value.Data, ml.W.Data)
		switch {
		case ml.AddsBias:
			ml.Site.Base.B = &ag.Var{Value: ml.B, Name: ml.Path + ".bias"}
		case ml.B != nil:
			copy(ml.Site.Base.B.Value.Data, ml.B.Data)
		}
	}
	w, err := m.WithBiases()
	if err != nil {
		return nil, 0, err
	}
	return w, len(merged), nil
}
