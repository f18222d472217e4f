package glora

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

// adapterTargets is a two-block ViT-like set of layers (dim 8, MLP 16).
func adapterTargets() []Target {
	var ts []Target
	for _, b := range []string{"blocks.0.", "blocks.1."} {
		ts = append(ts, Target{b + "attn.qkv", 8, 24, true}, Target{b + "attn.proj", 8, 8, true},
			Target{b + "mlp.fc1", 8, 16, true}, Target{b + "mlp.fc2", 16, 8, true})
	}
	return ts
}

// supernetTensors gives every target random tensors at rank R.
func supernetTensors(ts []Target, R int, seed uint64) map[string]*LayerTensors {
	m := map[string]*LayerTensors{}
	for i, t := range ts {
		lt := randomTensors(t.Out, t.In, R, seed+uint64(i))
		m[t.Path] = &lt
	}
	return m
}

func mixedStructure(ts []Target, seed uint64) Structure {
	sp := Space{Ranks: []int{2, 4}}
	return sp.Sample(rand.New(rand.NewPCG(seed, 1)), ts)
}

func testHead(classes, in int) *Head {
	rng := rand.New(rand.NewPCG(9, 9))
	w, b := tensor.New(classes, in), tensor.New(classes)
	for i := range w.Data {
		w.Data[i] = float32(rng.NormFloat64())
	}
	for i := range b.Data {
		b.Data[i] = float32(rng.NormFloat64())
	}
	return &Head{Path: "head", W: w, B: b}
}

