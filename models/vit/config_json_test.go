package vit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/glora/glora/safetensors"
)

func TestLoadConfigTimmHub(t *testing.T) {
	ck, err := LoadConfig("testdata/timm_vit_tiny_patch16_224.augreg_in21k_ft_in1k")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{ImageSize: 224, PatchSize: 16, InChans: 3, Dim: 192, Depth: 12, Heads: 3, MLPRatio: 4,
		NumClasses: 1000, QKVBias: true, LNEps: 1e-6,
		Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.5, 0.5},
		CropPct: 0.9} // timm's evaluation transform: pretrained_cfg crop_pct 0.9, bicubic
	if !reflect.DeepEqual(ck.Config, want) {
		t.Fatalf("config\n%+v\nwant\n%+v", ck.Config, want)
	}
	if ck.Dialect != Timm || ck.Architecture != "vit_tiny_patch16_224" {
		t.Fatalf("dialect %q arch %q", ck.Dialect, ck.Architecture)
	}
	pc, _ := ck.Extra["pretrained_cfg"].(map[string]any)
	if pc["tag"] != "augreg_in21k_ft_in1k" || pc["crop_pct"] != json.Number("0.9") {
		t.Fatalf("pretrained_cfg extras not kept: %v", pc)
	}
	for _, k := range []string{"mean", "input_size"} {
		if _, ok := pc[k]; ok {
			t.Fatalf("owned field %q left in Extra", k)
		}
	}
	if _, ok := ck.Extra["architecture"]; ok {
		t.Fatal("architecture left in Extra")
	}
}

func TestLoadConfigTimmModelArgs(t *testing.T) {
	ck, err := LoadConfig("testdata/timm_finetuned_model_args")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{ImageSize: 96, PatchSize: 8, InChans: 3, Dim: 256, Depth: 4, Heads: 4, MLPRatio: 3,
		NumClasses: 3, QKVBias: false, LNEps: 1e-6, DropPath: 0.1,
		Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}, CropPct: 0.9}
	if !reflect.DeepEqual(ck.Config, want) {
		t.Fatalf("config\n%+v\nwant\n%+v", ck.Config, want)
	}
	args, _ := ck.Extra["model_args"].(map[string]any)
	if args["class_token"] != true || len(args) != 1 {
		t.Fatalf("model_args extras: %v", args)
	}
}

func TestLoadConfigHF(t *testing.T) {
	ck, err := LoadConfig("testdata/hf_vit_base_beans")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{ImageSize: 224, PatchSize: 16, InChans: 3, Dim: 768, Depth: 12, Heads: 12, MLPRatio: 4,
		NumClasses: 3, QKVBias: true, LNEps: 1e-12,
		Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.5, 0.5},
		Interpolation: "bilinear"} // ViTImageProcessor: resample 2, a resize to 224×224 (no centre crop)
	if !reflect.DeepEqual(ck.Config, want) {
		t.Fatalf("config\n%+v\nwant\n%+v", ck.Config, want)
	}
	if ck.Dialect != Transformers || ck.Architecture != hfClassifier {
		t.Fatalf("dialect %q arch %q", ck.Dialect, ck.Architecture)
	}
	if ck.Extra["_name_or_path"] != "google/vit-base-patch16-224-in21k" || ck.Preprocessor["resample"] != json.Number("2") {
		t.Fatalf("extras not kept: %v %v", ck.Extra, ck.Preprocessor)
	}

	tiny, err := LoadConfig("testdata/hf_tiny_random_vit")
	if err != nil {
		t.Fatal(err)
	}
	c := tiny.Config
	if c.Dim != 32 || c.MLPDim() != 37 || c.ImageSize != 30 || c.PatchSize != 2 || c.Depth != 2 || c.Heads != 4 ||
		!c.TanhGELU || c.NumClasses != 0 || c.Mean[0] != 0.5 || c.Std[2] != 0.5 {
		t.Fatalf("tiny-random-vit config %+v", c)
	}
}

// TestHubConfigsRoundTrip saves a model built from each committed config
// and checks the written config keeps every field of the original.
func TestHubConfigsRoundTrip(t *testing.T) {
	for _, name := range []string{"timm_finetuned_model_args", "hf_tiny_random_vit", "timm_vit_tiny_patch16_224.augreg_in21k_ft_in1k"} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join("testdata", name)
			ck, err := LoadConfig(src)
			if err != nil {
				t.Fatal(err)
			}
			if ck.Config.Dim > 256 {
				ck.Config.Depth = 1 // keep the test fast; sizes other than depth stay
			}
			m, err := New(ck.Config, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := Save(m, dir, ck, safetensors.BF16); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{ConfigFile, PreprocessorFile} {
				orig, err := os.ReadFile(filepath.Join(src, f))
				if os.IsNotExist(err) {
					continue
				}
				got, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				a, _ := decodeObject(orig)
				b, _ := decodeObject(got)
				if a["torch_dtype"] != nil && b["torch_dtype"] != "bfloat16" {
					t.Fatalf("torch_dtype %v, want bfloat16", b["torch_dtype"])
				}
				delete(a, "torch_dtype")
				if ck.Config.Depth == 1 {
					delete(a, "model_args")
					delete(b, "model_args")
				}
				if d := jsonDiff(a, b, ""); d != "" {
					t.Fatalf("%s: %s\n%s", f, d, got)
				}
			}
			_, ck2, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ck2.Config, ck.Config) {
				t.Fatalf("reloaded %+v\nwant %+v", ck2.Config, ck.Config)
			}
		})
	}
}

