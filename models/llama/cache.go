package llama

import (
	"fmt"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// Cache holds every layer's keys (after the rotary embedding) and values
// for the positions decoded so far, so that each new token costs one
// position's work rather than the whole sequence's.
type Cache struct {
	layers []layerCache
	b, n   int // batch rows; positions filled
}

// layerCache is one layer's keys and values: (B, Hkv, Tmax, hd).
type layerCache struct{ k, v *tensor.Tensor }

// NewCache makes an empty cache for B rows of up to maxLen positions
// (at most the model's max_position_embeddings).
func (m *Model) NewCache(B, maxLen int) (*Cache, error) {
	c := m.Cfg
	if B <= 0 || maxLen <= 0 || maxLen > c.MaxSeq {
		return nil, fmt.Errorf("llama: a cache of %d rows × %d positions (max_position_embeddings %d)", B, maxLen, c.MaxSeq)
	}
	kc := &Cache{b: B}
	for range m.Layers {
		kc.layers = append(kc.layers, layerCache{
			k: tensor.New(B, c.KVHeads, maxLen, c.Head()),
			v: tensor.New(B, c.KVHeads, maxLen, c.Head()),
		})
	}
	return kc, nil
}

// Len is the number of positions in the cache.
func (c *Cache) Len() int { return c.n }

// Cap is the number of positions the cache holds at most.
func (c *Cache) Cap() int { return c.layers[0].k.Shape[2] }

// Reset empties the cache.
func (c *Cache) Reset() { c.n = 0 }

// Step runs the next T positions of each of the cache's B rows through the
// model, on a NoGrad tape, and returns the logits of each row's last one:
//
//	ids: (B, T) at positions Len() … Len()+T−1   →   logits (B, V)
//
// A prompt goes in one Step (T = its length), each generated token in one
// more (T = 1).
func (m *Model) Step(tp *ag.Tape, c *Cache, ids []int, B, T int) *ag.Var {
	if !tp.NoGrad {
		return tp.Fail(fmt.Errorf("llama: Step decodes without gradients: use a NoGrad tape"))
	}
	if len(c.layers) != len(m.Layers) || B != c.b || T <= 0 || len(ids) != B*T {
		return tp.Fail(fmt.Errorf("llama: step of %d ids as (%d, %d) into a cache of %d rows for %d layers",
			len(ids), B, T, c.b, len(c.layers)))
	}
	if c.n+T > c.Cap() {
		return tp.Fail(fmt.Errorf("llama: %d positions exceed the cache's %d", c.n+T, c.Cap()))
	}
	x := tp.Embedding(m.Embed, ids, B, T) // (B, T, D)
	for i, l := range m.Layers {
		x = l.forward(tp, x, m.Cfg, &c.layers[i], c.n)
	}
	c.n += T
	last := tp.Index(x, 1, T-1) // (B, D): RMSNorm is per position
	last = nn.RMSNorm(tp, last, m.Norm, float32(m.Cfg.NormEps))
	return m.headLayer().Forward(tp, last)
}

// attend stores k, v (B, Hkv, T, hd) at positions pos … pos+T−1 and runs
// q (B, H, T, hd) against every cached position up to its own.
func (kv *layerCache) attend(tp *ag.Tape, q, k, v *ag.Var, pos int) *ag.Var {
	if !tp.OK(q, k, v) {
		return tp.Dead()
	}
	s := k.Value.Shape
	B, hkv, T, hd := s[0], s[1], s[2], s[3]
	tmax := kv.k.Shape[2]
	for b := 0; b < B; b++ {
		for h := 0; h < hkv; h++ {
			src := (b*hkv + h) * T * hd
			dst := ((b*hkv+h)*tmax + pos) * hd
			copy(kv.k.Data[dst:dst+T*hd], k.Value.Data[src:src+T*hd])
			copy(kv.v.Data[dst:dst+T*hd], v.Value.Data[src:src+T*hd])
		}
	}
	return nn.CachedAttention(tp, q, kv.k, kv.v, pos+T)
}
