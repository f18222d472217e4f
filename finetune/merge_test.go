package finetune

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/vit"
)

// An adapter merged into a fresh copy of its base gives the adapted
// model's logits; merged into the same base without qkv biases (the
// adapted model's are zero), C, D and E give qkv a bias and the merged
// model declares qkv_bias, with the same logits; a head of another width
// is refused.
func TestMergeAdapter(t *testing.T) {
	x := batch(t)
	// withBias is base(t) with zero qkv biases; without, the same weights
	// and no qkv biases.
	withBias := func() *vit.Model {
		v := base(t)
		for _, l := range v.Linears() {
			if strings.HasSuffix(l.Path, ".attn.qkv") {
				clear(l.Base.B.Value.Data)
			}
		}
		return v
	}
	without := func() *vit.Model {
		v := withBias()
		cfg := v.Cfg
		cfg.QKVBias = false
		n, err := vit.New(cfg, rand.New(rand.NewPCG(3, 3)))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range n.Store.Params() {
			old, _ := v.Store.Get(p.Name)
			p.Value = old.Value
		}
		return n
	}
	v := withBias()
	st, err := glora.Named("glora-fixed", glora.TargetsOf(v.Linears()[:len(v.Linears())-1]), 4, true) // C = lora, D = E = constant
	if err != nil {
		t.Fatal(err)
	}
	m, err := Attach(v, Setup{Method: GLoRA, Structure: st, Rank: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for _, p := range m.Params() {
		if p.RequiresGrad {
			for i := range p.Value.Data {
				p.Value.Data[i] += float32(rng.NormFloat64() * 0.05)
			}
		}
	}
	want := logits(t, m, x)
	a, err := m.Adapter("shipped")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		base   func() *vit.Model
		gained bool
	}{{withBias, false}, {without, true}} {
		merged, rep, err := MergeAdapter(c.base(), a)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(logits(t, merged, x), want); d > 1e-4 {
			t.Errorf("%s: merged logits differ from the adapted model's by %.3g", rep, d)
		}
		if !merged.Cfg.QKVBias || strings.Contains(rep, "2 qkv layers gained a bias") != c.gained {
			t.Errorf("gained %v: merged qkv_bias %v, report %q", c.gained, merged.Cfg.QKVBias, rep)
		}
	}
	a.Head.W.Shape = []int{a.Head.W.Shape[0], a.Head.W.Shape[1] + 1}
	if _, _, err := MergeAdapter(withBias(), a); err == nil || !strings.Contains(err.Error(), "reads 33 features") {
		t.Errorf("a head of another width: %v", err)
	}
}
