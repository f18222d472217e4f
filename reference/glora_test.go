package reference_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

// parseLayerChoice reads "A=lora_4 B=vector C=none D=constant E=vector".
func parseLayerChoice(t *testing.T, s string) glora.LayerChoice {
	t.Helper()
	var lc glora.LayerChoice
	f := strings.Fields(s)
	if len(f) != 5 {
		t.Fatalf("structure %q", s)
	}
	for i, kv := range f {
		v, ok := strings.CutPrefix(kv, string("ABCDE"[i])+"=")
		if !ok {
			t.Fatalf("structure %q", s)
		}
		c, err := glora.ParseChoice(v)
		if err != nil {
			t.Fatal(err)
		}
		lc[i] = c
	}
	return lc
}

// TestGLoRALayerMatchesTorch runs glora's fused GLoRA layer on the cases of
// make_glora_fixtures.py (the reference code's layer: W' and b' built in
// full, one F.linear) and compares the output and the gradients of
// loss = Σ y ⊙ R with respect to x and every stored tensor.
func TestGLoRALayerMatchesTorch(t *testing.T) {
	ref, meta, err := safetensors.ReadFile(filepath.Join("..", "testdata", "ref", "glora.safetensors"))
	if err != nil {
		t.Fatalf("%v (regenerate: /usr/bin/python3 reference/make_glora_fixtures.py)", err)
	}
	cases := strings.Split(meta["cases"], ",")
	if len(cases) < 8 {
		t.Fatalf("fixture lists %d cases", len(cases))
	}
	for _, name := range cases {
		get := func(k string) *tensor.Tensor {
			v, ok := ref[name+"."+k]
			if !ok {
				t.Fatalf("fixture has no %q", name+"."+k)
			}
			return v
		}
		lc := parseLayerChoice(t, meta["structure."+name])
		base := &nn.Linear{W: ag.NewVar(get("weight").Clone(), false)}
		if meta["bias."+name] == "1" {
			base.B = ag.NewVar(get("bias").Clone(), false)
		}
		m := map[string]*tensor.Tensor{}
		for _, n := range glora.TensorNames {
			m["fc."+n] = get(n).Clone()
		}
		R, err := strconv.Atoi(meta["rank."+name])
		if err != nil {
			t.Fatal(err)
		}
		lt, err := glora.FromMap(m, "fc", base.W.Value.Shape[0], base.W.Value.Shape[1], R)
		if err != nil {
			t.Fatal(err)
		}
		l, err := glora.NewLayerWith("fc", base, lt)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.SetChoice(lc); err != nil {
			t.Fatal(err)
		}
		x := ag.NewVar(get("x").Clone(), true)
		tp := ag.NewTape()
		y := l.Forward(tp, x)
		if err := tp.Backward(tp.SumAll(tp.Mul(y, ag.NewVar(get("R"), false)))); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v (R=%d, bias %s)", name, lc, R, meta["bias."+name])
		checkTensor(t, name+".y", y.Value, get("y"), 1e-5)
		checkTensor(t, name+".grad.x", x.Grad, get("grad.x"), 1e-5)
		for i, v := range l.Vars() {
			g := v.Grad
			if g == nil { // a tensor the structure does not read: torch's gradient is zero
				g = tensor.New(v.Value.Shape...)
			}
			checkTensor(t, name+".grad."+glora.TensorNames[i], g, get("grad."+glora.TensorNames[i]), 1e-5)
		}
	}
}