// jsonDiff reports the first field of a missing or changed in b, comparing
// numbers by value.
func jsonDiff(a, b any, path string) string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return path + ": not an object"
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok {
				return path + "." + k + ": missing"
			}
			if d := jsonDiff(v, w, path+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return path + ": list differs"
		}
		for i := range x {
			if d := jsonDiff(x[i], y[i], path); d != "" {
				return d
			}
		}
		return ""
	case json.Number:
		y, ok := b.(json.Number)
		fx, _ := x.Float64()
		fy, _ := y.Float64()
		if !ok || float32(fx) != float32(fy) {
			return path + ": " + string(x) + " became " + jsonText(b)
		}
		return ""
	}
	if !reflect.DeepEqual(a, b) {
		return path + ": " + jsonText(a) + " became " + jsonText(b)
	}
	return ""
}

func TestDialectConversionKeepsLabels(t *testing.T) {
	ck, err := LoadConfig("testdata/timm_finetuned_model_args")
	if err != nil {
		t.Fatal(err)
	}
	ck.Config.Depth = 1
	m, err := New(ck.Config, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	hf, timm := t.TempDir(), t.TempDir()
	ck.Dialect, ck.Naming = Transformers, Transformers
	if err := Save(m, hf, ck, ""); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(hf, ConfigFile))
	if bytes.Contains(cfg, []byte("pretrained_cfg")) || !bytes.Contains(cfg, []byte(`"1": "dog"`)) {
		t.Fatalf("converted config:\n%s", cfg)
	}
	m2, ck2, err := Load(hf)
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, m, m2)
	ck2.Dialect, ck2.Naming = Timm, Timm
	if err := Save(m2, timm, ck2, ""); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(timm, ConfigFile))
	obj, _ := decodeObject(raw)
	if names, _ := obj["label_names"].([]any); !slices.Equal(names, []any{"cat", "dog", "bird"}) {
		t.Fatalf("label_names after hf→timm: %v\n%s", obj["label_names"], raw)
	}
	if strings.Contains(string(raw), "id2label") || strings.Contains(string(raw), "ViTFor") {
		t.Fatalf("transformers fields leaked into timm config:\n%s", raw)
	}
	_, ck3, err := Load(timm)
	if err != nil {
		t.Fatal(err)
	}
	want := ck.Config
	want.DropPath = 0 // transformers' ViTConfig has no drop-path rate
	// transformers keeps the crop as sizes (shortest edge 106, crop 96): the
	// same transform as crop_pct 0.9, spelt 96/106.
	want.CropPct = 96.0 / 106
	if !reflect.DeepEqual(ck3.Config, want) {
		t.Fatalf("after timm→hf→timm %+v\nwant %+v", ck3.Config, ck.Config)
	}
}

