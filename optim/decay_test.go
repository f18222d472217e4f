package optim

import (
	"testing"

	"github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

func TestNoDecayRules(t *testing.T) {
	mk := func(name string, shape ...int) *autograd.Var { return autograd.Param(name, tensor.New(shape...)) }
	cases := []struct {
		p                   *autograd.Var
		dflt, glDecay, norm bool // no decay under NoDecayDefault, NoDecayWith(nil, glora D/E), NoDecayWith(norm, nil)
	}{
		{mk("blocks.0.attn.qkv.weight", 6, 2), false, false, false},
		{mk("blocks.0.attn.qkv.bias", 6), true, true, true},
		{mk("blocks.0.norm1.weight", 2), true, true, true},
		{mk("blocks.0.attn.qkv.glora_Ad", 6, 4), false, false, false},
		{mk("blocks.0.attn.qkv.glora_D", 6), true, false, true},
		{mk("blocks.0.attn.qkv.glora_E", 6, 1), true, false, true}, // rank 2: exempt by kind, not by rank
		{mk("blocks.0.attn.qkv.glora_E", 1), true, false, true},    // a scalar
		{mk("scale.norm1.weight", 2, 2), false, false, true},
	}
	glDecay := NoDecayWith(nil, []string{"glora_D", "glora_E"})
	norm := NoDecayWith([]string{"norm1.weight"}, nil)
	for _, c := range cases {
		if got := NoDecayDefault(c.p); got != c.dflt {
			t.Errorf("NoDecayDefault(%s %v) = %v, want %v", c.p.Name, c.p.Value.Shape, got, c.dflt)
		}
		if got := glDecay(c.p); got != c.glDecay {
			t.Errorf("decaying GLoRA D/E: no decay for %s %v = %v, want %v", c.p.Name, c.p.Value.Shape, got, c.glDecay)
		}
		if got := norm(c.p); got != c.norm {
			t.Errorf("exempting norm1.weight: no decay for %s %v = %v, want %v", c.p.Name, c.p.Value.Shape, got, c.norm)
		}
	}
}

// Frozen parameters never get optimiser state: DecayGroups leaves them out,
// and an optimiser handed one anyway neither updates it nor saves state for
// it, even when it carries a gradient.
func TestFrozenParamsHaveNoState(t *testing.T) {
	mk := func(name string, frozen bool) *autograd.Var {
		p := autograd.Param(name, tensor.New(2, 2))
		p.RequiresGrad = !frozen
		p.Grad, _ = tensor.FromSlice([]float32{1, 2, 3, 4}, 2, 2)
		for i := range p.Value.Data {
			p.Value.Data[i] = 1
		}
		return p
	}
	frozen, live := mk("backbone.weight", true), mk("head.weight", false)
	if gs := DecayGroups([]*autograd.Var{frozen, live}, 0.1, nil); len(gs) != 1 || len(gs[0].Params) != 1 || gs[0].Params[0] != live {
		t.Fatalf("DecayGroups kept a frozen parameter: %+v", gs)
	}
	groups := []Group{{Params: []*autograd.Var{frozen, live}, WeightDecay: 0.1}}
	adam := NewAdamW(groups, 0.1, 0.9, 0.999, 1e-8)
	sgd := NewSGD(groups, 0.1, 0.9, false)
	for name, o := range map[string]interface {
		Update() error
		State() map[string]*tensor.Tensor
		Load(map[string]*tensor.Tensor) error
	}{"adamw": adam, "sgd": sgd} {
		if err := o.Update(); err != nil {
			t.Fatal(err)
		}
		for _, v := range frozen.Value.Data {
			if v != 1 {
				t.Fatalf("%s updated a frozen parameter: %v", name, frozen.Value.Data)
			}
		}
		st := o.State()
		for k := range st {
			if len(k) >= len("backbone") && k[:len("backbone")] == "backbone" {
				t.Fatalf("%s saved state %q for a frozen parameter", name, k)
			}
		}
		if err := o.Load(st); err != nil {
			t.Fatalf("%s: loading its own state: %v", name, err)
		}
	}
	if _, ok := adam.state[frozen]; ok {
		t.Fatal("adamw allocated state for a frozen parameter")
	}
	if _, ok := sgd.buf[frozen]; ok {
		t.Fatal("sgd allocated a buffer for a frozen parameter")
	}
}
