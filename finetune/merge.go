package finetune

import (
	"fmt"
	"strings"

	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/vit"
)

// MergeAdapter merges a into m (glora.Adapter.Merge: MergeLinear per layer
// from the original weights) and installs the adapter's head. A layer that
// gains a bias (C, D or E on a bias-less layer) keeps it: a ViT's
// bias-less Linear can only be qkv (qkv_bias false), and the merged model
// then has qkv_bias true, zero where no layer gained one; any other
// bias-less layer is refused. It returns the model (a new one when qkv
// biases were added) and a one-line report.
func MergeAdapter(m *vit.Model, a *glora.Adapter) (*vit.Model, string, error) {
	merged, err := a.Merge(m.Linears())
	if err != nil {
		return nil, "", err
	}
	gained := 0
	for _, x := range merged {
		if !x.AddsBias {
			continue
		}
		if !strings.HasSuffix(x.Path, ".attn.qkv") {
			return nil, "", fmt.Errorf("merge: layer %q has no bias and the adapter gives it one (C, D or E), which this model format cannot hold", x.Path)
		}
		gained++
	}
	if gained > 0 && !m.Cfg.QKVBias {
		if m, err = withQKVBias(m); err != nil {
			return nil, "", err
		}
	}
	sites := map[string]int{}
	ls := m.Linears()
	for i, s := range ls {
		sites[s.Path] = i
	}
	for _, x := range merged {
		s := ls[sites[x.Path]]
		s.Base.W.Value = x.W
		if x.B != nil {
			s.Base.B.Value = x.B
		}
	}
	rep := fmt.Sprintf("%d layers (rank %d)", len(merged), a.R)
	if gained > 0 {
		rep += fmt.Sprintf(", %d qkv layers gained a bias (qkv_bias is now true)", gained)
	}
	if h := a.Head; h != nil {
		if h.Path != "head" {
			return nil, "", fmt.Errorf("merge: the adapter's head is %q; glora's ViT calls it \"head\"", h.Path)
		}
		if h.W.Shape[1] != m.Cfg.Dim {
			return nil, "", fmt.Errorf("merge: the adapter's head reads %d features, the model's width is %d", h.W.Shape[1], m.Cfg.Dim)
		}
		if err := m.ResetHead(h.W.Shape[0], nil); err != nil {
			return nil, "", err
		}
		m.Head.W.Value, m.Head.B.Value = h.W.Clone(), h.B.Clone()
		rep += fmt.Sprintf(", and the adapter's head (%d classes)", h.W.Shape[0])
	}
	return m, rep, nil
}

// withQKVBias rebuilds m with qkv biases (zero), sharing every other value.
func withQKVBias(m *vit.Model) (*vit.Model, error) {
	cfg := m.Cfg
	cfg.QKVBias = true
	n, err := vit.New(cfg, nil)
	if err != nil {
		return nil, err
	}
	for _, v := range n.Store.Params() {
		if old, ok := m.Store.Get(v.Name); ok {
			v.Value = old.Value
		}
	}
	return n, nil
}