func TestResetHead(t *testing.T) {
	m := microModel(t, 2)
	dir := t.TempDir()
	if err := Save(m, dir, Checkpoint{Dialect: Transformers}, ""); err != nil {
		t.Fatal(err)
	}
	m, ck, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	oldW := m.Head.W
	if err := m.ResetHead(4, nil); err != nil {
		t.Fatal(err)
	}
	if m.Cfg.NumClasses != 4 || m.Head.W != oldW || !slices.Equal(m.Head.W.Value.Shape, []int{4, 32}) ||
		!slices.Equal(m.Head.B.Value.Shape, []int{4}) {
		t.Fatalf("head %v %v classes %d", m.Head.W.Value.Shape, m.Head.B.Value.Shape, m.Cfg.NumClasses)
	}
	for _, v := range append(m.Head.W.Value.Data, m.Head.B.Value.Data...) {
		if v != 0 {
			t.Fatal("nil rng should zero-init the head")
		}
	}
	if err := m.ResetHead(5, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	var nonzero int
	for _, v := range m.Head.W.Value.Data {
		if v != 0 {
			nonzero++
		}
		if v > 0.04 || v < -0.04 {
			t.Fatalf("trunc-normal value %v outside ±2σ", v)
		}
	}
	if nonzero == 0 {
		t.Fatal("rng init left the head zero")
	}
	if err := m.ResetHead(0, nil); err == nil {
		t.Fatal("ResetHead(0) accepted")
	}
	// The reset model saves with regenerated labels and reloads.
	dir2 := t.TempDir()
	if err := Save(m, dir2, ck, ""); err != nil {
		t.Fatal(err)
	}
	m2, ck2, err := Load(dir2)
	if err != nil {
		t.Fatal(err)
	}
	cfg2, _ := os.ReadFile(filepath.Join(dir2, ConfigFile))
	if ck2.Config.NumClasses != 5 || ck2.Labels != nil || !bytes.Contains(cfg2, []byte(`"4": "LABEL_4"`)) {
		t.Fatalf("after reset: %d classes, labels %q, config:\n%s", ck2.Config.NumClasses, ck2.Labels, cfg2)
	}
	sameTensors(t, m, m2)

	// A headless model gets a head.
	cfg, _ := Preset("vit-micro")
	cfg.NumClasses = 0
	h, _ := New(cfg, rand.New(rand.NewPCG(1, 1)))
	if err := h.ResetHead(3, rand.New(rand.NewPCG(2, 2))); err != nil || h.Head == nil {
		t.Fatalf("headless reset: %v", err)
	}
	if _, ok := h.Store.Get("head.weight"); !ok {
		t.Fatal("head.weight not in store")
	}
}

func TestSummary(t *testing.T) {
	m := microModel(t, 1)
	m.Store.Freeze("blocks")
	var buf bytes.Buffer
	if err := Summary(m, &buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	total, frozen := m.Store.Count(false), m.Store.Count(false)-m.Store.Count(true)
	for _, want := range []string{"blocks.1.attn.qkv.weight", "(96,32)", "3072", "frozen", "trainable",
		"head.bias", "(10)"} {
		if !strings.Contains(out, want) {
			t.Fatalf("summary lacks %q:\n%s", want, out)
		}
	}
	wantTotal := "total: " + itoa(len(m.Store.Params())) + " tensors, " + itoa(total) + " parameters (" +
		itoa(total-frozen) + " trainable, " + itoa(frozen) + " frozen)"
	if !strings.Contains(out, wantTotal) || frozen == 0 {
		t.Fatalf("summary totals: want %q in\n%s", wantTotal, out)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestParamCountMatchesModel(t *testing.T) {
	for _, name := range []string{"vit-micro", "vit-fmnist-arch", "vit-tiny"} {
		cfg, _ := Preset(name)
		m, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.ParamCount(), float64(m.Store.Count(false)); got != want {
			t.Errorf("%s: ParamCount %.0f, model has %.0f", name, got, want)
		}
	}
}

func TestLoadRefusesConfigLargerThanWeights(t *testing.T) {
	dir := t.TempDir()
	m := microModel(t, 1)
	if err := Save(m, dir, NewCheckpoint("vit-micro", m.Cfg), ""); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"depth": 2`, `"depth": 200000`, 1))
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = Load(dir)
	if err == nil || !strings.Contains(err.Error(), "holds only") {
		t.Fatalf("want a refusal naming the weights file, got %v", err)
	}
}

// The evaluation transform follows the checkpoint's own preprocessing:
// timm's crop_pct (centre mode only), transformers' centre crop.
func TestReadTransform(t *testing.T) {
	timm := func(pc map[string]any) Checkpoint {
		return Checkpoint{Dialect: Timm, Extra: map[string]any{"pretrained_cfg": pc}}
	}
	hf := func(p map[string]any) Checkpoint { return Checkpoint{Dialect: Transformers, Preprocessor: p} }
	for _, c := range []struct {
		name   string
		ck     Checkpoint
		pct    float64
		interp string
		bad    bool
	}{
		{"timm center", timm(map[string]any{"crop_pct": json.Number("0.875"), "interpolation": "bilinear"}), 0.875, "bilinear", false},
		{"timm no mode", timm(map[string]any{"crop_pct": json.Number("0.9")}), 0.9, "", false},
		{"timm squash mode", timm(map[string]any{"crop_pct": json.Number("0.9"), "crop_mode": "squash"}), 0, "", false},
		{"timm without crop_pct (glora's own)", timm(map[string]any{"mean": []any{}}), 0, "", false},
		{"timm crop_pct 1.5", timm(map[string]any{"crop_pct": json.Number("1.5")}), 0, "", true},
		{"hf centre crop", hf(map[string]any{"do_center_crop": true, "size": map[string]any{"shortest_edge": json.Number("256")},
			"crop_size": map[string]any{"height": json.Number("224"), "width": json.Number("224")}, "resample": json.Number("3")}), 0.875, "", false},
		{"hf resize only", hf(map[string]any{"do_resize": true, "size": map[string]any{"height": json.Number("224"), "width": json.Number("224")},
			"resample": json.Number("2")}), 0, "bilinear", false},
		{"hf crop larger than the edge", hf(map[string]any{"do_center_crop": true, "size": map[string]any{"shortest_edge": json.Number("200")},
			"crop_size": json.Number("224")}), 0, "", true},
	} {
		ck := c.ck
		err := ck.readTransform()
		if (err != nil) != c.bad || !c.bad && (ck.Config.CropPct != c.pct || ck.Config.Interpolation != c.interp) {
			t.Errorf("%s: crop %g, interpolation %q, err %v; want %g, %q, error %v", c.name, ck.Config.CropPct, ck.Config.Interpolation, err, c.pct, c.interp, c.bad)
		}
	}
}
