package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/data"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/tensor"
)

// microBase saves a random vit-micro (qkv bias as given) in dialect d.
func microBase(t *testing.T, dir string, qkvBias bool, d vit.Dialect) *vit.Model {
	t.Helper()
	cfg, _ := vit.Preset("vit-micro")
	cfg.QKVBias = qkvBias
	m, err := vit.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	ck := vit.NewCheckpoint("vit-micro", cfg)
	ck.Dialect, ck.Naming = d, d
	if err := vit.Save(m, dir, ck, ""); err != nil {
		t.Fatal(err)
	}
	return m
}

// randomAdapter draws a structure over every block Linear of m (C, D and E
// allowed on bias-less layers) and random stored tensors, with a head of
// 3 classes.
func randomAdapter(t *testing.T, m *vit.Model, seed uint64) *glora.Adapter {
	t.Helper()
	sites, err := glora.SelectTargets(m.Linears(), []string{glora.AllLinear}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := glora.TargetsOf(sites)
	rng := rand.New(rand.NewPCG(seed, 7))
	sp := glora.Space{Ranks: []int{2, 4}, AddBias: true}
	st := sp.Sample(rng, ts)
	layers := map[string]*glora.LayerTensors{}
	for _, tg := range ts {
		lt := glora.NewLayerTensors(tg.Out, tg.In, 4, rng)
		for _, x := range lt.List() {
			for i := range x.Data {
				x.Data[i] = float32(rng.NormFloat64() * 0.05)
			}
		}
		layers[tg.Path] = &lt
	}
	w, b := tensor.New(3, m.Cfg.Dim), tensor.New(3)
	for i := range w.Data {
		w.Data[i] = float32(rng.NormFloat64())
	}
	b.Data[1] = 0.5
	a, err := glora.NewAdapter(st, layers, &glora.Head{Path: "head", W: w, B: b})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func logits(t *testing.T, m *vit.Model) []float32 {
	t.Helper()
	img := tensor.New(2, 1, 16, 16)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range img.Data {
		img.Data[i] = float32(rng.NormFloat64())
	}
	tp := ag.NewTape()
	out := m.Forward(tp, ag.NewVar(img, false), nil)
	if err := tp.Err(); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(out.Value.Data)
}

func TestMergeEqualsMergeLinearAndLogits(t *testing.T) {
	for _, tc := range []struct {
		name    string
		qkvBias bool
		dialect vit.Dialect
	}{{"timm", true, vit.Timm}, {"timm, qkv without bias", false, vit.Timm}, {"transformers", true, vit.Transformers}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			base, adir, out := filepath.Join(dir, "base"), filepath.Join(dir, "adapter"), filepath.Join(dir, "merged")
			m := microBase(t, base, tc.qkvBias, tc.dialect)
			a := randomAdapter(t, m, 3)
			a.Labels = []string{"ant", "bee", "cow"} // the adapter head's classes (glora_labels)
			if err := glora.Save(adir, a, glora.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCLI("merge", "--base", base, "--adapter", adir, "--out", out)
			if code != 0 {
				t.Fatalf("merge: %s%s", stdout, stderr)
			}
			t.Log(stdout)
			got, ck, err := vit.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if ck.Dialect != tc.dialect || ck.Naming != tc.dialect || got.Cfg.NumClasses != 3 {
				t.Fatalf("merged folder: dialect %s, naming %s, %d classes", ck.Dialect, ck.Naming, got.Cfg.NumClasses)
			}
			if strings.Join(ck.Labels, ",") != "ant,bee,cow" {
				t.Fatalf("merged folder names its classes %q, want the adapter's", ck.Labels)
			}
			// The reference: MergeLinear on the base's sites, set into the base.
			ref, _, err := vit.Load(base)
			if err != nil {
				t.Fatal(err)
			}
			gotSites := map[string]int{}
			gl := got.Linears()
			for i, s := range gl {
				gotSites[s.Path] = i
			}
			gained := false
			for _, s := range ref.Linears() {
				lc, ok := a.Structure[s.Path]
				if !ok {
					continue
				}
				var b0 *tensor.Tensor
				if s.Base.B != nil {
					b0 = s.Base.B.Value
				}
				w, b, err := glora.MergeLinear(s.Base.W.Value, b0, a.Layers[s.Path], lc)
				if err != nil {
					t.Fatal(err)
				}
				g := gl[gotSites[s.Path]].Base
				if !slices.Equal(g.W.Value.Data, w.Data) {
					t.Fatalf("layer %s: merged weight differs from MergeLinear's", s.Path)
				}
				switch {
				case b == nil && g.B != nil && slices.ContainsFunc(g.B.Value.Data, func(v float32) bool { return v != 0 }):
					t.Fatalf("layer %s: a bias appeared", s.Path)
				case b != nil && (g.B == nil || !slices.Equal(g.B.Value.Data, b.Data)):
					t.Fatalf("layer %s: merged bias differs from MergeLinear's", s.Path)
				}
				gained = gained || (b0 == nil && b != nil)
				s.Base.W.Value, s.Base.B = w, nil
				if b != nil {
					s.Base.B = &ag.Var{Value: b}
				}
			}
			if !tc.qkvBias && !gained {
				t.Fatal("the random structure gave no bias-less qkv a bias; pick another seed")
			}
			if tc.qkvBias == false && !got.Cfg.QKVBias {
				t.Fatal("a qkv that gained a bias was not written with qkv_bias")
			}
			if err := ref.ResetHead(3, nil); err != nil {
				t.Fatal(err)
			}
			ref.Head.W.Value, ref.Head.B.Value = a.Head.W, a.Head.B
			lg, lr := logits(t, got), logits(t, ref)
			if !slices.Equal(lg, lr) {
				t.Fatalf("logits of the merged folder %v differ from the merged weights' %v", lg, lr)
			}
			// glora eval loads the merged folder (and scores its 3 classes).
			writeClasses(t, filepath.Join(dir, "data"), a.Labels, 4, true)
			if code, o, e := runCLI("eval", "--model", out, "--data", "folder:"+filepath.Join(dir, "data")); code != 0 {
				t.Fatalf("eval of the merged folder: %s%s", o, e)
			}
		})
	}
}

func TestMergeRefusals(t *testing.T) {
	dir := t.TempDir()
	base, adir, out := filepath.Join(dir, "base"), filepath.Join(dir, "adapter"), filepath.Join(dir, "merged")
	m := microBase(t, base, true, vit.Timm)
	if err := glora.Save(adir, randomAdapter(t, m, 3), glora.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(out, 0o755)
	os.WriteFile(filepath.Join(out, "keep.txt"), []byte("x"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"merge", "--adapter", adir, "--out", out}, "--base is required"},
		{[]string{"merge", "--base", base, "--adapter", adir, "--out", out}, "exists and is not empty (pass --overwrite"},
		{[]string{"merge", "--base", base, "--adapter", dir, "--out", out + "2"}, "adapter_config.json missing"},
		{[]string{"merge", "--base", base, "--adapter", adir, "--out", out + "2", "--dtype", "f8"}, `--dtype "f8"`},
		{[]string{"merge", "--base", "vit-tiny", "--adapter", adir, "--out", out + "2"}, `adapter layer "blocks.0.attn.proj" is 32→32, the base's Linear is 192→192`},
	} {
		code, o, e := runCLI(tc.args...)
		if code == 0 || !strings.Contains(o+e, tc.want) {
			t.Errorf("%v: code %d, want %q in\n%s%s", tc.args, code, tc.want, o, e)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(out, "keep.txt")); string(b) != "x" {
		t.Fatal("a refused merge touched --out")
	}
	if code, o, e := runCLI("merge", "--base", base, "--adapter", adir, "--out", out, "--overwrite", "--dtype", "bf16"); code != 0 ||
		!strings.Contains(o, "BF16") {
		t.Fatalf("--overwrite: %s%s", o, e)
	}
	if _, err := os.Stat(filepath.Join(out, "keep.txt")); !os.IsNotExist(err) {
		t.Fatal("--overwrite kept the old folder's files")
	}
}

// Without --base, merge takes the base the adapter records when glora can
// load it here (a folder, or the shipped backbone), and says so; a base
// that is not here is refused naming it.
func TestMergeTakesTheAdaptersRecordedBase(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	a := randomAdapter(t, microBase(t, base, true, vit.Timm), 3)
	for _, tc := range []struct {
		recorded string
		code     int
		want     string
	}{{base, 0, "--base " + base + ": the adapter's base_model_name_or_path"},
		{"google/vit-base-patch16-224", 1, `--base is required: the adapter's base model (base_model_name_or_path "google/vit-base-patch16-224") is neither shipped nor a model folder here`}} {
		a.BaseModel = tc.recorded
		adir := filepath.Join(dir, "adapter-"+filepath.Base(tc.recorded))
		if err := glora.Save(adir, a, glora.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		code, o, e := runCLI("merge", "--adapter", adir, "--out", filepath.Join(dir, "merged"), "--overwrite")
		if (code == 0) != (tc.code == 0) || !strings.Contains(e, tc.want) {
			t.Errorf("recorded base %s: exit %d, want %q in\n%s%s", tc.recorded, code, tc.want, o, e)
		}
	}
}

func TestInspectAdapter(t *testing.T) {
	dir := t.TempDir()
	base, adir := filepath.Join(dir, "base"), filepath.Join(dir, "adapter")
	m := microBase(t, base, true, vit.Timm)
	a := randomAdapter(t, m, 3)
	if err := glora.Save(adir, a, glora.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	support, head := a.Params()
	code, out, e := runCLI("inspect", adir)
	if code != 0 {
		t.Fatalf("inspect: %s", e)
	}
	for _, want := range []string{"GLoRA adapter, stored rank 4, 8 layers", "blocks.1.mlp.fc2", "config_A_B/C/D_E null",
		"trainable params: " + group(support+head) + " (the adapter's own count"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %q:\n%s", want, out)
		}
	}
	code, out, e = runCLI("inspect", adir, "--base", base)
	if code != 0 {
		t.Fatalf("inspect --base: %s", e)
	}
	all := m.Store.Count(false) + support + head
	if want := "trainable params: " + group(support+head) + " || all params: " + group(all) + " || trainable%: "; !strings.Contains(out, want) {
		t.Fatalf("inspect --base lacks %q:\n%s", want, out)
	}
	t.Log(out)
	// base_model_name_or_path, when a folder, is found without --base.
	a.BaseModel = base
	glora.Save(adir, a, glora.SaveOptions{})
	if _, out, _ := runCLI("inspect", adir); !strings.Contains(out, "|| all params: "+group(all)) {
		t.Fatalf("inspect with base_model_name_or_path:\n%s", out)
	}
	// --json: one JSON object on stdout, the structure and the counts.
	code, out, e = runCLI("inspect", adir, "--json")
	var js map[string]any
	if code != 0 || strings.Count(strings.TrimSpace(out), "\n") != 0 || json.Unmarshal([]byte(out), &js) != nil ||
		js["trainable_params"] != float64(support+head) || js["structure"] == nil || js["all_params"] != float64(all) {
		t.Fatalf("inspect --json: %s%s", out, e)
	}
	// "shipped" names the embedded backbone.
	a.BaseModel = "shipped"
	glora.Save(adir, a, glora.SaveOptions{})
	if _, out, _ := runCLI("inspect", adir); !strings.Contains(out, "|| all params: ") || !strings.Contains(out, "the shipped backbone") {
		t.Fatalf("inspect with base_model_name_or_path shipped:\n%s", out)
	}
	if group(1234567) != "1,234,567" || group(12) != "12" || group(-1000) != "-1,000" {
		t.Fatal("group")
	}
}

// The merged model records what its adapter was trained on, never the
// base's training: eval --split val then follows the adapter's split (and
// refuses another), and an adapter without a record gives a model without
// one.
func TestMergeRecordsTheAdaptersTraining(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	writeClasses(t, dataDir, classNames(3), 10, false)
	spec := "folder:" + dataDir
	base := filepath.Join(dir, "base")
	if code, o, e := runCLI("pretrain", "--model", "vit-micro", "--data", spec, "--scheme", "full", "--epochs", "1", "--batch", "8", "--out", base); code != 0 {
		t.Fatalf("pretrain: %s%s", o, e)
	}
	ft := filepath.Join(dir, "ft")
	if code, o, e := runCLI("finetune", "--base", filepath.Join(base, "best"), "--data", spec, "--method", "lora", "--rank", "2", "--epochs", "1",
		"--scheme", "holdout:0.3", "--split-seed", "5", "--out", ft); code != 0 {
		t.Fatalf("finetune: %s%s", o, e)
	}
	merged := filepath.Join(dir, "merged")
	if code, o, e := runCLI("merge", "--adapter", filepath.Join(ft, "adapter"), "--out", merged); code != 0 {
		t.Fatalf("merge: %s%s", o, e)
	}
	ck, err := vit.LoadConfig(merged)
	// the base had seen every image (--scheme full), so the run's record says full
	if err != nil || ck.Training == nil || ck.Training.Data != data.Canonical(spec) || ck.Training.Scheme != "full" {
		t.Fatalf("merged model's record: %+v, %v", ck.Training, err)
	}
	if code, _, e := runCLI("eval", "--model", merged, "--data", spec, "--split", "val"); code == 0 || !strings.Contains(e, "trained on the whole training split") {
		t.Fatalf("eval --split val of the merged model: exit %d, %s", code, e)
	}
	// A base that never saw the data: the adapter's own split is recorded.
	ft2 := filepath.Join(dir, "ft2")
	if code, o, e := runCLI("finetune", "--base", "vit-micro", "--data", spec, "--method", "lora", "--rank", "2", "--epochs", "1",
		"--scheme", "holdout:0.3", "--split-seed", "5", "--out", ft2); code != 0 {
		t.Fatalf("finetune: %s%s", o, e)
	}
	a, err := glora.LoadAdapter(filepath.Join(ft2, "adapter"))
	if err != nil || a.Training == nil || *a.Training != (glora.TrainingRecord{Data: data.Canonical(spec), Scheme: "holdout:0.3", SplitSeed: 5}) {
		t.Fatalf("the adapter's glora_training: %+v, %v", a.Training, err)
	}
	a.Training = nil
	a.BaseModel = ""
	bare := filepath.Join(dir, "bare")
	if err := glora.Save(bare, a, glora.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if code, o, e := runCLI("merge", "--adapter", bare, "--base", filepath.Join(base, "best"), "--out", filepath.Join(dir, "merged2")); code != 0 {
		t.Fatalf("merge: %s%s", o, e)
	}
	if ck, err := vit.LoadConfig(filepath.Join(dir, "merged2")); err != nil || ck.Training != nil {
		t.Fatalf("an adapter without a record merged into a model with the base's record: %+v, %v", ck.Training, err)
	}
}
