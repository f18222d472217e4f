package vit

import (
	"fmt"

	"github.com/glora/glora/nn"
)

// Linears lists every Linear layer of the model in forward order, by its
// timm module path: blocks.N.attn.qkv, blocks.N.attn.proj, blocks.N.mlp.fc1,
// blocks.N.mlp.fc2 for each block, then the head (Head: true) when the
// model has one. Each site's Set replaces the layer Forward calls, so an
// adapter wraps a layer without touching Block.Forward.
func (m *Model) Linears() []nn.LinearSite {
	var sites []nn.LinearSite
	for i, blk := range m.Blocks {
		base := m.blockBases[i]
		slots := []struct {
			name string
			base *nn.Linear
			ptr  *nn.Layer
		}{
			{"attn.qkv", base[0], &blk.QKV},
			{"attn.proj", base[1], &blk.Proj},
			{"mlp.fc1", base[2], &blk.FC1},
			{"mlp.fc2", base[3], &blk.FC2},
		}
		for _, s := range slots {
			ptr := s.ptr
			sites = append(sites, nn.LinearSite{
				Path:    fmt.Sprintf("blocks.%d.%s", i, s.name),
				Base:    s.base,
				Current: func() nn.Layer { return *ptr },
				Set:     func(l nn.Layer) { *ptr = l },
			})
		}
	}
	if m.Head != nil {
		sites = append(sites, nn.LinearSite{
			Path:    "head",
			Base:    m.Head,
			Head:    true,
			Current: func() nn.Layer { return m.headLayer() },
			Set:     func(l nn.Layer) { m.headWrap = l },
		})
	}
	return sites
}

// headLayer is the layer Forward applies as the head: the Head Linear, or
// the wrapper a walker set in its place.
func (m *Model) headLayer() nn.Layer {
	if m.headWrap != nil && m.headWrap != nn.Layer(m.Head) {
		return m.headWrap
	}
	return m.Head
}
