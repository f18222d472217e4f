package glora

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

func testTargets() []Target {
	return []Target{
		{Path: "blocks.0.attn.qkv", In: 8, Out: 24, HasBias: true},
		{Path: "blocks.10.mlp.fc1", In: 8, Out: 32, HasBias: true},
		{Path: "blocks.2.mlp.fc2", In: 32, Out: 8, HasBias: false},
	}
}

func TestChoiceSpelling(t *testing.T) {
	for _, s := range []string{"none", "constant", "vector", "lora_1", "lora_8", "lora_16"} {
		c, err := ParseChoice(s)
		if err != nil || c.String() != s {
			t.Errorf("%q → %v, %v", s, c, err)
		}
	}
	for _, s := range []string{"", "lora", "lora_0", "lora_-1", "lora_08", "Vector", "lora_x", "lora_4097", "lora_1000000000"} {
		if _, err := ParseChoice(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestStructureJSONRoundTripAndOrder(t *testing.T) {
	st := Structure{
		"blocks.10.mlp.fc1": {A: LoRAChoice(8), B: ChoiceVector, D: ChoiceConstant, E: ChoiceVector},
		"blocks.2.mlp.fc2":  {B: LoRAChoice(4)},
	}
	js := st.Format()
	want := `{
  "blocks.2.mlp.fc2": {"A": "none", "B": "lora_4", "C": "none", "D": "none", "E": "none"},
  "blocks.10.mlp.fc1": {"A": "lora_8", "B": "vector", "C": "none", "D": "constant", "E": "vector"}
}
`
	if string(js) != want {
		t.Fatalf("got\n%s\nwant\n%s", js, want)
	}
	var back Structure
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	embedded, err := json.Marshal(map[string]Structure{"s": st}) // as a field of another document
	if err != nil || !strings.Contains(string(embedded), `"blocks.2.mlp.fc2":{"A":"none","B":"lora_4"`) {
		t.Fatalf("embedded: %s %v", embedded, err)
	}
	if back.Key() != st.Key() || back.Hash() != st.Hash() {
		t.Fatalf("round trip changed the structure: %s vs %s", back.Key(), st.Key())
	}
	for _, bad := range []string{
		`{"x": {"A": "none", "B": "none", "C": "none", "D": "none"}}`,
		`{"x": {"A": "none", "B": "none", "C": "none", "D": "none", "E": "none", "F": "none"}}`,
		`{"x": {"A": "lora", "B": "none", "C": "none", "D": "none", "E": "none"}}`,
	} {
		err := json.Unmarshal([]byte(bad), &back)
		if err == nil || !strings.Contains(err.Error(), `"x"`) {
			t.Errorf("%s: error %v does not name the layer", bad, err)
		}
	}
}

func TestParamsFollowTheRules(t *testing.T) {
	in, out := 8, 24
	cases := []struct {
		lc   LayerChoice
		want int
	}{
		{LayerChoice{}, 0},
		{LayerChoice{A: LoRAChoice(4)}, 4 * (out + in)},
		{LayerChoice{B: ChoiceVector}, out},
		{LayerChoice{A: ChoiceConstant, B: ChoiceConstant}, 2},
		{LayerChoice{C: LoRAChoice(2)}, 2 * (in + 1)},
		{LayerChoice{C: ChoiceVector}, in},
		{LayerChoice{D: ChoiceVector, E: ChoiceConstant}, out + 1},
		{LayerChoice{A: LoRAChoice(8), B: LoRAChoice(8), C: LoRAChoice(8), D: ChoiceConstant, E: ChoiceConstant},
			2*8*(out+in) + 8*(in+1) + 2},
	}
	for _, c := range cases {
		if got := c.lc.Params(in, out); got != c.want {
			t.Errorf("%s: %d params, want %d", c.lc, got, c.want)
		}
	}
	lora, err := Named("lora", testTargets(), 8, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Params(lora, testTargets()), 8*(24+8)+8*(32+8)+8*(8+32); got != want {
		t.Fatalf("lora_8 over the targets: %d, want %d", got, want)
	}
}

func TestValidateNamesLayerAndValidValues(t *testing.T) {
	sp := Space{Ranks: []int{4, 8}}
	tg := testTargets()
	good := sp.Sample(rand.New(rand.NewPCG(1, 2)), tg)
	if err := sp.ValidateStructure(good, tg); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(Structure){
		`"blocks.0.attn.qkv": D = lora_4`:    func(s Structure) { l := s["blocks.0.attn.qkv"]; l[D] = LoRAChoice(4); s["blocks.0.attn.qkv"] = l },
		`C = constant`:                       func(s Structure) { l := s["blocks.0.attn.qkv"]; l[C] = ChoiceConstant; s["blocks.0.attn.qkv"] = l },
		`A = lora_16`:                        func(s Structure) { l := s["blocks.10.mlp.fc1"]; l[A] = LoRAChoice(16); s["blocks.10.mlp.fc1"] = l },
		`has no bias`:                        func(s Structure) { l := s["blocks.2.mlp.fc2"]; l[E] = ChoiceVector; s["blocks.2.mlp.fc2"] = l },
		`no entry for layer "blocks.2.mlp`:   func(s Structure) { delete(s, "blocks.2.mlp.fc2") },
		`names layer "blocks.9.x", which is`: func(s Structure) { s["blocks.9.x"] = LayerChoice{} },
	}
	for want, mutate := range cases {
		st := good.Clone()
		mutate(st)
		err := sp.ValidateStructure(st, tg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error containing %q, got %v", want, err)
		}
	}
	// A rank the space allows but the layer cannot use (fc1 is 8→32).
	wide := Space{Ranks: []int{4, 16}}
	st := good.Clone()
	l := st["blocks.10.mlp.fc1"]
	l[B] = LoRAChoice(16)
	st["blocks.10.mlp.fc1"] = l
	if err := wide.ValidateStructure(st, tg); err == nil || !strings.Contains(err.Error(), `layer "blocks.10.mlp.fc1" (8→32): lora rank 16 is above min(in, out) = 8`) {
		t.Errorf("lora_16 on an 8→32 layer: %v", err)
	}
	err := sp.ValidateStructure(Structure{"blocks.0.attn.qkv": {D: LoRAChoice(4)}, "blocks.10.mlp.fc1": {}, "blocks.2.mlp.fc2": {}}, tg)
	if err == nil || !strings.Contains(err.Error(), "valid: vector, constant, none") {
		t.Errorf("error does not list the valid values: %v", err)
	}
}

func TestSampleIsSeededAndCoversTheSpace(t *testing.T) {
	sp := Space{Ranks: []int{4, 8}}
	tg := testTargets()
	a := sp.Sample(rand.New(rand.NewPCG(7, 7)), tg)
	b := sp.Sample(rand.New(rand.NewPCG(7, 7)), tg)
	if a.Key() != b.Key() {
		t.Fatal("same seed, different structures")
	}
	seen := map[Support]map[Choice]bool{}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 2000 {
		lc := sp.SampleLayer(rng, tg[0])
		for s := range numSupports {
			if seen[s] == nil {
				seen[s] = map[Choice]bool{}
			}
			seen[s][lc[s]] = true
		}
		lc = sp.SampleLayer(rng, tg[2]) // bias-less
		if lc[C] != ChoiceNone || lc[D] != ChoiceNone || lc[E] != ChoiceNone {
			t.Fatalf("bias-less layer drew %s", lc)
		}
	}
	// A, B: lora_4, lora_8, vector, constant, none; C: lora_4, lora_8, vector, none; D, E: 3.
	for s, want := range map[Support]int{A: 5, B: 5, C: 4, D: 3, E: 3} {
		if len(seen[s]) != want {
			t.Errorf("%s: drew %d distinct choices, want %d", s, len(seen[s]), want)
		}
	}
	if err := (Space{Ranks: []int{8, 4}}).Validate(); err == nil {
		t.Error("unsorted ranks accepted")
	}
}

func TestNamedStructures(t *testing.T) {
	tg := testTargets()
	for _, name := range NamedStructures() {
		st, err := Named(name, tg, 4, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := (Space{Ranks: []int{4}}).ValidateStructure(st, tg); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	st, _ := Named("glora-fixed", tg, 4, false)
	if got := st["blocks.0.attn.qkv"].String(); got != "A=lora_4 B=lora_4 C=lora_4 D=constant E=constant" {
		t.Errorf("glora-fixed: %s", got)
	}
	if got := st["blocks.2.mlp.fc2"].String(); got != "A=lora_4 B=lora_4 C=none D=none E=none" {
		t.Errorf("glora-fixed on a bias-less layer: %s", got)
	}
	if _, err := Named("dora", tg, 4, false); err == nil || !strings.Contains(err.Error(), "bitfit") {
		t.Errorf("unknown name: %v", err)
	}
}

// A layer or support tensor named twice is refused (encoding/json would
// silently keep the last).
func TestStructureJSONRefusesDuplicates(t *testing.T) {
	lc := `{"A": "none", "B": "lora_4", "C": "none", "D": "none", "E": "vector"}`
	var st Structure
	if err := json.Unmarshal([]byte(`{"blocks.0.attn.qkv": `+lc+`, "blocks.0.attn.qkv": `+lc+`}`), &st); err == nil || !strings.Contains(err.Error(), `layer "blocks.0.attn.qkv" given twice`) {
		t.Errorf("duplicate layer: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"x": {"A": "none", "A": "vector", "B": "none", "C": "none", "D": "none", "E": "none"}}`), &st); err == nil || !strings.Contains(err.Error(), `support tensor "A" given twice`) {
		t.Errorf("duplicate support tensor: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"x": `+lc+`}`), &st); err != nil || st["x"][B] != LoRAChoice(4) {
		t.Errorf("a good structure: %v %v", st, err)
	}
}

func TestStructureSummary(t *testing.T) {
	tg := []Target{{Path: "a", In: 4, Out: 4, HasBias: true}, {Path: "b", In: 4, Out: 4, HasBias: true}, {Path: "c", In: 4, Out: 4, HasBias: true}}
	st := Uniform(tg, LayerChoice{B: LoRAChoice(8)}, false)
	st["b"] = LayerChoice{A: ChoiceVector, B: LoRAChoice(4), C: LoRAChoice(8), E: ChoiceConstant}
	if got, want := st.Summary(), "A vector×1 none×2; B lora_8×2 lora_4×1; C lora_8×1 none×2; D none×3; E constant×1 none×2"; got != want {
		t.Fatalf("Summary = %q, want %q", got, want)
	}
}