func readAll(t *testing.T, dir string) (cfg, weights []byte) {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join(dir, AdapterConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	weights, err = os.ReadFile(filepath.Join(dir, AdapterWeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, weights
}

func TestAdapterRoundTripIsByteIdentical(t *testing.T) {
	ts := adapterTargets()
	layers := supernetTensors(ts, 6, 1) // a supernet at rank 6; the structure uses ≤ 4
	for _, dt := range []safetensors.DType{safetensors.F32, safetensors.BF16} {
		st := mixedStructure(ts, 2)
		a, err := NewAdapter(st, layers, testHead(3, 8))
		if err != nil {
			t.Fatal(err)
		}
		a.BaseModel = "some/base"
		a.Labels = []string{"cat", "dog", "emu"}
		root := t.TempDir()
		d1, d2 := filepath.Join(root, "one"), filepath.Join(root, "two")
		if err := Save(d1, a, SaveOptions{DType: dt}); err != nil {
			t.Fatal(err)
		}
		b, err := LoadAdapter(d1)
		if err != nil {
			t.Fatal(err)
		}
		if b.Structure.Key() != st.Key() || b.R != st.MaxRank() || b.BaseModel != "some/base" || b.Head == nil ||
			strings.Join(b.Labels, ",") != "cat,dog,emu" {
			t.Fatalf("loaded adapter differs: R %d, base %q, labels %q", b.R, b.BaseModel, b.Labels)
		}
		if err := Save(d2, b, SaveOptions{DType: dt}); err != nil {
			t.Fatal(err)
		}
		c1, w1 := readAll(t, d1)
		c2, w2 := readAll(t, d2)
		if !bytes.Equal(c1, c2) || !bytes.Equal(w1, w2) {
			t.Fatalf("%s: save → load → save changed the bytes:\n%s\n%s", dt, c1, c2)
		}
		// Class names that do not fit the head are refused before writing.
		bad := *b
		bad.Labels = []string{"one"}
		if err := Save(filepath.Join(root, "bad"), &bad, SaveOptions{DType: dt}); err == nil || !strings.Contains(err.Error(), "glora_labels has 1 class names") {
			t.Fatalf("labels of another head: %v", err)
		}
		// Saving over an adapter folder replaces it.
		if err := Save(d1, b, SaveOptions{DType: dt}); err != nil {
			t.Fatalf("replacing an adapter folder: %v", err)
		}
	}
}

func TestAdapterReadsWhatTheStructureReadsAndZerosTheRest(t *testing.T) {
	ts := adapterTargets()
	layers := supernetTensors(ts, 4, 3)
	st := mixedStructure(ts, 4)
	a, err := NewAdapter(st, layers, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range ts {
		w0, b0 := tensor.New(tg.Out, tg.In), tensor.New(tg.Out)
		rng := rand.New(rand.NewPCG(5, 5))
		for i := range w0.Data {
			w0.Data[i] = float32(rng.NormFloat64())
		}
		for i := range b0.Data {
			b0.Data[i] = float32(rng.NormFloat64())
		}
		wa, ba, err := MergeLinear(w0, b0, layers[tg.Path], st[tg.Path])
		if err != nil {
			t.Fatal(err)
		}
		wb, bb, err := MergeLinear(w0, b0, a.Layers[tg.Path], st[tg.Path])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(wa.Data, wb.Data) || !slices.Equal(ba.Data, bb.Data) {
			t.Fatalf("layer %s: the adapter's tensors merge differently from the supernet's", tg.Path)
		}
		support := 0
		for _, x := range a.Layers[tg.Path].List() {
			for _, v := range x.Data {
				if v != 0 {
					support++
				}
			}
		}
		if want := st[tg.Path].Params(tg.In, tg.Out); support > want {
			t.Fatalf("layer %s: %d non-zero stored entries, the structure reads %d", tg.Path, support, want)
		}
	}
}

func savedConfig(t *testing.T, st Structure, layers map[string]*LayerTensors) map[string]any {
	t.Helper()
	a, err := NewAdapter(st, layers, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Save(dir, a, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	c, _ := readAll(t, dir)
	var m map[string]any
	if err := json.Unmarshal(c, &m); err != nil {
		t.Fatalf("%v\n%s", err, c)
	}
	return m
}

func TestPeftConfigFieldsUniformAndMixed(t *testing.T) {
	ts := adapterTargets()
	layers := supernetTensors(ts, 8, 7)
	fixed, _ := Named("glora-fixed", ts, 8, false)
	m := savedConfig(t, fixed, layers)
	for k, want := range map[string]any{"peft_type": "GLORA", "r": 8.0, "config_A_B": "LoRA_8", "config_C": "LoRA_8",
		"config_D_E": "constant", "glora_supernet": false, "inference_mode": true, "task_type": nil, "modules_to_save": nil} {
		if m[k] != want {
			t.Errorf("glora-fixed: %s = %v, want %v", k, m[k], want)
		}
	}
	if tm, _ := m["target_modules"].([]any); len(tm) != len(ts) || tm[1] != "blocks.0.attn.qkv" {
		t.Errorf("target_modules = %v", m["target_modules"])
	}
	// Same choices everywhere but not PEFT-expressible: A ≠ B (LoRA), or a
	// lora rank below R, or differing layers.
	lora, _ := Named("lora", ts, 8, false)
	half := Uniform(ts, LayerChoice{A: LoRAChoice(4), B: LoRAChoice(8), C: ChoiceVector, D: ChoiceVector, E: ChoiceVector}, false)
	for name, st := range map[string]Structure{"lora": lora, "rank below R": half, "mixed": mixedStructure(ts, 8)} {
		m := savedConfig(t, st, layers)
		for _, k := range []string{"config_A_B", "config_C", "config_D_E"} {
			if m[k] != nil {
				t.Errorf("%s: %s = %v, want null", name, k, m[k])
			}
		}
		if m["glora_structure"] == nil {
			t.Errorf("%s: no glora_structure", name)
		}
	}
	all := Uniform(ts, LayerChoice{A: ChoiceVector, B: ChoiceVector, C: ChoiceNone, D: ChoiceVector, E: ChoiceVector}, false)
	m = savedConfig(t, all, layers)
	if m["config_A_B"] != "vector" || m["config_C"] != "none" || m["config_D_E"] != "vector" || m["r"] != 1.0 {
		t.Errorf("vector structure: %v %v %v r=%v", m["config_A_B"], m["config_C"], m["config_D_E"], m["r"])
	}
}

// peftWritten writes a folder as PEFT's save_pretrained would: no glora_*
// keys, PEFT's other fields, target_modules as suffixes.
func peftWritten(t *testing.T, dir string, ts []Target, R int, ab, c, de string) map[string]*LayerTensors {
	t.Helper()
	layers := supernetTensors(ts, R, 11)
	tensors := map[string]*tensor.Tensor{}
	for p, lt := range layers {
		for i, v := range lt.List() {
			tensors[PeftPrefix+p+"."+TensorNames[i]] = v
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, AdapterWeightsFile), tensors, safetensors.F32, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	cfg := `{"alpha": 8, "auto_mapping": null, "base_model_name_or_path": null, "bias": "none", "config_A_B": "` + ab +
		`", "config_C": "` + c + `", "config_D_E": "` + de + `", "inference_mode": true, "layers_pattern": null, "modules_to_save": null,` +
		` "peft_type": "GLORA", "r": ` + itoa(R) + `, "revision": null, "target_modules": ["fc1", "fc2", "qkv", "proj"], "task_type": null}`
	if err := os.WriteFile(filepath.Join(dir, AdapterConfigFile), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return layers
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestLoadsAPeftWrittenAdapter(t *testing.T) {
	ts := adapterTargets()
	dir := t.TempDir()
	layers := peftWritten(t, dir, ts, 4, "LoRA_4", "vector", "constant")
	a, err := LoadAdapter(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := LayerChoice{A: LoRAChoice(4), B: LoRAChoice(4), C: ChoiceVector, D: ChoiceConstant, E: ChoiceConstant}
	if len(a.Structure) != len(ts) || a.Structure["blocks.1.mlp.fc2"] != want {
		t.Fatalf("structure from config_*: %v", a.Structure)
	}
	if a.Layers["blocks.0.attn.qkv"].Ad.Data[1] != layers["blocks.0.attn.qkv"].Ad.Data[1] {
		t.Fatal("tensors not read")
	}
	// PEFT's extra keys survive a save.
	out := filepath.Join(t.TempDir(), "again")
	if err := Save(out, a, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	c, _ := readAll(t, out)
	if !strings.Contains(string(c), `"bias": "none"`) || !strings.Contains(string(c), `"alpha": 8`) {
		t.Fatalf("PEFT's keys lost:\n%s", c)
	}
	// Lower-case spelling of a later PEFT revision.
	dir2 := t.TempDir()
	peftWritten(t, dir2, ts, 4, "lora", "none", "vector")
	if a, err := LoadAdapter(dir2); err != nil || a.Structure["blocks.0.mlp.fc1"][A] != LoRAChoice(4) {
		t.Fatalf("lora spelling: %v", err)
	}
}

func TestSupernetFolder(t *testing.T) {
	ts := adapterTargets()
	layers := supernetTensors(ts, 4, 13)
	s, err := NewSupernetAdapter(Space{Ranks: []int{2, 4}, AddBias: true}, layers, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Save(dir, s, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAdapter(dir); err == nil || !strings.Contains(err.Error(), "supernet") {
		t.Fatalf("a supernet folder loaded as an adapter: %v", err)
	}
	b, err := LoadSupernet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !b.AddBias || len(b.Ranks) != 2 || b.Layers["blocks.1.mlp.fc1"].Bu.Data[7] != layers["blocks.1.mlp.fc1"].Bu.Data[7] {
		t.Fatal("supernet tensors or space not kept whole")
	}
	if _, err := b.Merge(nil); err == nil {
		t.Fatal("a supernet merged")
	}
	again := filepath.Join(t.TempDir(), "again")
	if err := Save(again, b, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	c1, w1 := readAll(t, dir)
	c2, w2 := readAll(t, again)
	if !bytes.Equal(c1, c2) || !bytes.Equal(w1, w2) || !strings.Contains(string(c1), `"glora_supernet": true`) {
		t.Fatalf("supernet save → load → save changed the bytes:\n%s\n%s", c1, c2)
	}
	a, _ := NewAdapter(mixedStructure(ts, 1), layers, nil)
	adir := t.TempDir()
	Save(adir, a, SaveOptions{})
	if _, err := LoadSupernet(adir); err == nil {
		t.Fatal("an adapter loaded as a supernet")
	}
}

// corrupt saves a good adapter, applies edit to its config (as a map) and
// tensors, rewrites them and returns Load's error.
func corrupt(t *testing.T, edit func(cfg map[string]any, ts map[string]*tensor.Tensor)) error {
	t.Helper()
	tg := adapterTargets()
	a, err := NewAdapter(mixedStructure(tg, 21), supernetTensors(tg, 4, 21), testHead(3, 8))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Save(dir, a, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	c, _ := readAll(t, dir)
	var cfg map[string]any
	json.Unmarshal(c, &cfg)
	ts, _, err := safetensors.ReadFile(filepath.Join(dir, AdapterWeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	edit(cfg, ts)
	b, _ := json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, AdapterConfigFile), b, 0o644)
	safetensors.WriteFile(filepath.Join(dir, AdapterWeightsFile), ts, safetensors.F32, nil)
	_, err = LoadAdapter(dir)
	return err
}

func TestBadAdaptersAreClearErrors(t *testing.T) {
	const qkv = PeftPrefix + "blocks.0.attn.qkv."
	for _, tc := range []struct {
		name string
		edit func(map[string]any, map[string]*tensor.Tensor)
		want string
	}{
		{"wrong shape", func(_ map[string]any, ts map[string]*tensor.Tensor) { ts[qkv+"glora_Bu"] = tensor.New(4, 9) },
			`layer "blocks.0.attn.qkv": tensor glora_Bu has shape (4,9), want (4,8)`},
		{"wrong rank", func(_ map[string]any, ts map[string]*tensor.Tensor) {
			for _, n := range TensorNames {
				delete(ts, qkv+n)
			}
			lt := NewLayerTensors(24, 8, 5, nil)
			for i, v := range lt.List() {
				ts[qkv+TensorNames[i]] = v
			}
		}, `layer "blocks.0.attn.qkv": tensor glora_Ad has rank 5`},
		{"missing tensor", func(_ map[string]any, ts map[string]*tensor.Tensor) { delete(ts, qkv+"glora_Cu") },
			`tensor "base_model.model.blocks.0.attn.qkv.glora_Cu" missing`},
		{"unknown tensor", func(_ map[string]any, ts map[string]*tensor.Tensor) {
			ts[PeftPrefix+"blocks.0.attn.qkv.lora_A"] = tensor.New(2)
		},
			`unexpected tensor "base_model.model.blocks.0.attn.qkv.lora_A"`},
		{"unprefixed tensor", func(_ map[string]any, ts map[string]*tensor.Tensor) { ts["blocks.0.norm1.weight"] = tensor.New(2) },
			`"blocks.0.norm1.weight" lacks PEFT's prefix`},
		{"unknown module path", func(_ map[string]any, ts map[string]*tensor.Tensor) {
			lt := NewLayerTensors(8, 8, 4, nil)
			for i, v := range lt.List() {
				ts[PeftPrefix+"blocks.9.attn.proj."+TensorNames[i]] = v
			}
		}, `tensors of layer "blocks.9.attn.proj", which target_modules`},
		{"transformers path", func(_ map[string]any, ts map[string]*tensor.Tensor) {
			ts[PeftPrefix+"vit.encoder.layer.0.attention.attention.query.glora_Ad"] = tensor.New(2, 2)
		}, "transformers ViT module path"},
		{"rank above r", func(cfg map[string]any, _ map[string]*tensor.Tensor) {
			cfg["glora_structure"].(map[string]any)["blocks.1.mlp.fc1"].(map[string]any)["B"] = "lora_6"
		}, `layer "blocks.1.mlp.fc1": B = lora_6 needs rank 6, the stored tensors have rank 4`},
		{"NaN read", func(cfg map[string]any, ts map[string]*tensor.Tensor) {
			st := cfg["glora_structure"].(map[string]any)["blocks.0.attn.qkv"].(map[string]any)
			st["E"] = "vector"
			ts[qkv+"glora_E"].Data[3] = float32(math.NaN())
		}, `layer "blocks.0.attn.qkv": tensor glora_E has NaN at [0, 3]`},
		{"an empty training record", func(cfg map[string]any, _ map[string]*tensor.Tensor) {
			cfg["glora_training"] = map[string]any{"data": "", "scheme": "full"}
		}, `glora_training`},
		{"a misspelt config_A_B beside glora_structure", func(cfg map[string]any, _ map[string]*tensor.Tensor) {
			cfg["config_A_B"] = "banana"
		}, `config_A_B "banana"`},
		{"structure vs target_modules", func(cfg map[string]any, _ map[string]*tensor.Tensor) {
			cfg["target_modules"] = []any{"attn.qkv", "attn.proj", "mlp.fc1"}
		}, `glora_structure names layer "blocks.0.mlp.fc2", which target_modules`},
		{"target_modules naming nothing", func(cfg map[string]any, _ map[string]*tensor.Tensor) {
			cfg["target_modules"] = append(cfg["target_modules"].([]any), "attn.q")
		}, `target_modules names "attn.q", which matches no layer`},
		{"structure without tensors", func(cfg map[string]any, ts map[string]*tensor.Tensor) {
			for _, n := range TensorNames {
				delete(ts, PeftPrefix+"blocks.1.mlp.fc2."+n)
			}
		}, `glora_structure names layer "blocks.1.mlp.fc2", but the file has no tensors for it`},
		{"config_* disagree", func(cfg map[string]any, _ map[string]*tensor.Tensor) {
			cfg["config_A_B"], cfg["config_C"], cfg["config_D_E"] = "vector", "none", "none"
		}, "disagree with glora_structure at layer"},
		{"head without bias", func(_ map[string]any, ts map[string]*tensor.Tensor) { delete(ts, PeftPrefix+"head.bias") },
			`modules_to_save names "head"`},
		{"head Inf", func(_ map[string]any, ts map[string]*tensor.Tensor) {
			ts[PeftPrefix+"head.weight"].Data[0] = float32(math.Inf(1))
		},
			"head tensor head.weight has +Inf"},
		{"not GLoRA", func(cfg map[string]any, _ map[string]*tensor.Tensor) { cfg["peft_type"] = "LORA" },
			`peft_type "LORA": want "GLORA"`},
		{"no structure", func(cfg map[string]any, _ map[string]*tensor.Tensor) { delete(cfg, "glora_structure") },
			"neither glora_structure nor all of config_A_B"},
	} {
		err := corrupt(t, tc.edit)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	// Missing files.
	dir := t.TempDir()
	if _, err := LoadAdapter(dir); err == nil || !strings.Contains(err.Error(), "adapter_config.json missing") {
		t.Errorf("empty folder: %v", err)
	}
	os.WriteFile(filepath.Join(dir, AdapterConfigFile), []byte(`{"peft_type":"GLORA","r":2,"target_modules":["qkv"],"config_A_B":"none","config_C":"none","config_D_E":"none"}`), 0o644)
	if _, err := LoadAdapter(dir); err == nil || !strings.Contains(err.Error(), AdapterWeightsFile) {
		t.Errorf("no weights: %v", err)
	}
}

func TestSaveRefusesBadAdaptersBeforeWriting(t *testing.T) {
	ts := adapterTargets()
	layers := supernetTensors(ts, 4, 31)
	st := mixedStructure(ts, 31)
	if _, err := NewAdapter(Structure{"blocks.0.attn.qkv": {A: LoRAChoice(8)}}, layers, nil); err == nil ||
		!strings.Contains(err.Error(), "stored rank 4 is below the structure's rank 8") {
		t.Errorf("rank above the stored one: %v", err)
	}
	if _, err := NewAdapter(Structure{"blocks.0.attn.qkv": {}}, layers, nil); err == nil || !strings.Contains(err.Error(), "does not name") {
		t.Errorf("extra layers: %v", err)
	}
	a, err := NewAdapter(st, layers, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.Layers["blocks.0.mlp.fc1"].Ad.Data[0] = float32(math.NaN())
	a.Structure["blocks.0.mlp.fc1"] = LayerChoice{A: ChoiceConstant}
	dir := filepath.Join(t.TempDir(), "x")
	if err := Save(dir, a, SaveOptions{}); err == nil || !strings.Contains(err.Error(), `layer "blocks.0.mlp.fc1": tensor glora_Ad has NaN`) {
		t.Errorf("NaN: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a refused save left %s behind", dir)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o644)
	b, _ := NewAdapter(st, layers, nil)
	if err := Save(other, b, SaveOptions{}); err == nil || !strings.Contains(err.Error(), "neither empty nor an adapter folder") {
		t.Errorf("a foreign folder was overwritten: %v", err)
	}
}

func FuzzParseAdapterConfig(f *testing.F) {
	ts := adapterTargets()
	a, _ := NewAdapter(mixedStructure(ts, 1), supernetTensors(ts, 4, 1), nil)
	seed, _ := a.config().Encode()
	f.Add(seed)
	fixed, _ := Named("glora-fixed", ts, 4, false)
	b, _ := NewAdapter(fixed, supernetTensors(ts, 4, 1), nil)
	seed2, _ := b.config().Encode()
	f.Add(seed2)
	f.Add([]byte(`{"peft_type":"GLORA","r":8,"target_modules":".*qkv","config_A_B":"LoRA","config_C":"vector","config_D_E":"constant","bias":"none"}`))
	f.Add([]byte(`{"peft_type":"GLORA","r":2,"target_modules":["a"],"glora_supernet":true,"glora_ranks":[1,2]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseAdapterConfig(data)
		if err != nil {
			return
		}
		enc, err := c.Encode()
		if err != nil {
			t.Fatalf("encode a parsed config: %v", err)
		}
		c2, err := ParseAdapterConfig(enc)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, enc)
		}
		enc2, _ := c2.Encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encode is not stable:\n%s\n%s", enc, enc2)
		}
	})
}

// linearSites builds sites with real Linears for the targets (qkv without
// bias) and a head.
func linearSites(ts []Target) []nn.LinearSite {
	var s []nn.LinearSite
	for _, t := range ts {
		l := &nn.Linear{W: ag.Param(t.Path+".weight", tensor.New(t.Out, t.In))}
		if !strings.HasSuffix(t.Path, "qkv") {
			l.B = ag.Param(t.Path+".bias", tensor.New(t.Out))
		}
		s = append(s, nn.LinearSite{Path: t.Path, Base: l})
	}
	head := &nn.Linear{W: ag.Param("head.weight", tensor.New(3, 8)), B: ag.Param("head.bias", tensor.New(3))}
	return append(s, nn.LinearSite{Path: "head", Base: head, Head: true})
}

func TestMergeChecksTheBase(t *testing.T) {
	ts := adapterTargets()
	layers := supernetTensors(ts, 4, 41)
	st := Uniform(ts, LayerChoice{A: ChoiceVector, E: ChoiceVector}, true)
	a, err := NewAdapter(st, layers, testHead(3, 8))
	if err != nil {
		t.Fatal(err)
	}
	sites := linearSites(ts)
	ms, err := a.Merge(sites)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.AddsBias != strings.HasSuffix(m.Path, "qkv") {
			t.Errorf("%s: AddsBias %v", m.Path, m.AddsBias)
		}
	}
	if sites[0].Base.W.Value.Data[0] != 0 {
		t.Fatal("Merge modified the base")
	}
	if _, err := a.Merge(sites[1:]); err == nil || !strings.Contains(err.Error(), `adapter layer "blocks.0.attn.qkv": the base model has no such Linear`) {
		t.Errorf("missing site: %v", err)
	}
	narrow := linearSites(ts)
	narrow[2].Base.W.Value = tensor.New(16, 4)
	if _, err := a.Merge(narrow); err == nil || !strings.Contains(err.Error(), `adapter layer "blocks.0.mlp.fc1" is 8→16, the base's Linear is 4→16`) {
		t.Errorf("width: %v", err)
	}
	headed := linearSites(ts)
	headed[len(headed)-1].Base.W.Value = tensor.New(3, 5)
	if _, err := a.Merge(headed); err == nil || !strings.Contains(err.Error(), `head "head" reads 8 features, the base's 5`) {
		t.Errorf("head width: %v", err)
	}
	huge := linearSites(ts)
	for i := range huge[1].Base.W.Value.Data {
		huge[1].Base.W.Value.Data[i] = 3e38
	}
	a.Layers["blocks.0.attn.proj"].Ad.Data[0] = 10
	if _, err := a.Merge(huge); err == nil || !strings.Contains(err.Error(), `layer "blocks.0.attn.proj": merged weight has +Inf`) {
		t.Errorf("overflow: %v", err)
	}
}
