package vit

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

func microModel(t *testing.T, seed uint64) *Model {
	t.Helper()
	cfg, err := Preset("vit-micro")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	// Non-trivial values everywhere (New zeroes biases, sets norms to 1).
	rng := rand.New(rand.NewPCG(seed, 2))
	for _, v := range m.Store.Params() {
		for i := range v.Value.Data {
			v.Value.Data[i] = float32(rng.NormFloat64())
		}
	}
	return m
}

func sameTensors(t *testing.T, a, b *Model) {
	t.Helper()
	if !slices.Equal(a.Store.Names(), b.Store.Names()) {
		t.Fatalf("names differ:\n%v\n%v", a.Store.Names(), b.Store.Names())
	}
	for _, n := range a.Store.Names() {
		x, _ := a.Store.Get(n)
		y, _ := b.Store.Get(n)
		if !tensor.SameShape(x.Value.Shape, y.Value.Shape) || !slices.Equal(x.Value.Data, y.Value.Data) {
			t.Fatalf("tensor %s differs", n)
		}
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func TestTimmNamesMatchModel(t *testing.T) {
	for _, qkvBias := range []bool{true, false} {
		cfg, _ := Preset("vit-micro")
		cfg.QKVBias = qkvBias
		m, err := New(cfg, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range m.Store.Params() {
			got = append(got, v.Name)
		}
		if want := timmNames(cfg); !slices.Equal(got, want) {
			t.Fatalf("qkv_bias=%v: store %v\ntimmNames %v", qkvBias, got, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		dialect, naming Dialect
		dtype           safetensors.DType
	}{
		{Timm, Timm, safetensors.F32},
		{Transformers, Transformers, safetensors.F32},
		{Timm, Transformers, safetensors.F32},
		{Transformers, Timm, safetensors.F32},
		{Transformers, Transformers, safetensors.BF16},
		{Timm, Timm, safetensors.F16},
	} {
		name := string(tc.dialect) + "-" + string(tc.naming) + "-" + string(tc.dtype)
		t.Run(name, func(t *testing.T) {
			m := microModel(t, 7)
			dir1, dir2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
			if err := Save(m, dir1, Checkpoint{Dialect: tc.dialect, Naming: tc.naming}, tc.dtype); err != nil {
				t.Fatal(err)
			}
			m2, ck, err := Load(dir1)
			if err != nil {
				t.Fatal(err)
			}
			if ck.Dialect != tc.dialect || ck.Naming != tc.naming || ck.DType != tc.dtype {
				t.Fatalf("checkpoint %s/%s/%s, want %s/%s/%s", ck.Dialect, ck.Naming, ck.DType, tc.dialect, tc.naming, tc.dtype)
			}
			if !reflect.DeepEqual(ck.Config, m.Cfg) || !reflect.DeepEqual(m2.Cfg, m.Cfg) {
				t.Fatalf("config\n%+v\nwant\n%+v", ck.Config, m.Cfg)
			}
			if tc.dtype == safetensors.F32 {
				sameTensors(t, m, m2)
			}
			// save → load → save is byte-identical, dtype taken from ck.
			if err := Save(m2, dir2, ck, ""); err != nil {
				t.Fatal(err)
			}
			f1, f2 := readDir(t, dir1), readDir(t, dir2)
			if len(f1) != len(f2) {
				t.Fatalf("files %d vs %d", len(f1), len(f2))
			}
			for n, b := range f1 {
				if !bytes.Equal(b, f2[n]) {
					t.Fatalf("%s differs after save→load→save:\n%s\n%s", n, b[:min(len(b), 400)], f2[n][:min(len(f2[n]), 400)])
				}
			}
			wantFiles := 2
			if tc.dialect == Transformers {
				wantFiles = 3
			}
			if len(f1) != wantFiles {
				t.Fatalf("wrote %d files, want %d (no temporaries left)", len(f1), wantFiles)
			}
		})
	}
}

func TestLoadedModelComputesTheSame(t *testing.T) {
	m := microModel(t, 3)
	dir := t.TempDir()
	if err := Save(m, dir, Checkpoint{Dialect: Transformers}, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	m2, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	img := tensor.New(2, 1, 16, 16)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range img.Data {
		img.Data[i] = float32(rng.NormFloat64())
	}
	run := func(m *Model) []float32 {
		tp := ag.NewTape()
		out := m.Forward(tp, ag.NewVar(img, false), nil)
		if err := tp.Err(); err != nil {
			t.Fatal(err)
		}
		return slices.Clone(out.Value.Data)
	}
	if a, b := run(m), run(m2); !slices.Equal(a, b) {
		t.Fatalf("logits differ: %v vs %v", a, b)
	}
}

// TestHFQKVConcat writes a transformers-named file by hand with query, key
// and value filled with distinct values and checks where they land in qkv.
func TestHFQKVConcat(t *testing.T) {
	m := microModel(t, 11)
	D := m.Cfg.Dim
	dir := t.TempDir()
	if err := Save(m, dir, Checkpoint{Dialect: Transformers}, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, WeightsFile)
	ts, meta, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Check the split written by Save.
	qkv, _ := m.Store.Get("blocks.1.attn.qkv.weight")
	qkvb, _ := m.Store.Get("blocks.1.attn.qkv.bias")
	for j, part := range []string{"query", "key", "value"} {
		w := ts["vit.encoder.layer.1.attention.attention."+part+".weight"]
		b := ts["vit.encoder.layer.1.attention.attention."+part+".bias"]
		if w == nil || !tensor.SameShape(w.Shape, []int{D, D}) || b == nil || !tensor.SameShape(b.Shape, []int{D}) {
			t.Fatalf("%s: missing or misshapen", part)
		}
		if !slices.Equal(w.Data, qkv.Value.Data[j*D*D:(j+1)*D*D]) || !slices.Equal(b.Data, qkvb.Value.Data[j*D:(j+1)*D]) {
			t.Fatalf("%s is not rows [%d,%d) of qkv", part, j*D, (j+1)*D)
		}
	}
	// Now overwrite block 0's parts with constants and load.
	for j, part := range []string{"query", "key", "value"} {
		w := ts["vit.encoder.layer.0.attention.attention."+part+".weight"]
		for i := range w.Data {
			w.Data[i] = float32(j+1) * 10
			if i%D == 0 {
				w.Data[i] += float32(i / D) // row index in column 0
			}
		}
		b := ts["vit.encoder.layer.0.attention.attention."+part+".bias"]
		for i := range b.Data {
			b.Data[i] = -float32(j + 1)
		}
	}
	if err := safetensors.WriteFile(path, ts, safetensors.F32, meta); err != nil {
		t.Fatal(err)
	}
	m2, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := m2.Store.Get("blocks.0.attn.qkv.weight")
	gotb, _ := m2.Store.Get("blocks.0.attn.qkv.bias")
	for r := 0; r < 3*D; r++ {
		part, row := r/D, r%D
		want := float32(part+1)*10 + float32(row)
		if g := got.Value.Data[r*D]; g != want {
			t.Fatalf("qkv row %d col 0 = %v, want %v (part %d row %d)", r, g, want, part, row)
		}
		if g := got.Value.Data[r*D+1]; g != float32(part+1)*10 {
			t.Fatalf("qkv row %d col 1 = %v", r, g)
		}
		if g := gotb.Value.Data[r]; g != -float32(part+1) {
			t.Fatalf("qkv bias %d = %v, want %v", r, g, -float32(part+1))
		}
	}
}

// savedHeadlessHF saves a headless vit-micro in transformers' dialect and
// returns the model and its folder.
func savedHeadlessHF(t *testing.T) (*Model, string) {
	t.Helper()
	cfg, _ := Preset("vit-micro")
	cfg.NumClasses = 0
	m, err := New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Save(m, dir, Checkpoint{Dialect: Transformers}, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	return m, dir
}

func TestHFPassthroughAndHeadless(t *testing.T) {
	m, dir := savedHeadlessHF(t)
	cfg := m.Cfg
	path := filepath.Join(dir, WeightsFile)
	ts, meta, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ts["embeddings.cls_token"]; !ok {
		t.Fatalf("headless transformers save should be ViTModel-named (no prefix): %v", keys(ts))
	}
	pool := tensor.New(cfg.Dim, cfg.Dim)
	pool.Data[5] = 3
	ts["pooler.dense.weight"], ts["pooler.dense.bias"] = pool, tensor.New(cfg.Dim)
	if err := safetensors.WriteFile(path, ts, safetensors.F32, meta); err != nil {
		t.Fatal(err)
	}
	m2, ck, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Head != nil || ck.Architecture != hfBase || len(ck.Passthrough) != 2 {
		t.Fatalf("head %v, arch %q, passthrough %v", m2.Head, ck.Architecture, keys(ck.Passthrough))
	}
	dir2 := t.TempDir()
	if err := Save(m2, dir2, ck, ""); err != nil {
		t.Fatal(err)
	}
	ts2, _, err := safetensors.ReadFile(filepath.Join(dir2, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	if p := ts2["pooler.dense.weight"]; p == nil || p.Data[5] != 3 {
		t.Fatal("pooler not written back")
	}
	// Saved as timm, the pooler is dropped and the file loads as timm.
	dir3 := t.TempDir()
	if err := Save(m2, dir3, Checkpoint{Dialect: Timm}, ""); err != nil {
		t.Fatal(err)
	}
	if _, ck3, err := Load(dir3); err != nil || ck3.Passthrough != nil {
		t.Fatalf("timm reload: %v, passthrough %v", err, ck3.Passthrough)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// rewrite loads dir's weights, lets edit change them and writes them back.
func rewrite(t *testing.T, dir string, edit func(map[string]*tensor.Tensor)) {
	t.Helper()
	path := filepath.Join(dir, WeightsFile)
	ts, meta, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(ts)
	if err := safetensors.WriteFile(path, ts, safetensors.F32, meta); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	type setup func(t *testing.T, dir string)
	saved := func(d Dialect) setup {
		return func(t *testing.T, dir string) {
			if err := Save(microModel(t, 1), dir, Checkpoint{Dialect: d}, safetensors.F32); err != nil {
				t.Fatal(err)
			}
		}
	}
	then := func(a setup, b func(t *testing.T, dir string)) setup {
		return func(t *testing.T, dir string) { a(t, dir); b(t, dir) }
	}
	writeConfig := func(s string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		setup setup
		want  []string // substrings of the error
	}{
		{"missing config", func(t *testing.T, dir string) {}, []string{ConfigFile}},
		{"missing weights", then(saved(Timm), func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, WeightsFile))
		}), []string{WeightsFile}},
		{"bad json", then(saved(Timm), writeConfig(`{"architecture": "vit_tiny_patch16_224",`)),
			[]string{ConfigFile, "invalid JSON"}},
		{"not an object", then(saved(Timm), writeConfig(`[1, 2]`)), []string{ConfigFile, "not an object"}},
		{"unknown dialect", then(saved(Timm), writeConfig(`{"foo": 1}`)), []string{ConfigFile, "neither"}},
		{"bad field type", then(saved(Transformers), writeConfig(`{"model_type": "vit", "hidden_size": "big"}`)),
			[]string{ConfigFile, "hidden_size"}},
		{"not a vit", then(saved(Transformers), writeConfig(`{"model_type": "bert"}`)), []string{ConfigFile, "bert"}},
		{"unknown timm arch", then(saved(Timm), writeConfig(`{"architecture": "resnet50"}`)),
			[]string{ConfigFile, "resnet50"}},
		{"unsupported pool", then(saved(Timm), writeConfig(`{"architecture": "vit_tiny_patch16_224", "global_pool": "avg"}`)),
			[]string{ConfigFile, "global_pool"}},
		{"invalid sizes", then(saved(Transformers), writeConfig(`{"model_type": "vit", "hidden_size": 30, "num_attention_heads": 4, "intermediate_size": 60}`)),
			[]string{ConfigFile, "num_heads"}},
		{"missing timm tensor", then(saved(Timm), func(t *testing.T, dir string) {
			rewrite(t, dir, func(ts map[string]*tensor.Tensor) { delete(ts, "blocks.1.mlp.fc2.bias") })
		}), []string{WeightsFile, `"blocks.1.mlp.fc2.bias" missing`}},
		{"missing hf tensor", then(saved(Transformers), func(t *testing.T, dir string) {
			rewrite(t, dir, func(ts map[string]*tensor.Tensor) { delete(ts, "vit.encoder.layer.1.output.dense.weight") })
		}), []string{WeightsFile, `"vit.encoder.layer.1.output.dense.weight" missing`, "blocks.1.mlp.fc2.weight"}},
		{"missing hf key part", then(saved(Transformers), func(t *testing.T, dir string) {
			rewrite(t, dir, func(ts map[string]*tensor.Tensor) {
				delete(ts, "vit.encoder.layer.0.attention.attention.key.weight")
			})
		}), []string{WeightsFile, `"vit.encoder.layer.0.attention.attention.key.weight" missing`}},
		{"wrong shape", then(saved(Timm), func(t *testing.T, dir string) {
			rewrite(t, dir, func(ts map[string]*tensor.Tensor) { ts["pos_embed"] = tensor.New(1, 5, 32) })
		}), []string{WeightsFile, `"pos_embed" has shape (1,5,32)`, "(1,17,32)"}},
		{"wrong hf shape", then(saved(Transformers), func(t *testing.T, dir string) {
			rewrite(t, dir, func(ts map[string]*tensor.Tensor) { ts["classifier.weight"] = tensor.New(7, 32) })
		}), []string{WeightsFile, `"classifier.weight" has shape (7,32)`}},
		{"unexpected tensor", then(saved(Timm), func(t *testing.T, dir string) {
			rewrite(t, dir, func(ts map[string]*tensor.Tensor) { ts["blocks.0.ls1.gamma"] = tensor.New(32) })
		}), []string{WeightsFile, "unexpected", `"blocks.0.ls1.gamma"`}},
		{"extra block", then(saved(Transformers), func(t *testing.T, dir string) {
			rewrite(t, dir, func(ts map[string]*tensor.Tensor) {
				ts["vit.encoder.layer.2.layernorm_before.weight"] = tensor.New(32)
			})
		}), []string{WeightsFile, "unexpected", `"vit.encoder.layer.2.layernorm_before.weight"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			_, _, err := Load(dir)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestSaveErrors(t *testing.T) {
	m := microModel(t, 1)
	m.Cfg.LNEps = 1e-12
	dir := filepath.Join(t.TempDir(), "out")
	if err := Save(m, dir, Checkpoint{Dialect: Timm}, safetensors.F32); err == nil || !strings.Contains(err.Error(), "eps") {
		t.Fatalf("timm save with eps 1e-12: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("failed save left a folder behind")
	}
	if err := Save(m, dir, Checkpoint{Dialect: "onnx"}, safetensors.F32); err == nil {
		t.Fatal("unknown dialect accepted")
	}
	if err := Save(m, dir, Checkpoint{Dialect: Transformers}, safetensors.F64); err == nil {
		t.Fatal("F64 accepted")
	}
	if err := Save(nil, dir, Checkpoint{}, ""); err == nil {
		t.Fatal("nil model accepted")
	}
}

func TestHFHeadlessWithoutArchitectures(t *testing.T) {
	m, dir := savedHeadlessHF(t)
	raw, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	obj, _ := decodeObject(raw)
	delete(obj, "architectures")
	data, _ := encodeObject(obj)
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if ck, err := LoadConfig(dir); err != nil || ck.Config.NumClasses != 2 {
		t.Fatalf("config alone: %v, %d classes (transformers' default is 2)", err, ck.Config.NumClasses)
	}
	m2, ck, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Head != nil || ck.Config.NumClasses != 0 {
		t.Fatalf("want headless, have %d classes", ck.Config.NumClasses)
	}
	sameTensors(t, m, m2)
}
