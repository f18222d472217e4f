package llama

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

const refDir = "../../testdata/ref/llama"

// logitsOf runs m on ids (B, T) without gradients.
func logitsOf(t *testing.T, m *Model, ids []int, B, T int) []float32 {
	t.Helper()
	tp := ag.NewTape()
	tp.NoGrad = true
	y := m.Forward(tp, ids, B, T)
	if err := tp.Err(); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(y.Value.Data)
}

// checkClose fails when some |got−want| > tol·(1+max|want|): the error
// relative to the tensor's scale (a gradient's small entries are sums of
// large terms that cancel, so their own size does not bound their error).
func checkClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	worst := 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		worst = max(worst, d)
		if !(d <= tol*(1+scale)) {
			t.Fatalf("%s[%d] = %v, want %v (max |want| %.3g)", what, i, got[i], want[i], scale)
		}
	}
	t.Logf("%-55s max abs diff %.2e (max |ref| %.3g)", what, worst, scale)
}

func idsOf(ts *tensor.Tensor) []int {
	ids := make([]int, len(ts.Data))
	for i, v := range ts.Data {
		ids[i] = int(v)
	}
	return ids
}

// TestReferenceParity checks logits and every parameter's gradient of
// loss = Σ logits⊙R against the PyTorch LLaMA of
// reference/make_llama_fixtures.py, for a grouped-query model with untied
// and with tied embeddings, read from the Hugging Face folder and from the
// llama2.c file.
func TestReferenceParity(t *testing.T) {
	for _, name := range []string{"random-untied", "random-tied", "random-biased"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(refDir, name)
			exp, _, err := safetensors.ReadFile(filepath.Join(dir, "expected.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			ids := idsOf(exp["ids"])
			B, T := exp["ids"].Shape[0], exp["ids"].Shape[1]
			m, ck, err := LoadHF(dir)
			if err != nil {
				t.Fatal(err)
			}
			biased := name == "random-biased"
			if ck.Config.KVHeads >= ck.Config.Heads || ck.Config.TiedEmbed != (name == "random-tied") ||
				ck.Config.AttnBias != biased || ck.Config.MLPBias != biased {
				t.Fatalf("fixture config %+v is not the grouped-query %s model", ck.Config, name)
			}
			count := 0
			for _, v := range m.Params() {
				count += v.Value.Numel()
			}
			if count != m.Cfg.Params() {
				t.Fatalf("Config.Params() = %d, the model has %d", m.Cfg.Params(), count)
			}
			tp := ag.NewTape()
			logits := m.Forward(tp, ids, B, T)
			loss := tp.SumAll(tp.Mul(logits, tp.Wrap(exp["R"])))
			if err := tp.Backward(loss); err != nil {
				t.Fatal(err)
			}
			checkClose(t, "logits", logits.Value.Data, exp["logits"].Data, 1e-5)
			n := 0
			for _, v := range m.Params() {
				want, ok := exp["grad."+v.Name]
				if !ok {
					t.Fatalf("no reference gradient for %s", v.Name)
				}
				checkClose(t, "grad."+v.Name, v.Grad.Data, want.Data, 1e-5)
				n++
			}
			if n != len(exp)-3 {
				t.Fatalf("compared %d gradients, the fixture has %d", n, len(exp)-3)
			}
			if m.Cfg.RopeTheta != llama2cTheta {
				return // llama2.c's format cannot hold this model
			}
			m2, _, err := LoadLlama2c(filepath.Join(dir, "model.bin"))
			if err != nil {
				t.Fatal(err)
			}
			checkClose(t, "llama2.c file's logits", logitsOf(t, m2, ids, B, T), exp["logits"].Data, 1e-5)
		})
	}
}

// TestCacheMatchesForward: decoding position by position (and a prompt in
// one step) with the key/value cache gives the logits of the full causal
// forward pass.
func TestCacheMatchesForward(t *testing.T) {
	cfg := Tiny()
	m, err := New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{1, 5, 9, 33, 2, 17, 40, 8, 8, 61}
	T := len(ids)
	full := logitsOf(t, m, ids, 1, T) // (1, T, V)
	V := cfg.VocabSize
	for _, prompt := range []int{1, 4} {
		cache, err := m.NewCache(1, T)
		if err != nil {
			t.Fatal(err)
		}
		tp := ag.NewTape()
		tp.NoGrad = true
		pos := 0
		for pos < T {
			step := 1
			if pos == 0 {
				step = prompt
			}
			y := m.Step(tp, cache, ids[pos:pos+step], 1, step)
			if err := tp.Err(); err != nil {
				t.Fatal(err)
			}
			pos += step
			checkClose(t, "cached step logits", y.Value.Data, full[(pos-1)*V:pos*V], 1e-5)
			tp.Reset()
		}
		if cache.Len() != T {
			t.Fatalf("cache holds %d positions, want %d", cache.Len(), T)
		}
		y := m.Step(tp, cache, []int{3}, 1, 1)
		if tp.Err() == nil || y.Value.Numel() != 0 {
			t.Fatal("a step past the cache's capacity did not fail")
		}
	}
}

// TestGreedyMatchesReference: greedy decoding of the small model trained by
// the reference script gives the reference's tokens, from the Hugging Face
// folder and from the llama2.c file.
func TestGreedyMatchesReference(t *testing.T) {
	dir := filepath.Join(refDir, "trained")
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Prompt, Tokens []int
		MinGap         float64 `json:"min_gap"`
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, filepath.Join(dir, "model.bin")} {
		m, _, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		got := slices.Clone(exp.Prompt)
		err = m.Generate(exp.Prompt, GenerateOptions{MaxTokens: len(exp.Tokens)}, func(id int) error {
			got = append(got, id)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, exp.Tokens) {
			t.Fatalf("%s: greedy\n got  %v\n want %v (reference's smallest top-2 gap %.3g)", path, got, exp.Tokens, exp.MinGap)
		}
	}
}

// TestSaveRoundTrips: a model saved as a Hugging Face folder (F32, BF16)
// and as a llama2.c file loads back to the same logits; the llama2.c file
// glora writes is the reference script's byte for byte, apart from the
// rotation tables (computed, not copied).
func TestSaveRoundTrips(t *testing.T) {
	for _, name := range []string{"random-untied", "random-tied", "random-biased"} {
		src := filepath.Join(refDir, name)
		m, ck, err := LoadHF(src)
		if err != nil {
			t.Fatal(err)
		}
		ids := []int{1, 4, 7, 30, 2, 0, 47}
		want := logitsOf(t, m, ids, 1, len(ids))
		tmp := t.TempDir()
		for _, dt := range []safetensors.DType{safetensors.F32, safetensors.BF16} {
			dir := filepath.Join(tmp, string(dt))
			if err := SaveHF(m, dir, ck, dt); err != nil {
				t.Fatal(err)
			}
			m2, ck2, err := LoadHF(dir)
			if err != nil {
				t.Fatal(err)
			}
			if ck2.DType != dt || ck2.Config != m.Cfg {
				t.Fatalf("%s: reloaded as %s with %+v, want %s with %+v", dt, ck2.DType, ck2.Config, dt, m.Cfg)
			}
			tol := 0.0
			if dt == safetensors.BF16 {
				tol = 0.1
			}
			got := logitsOf(t, m2, ids, 1, len(ids))
			if dt == safetensors.F32 && !slices.Equal(got, want) {
				t.Fatalf("%s: F32 round trip changed the logits", name)
			}
			checkClose(t, name+" "+string(dt)+" round trip", got, want, tol)
			if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
				t.Fatal(err)
			}
		}
		bin := filepath.Join(tmp, "model.bin")
		if m.Cfg.AttnBias {
			if err := SaveLlama2c(m, bin); err == nil || !strings.Contains(err.Error(), "no biases") {
				t.Fatalf("saving a biased model in llama2.c's format: %v", err)
			}
			continue
		}
		if m.Cfg.RopeTheta != llama2cTheta {
			if err := SaveLlama2c(m, bin); err == nil || !strings.Contains(err.Error(), "rope_theta") {
				t.Fatalf("saving a rope_theta-500 model in llama2.c's format: %v", err)
			}
			continue
		}
		if err := SaveLlama2c(m, bin); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := os.ReadFile(filepath.Join(src, "model.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ref) {
			t.Fatalf("%s: llama2.c file of %d bytes, the reference's has %d", name, len(got), len(ref))
		}
		fc := 4 * m.Cfg.MaxSeq * m.Cfg.Head() // the two freq_cis tables
		end := len(ref)
		if !m.Cfg.TiedEmbed {
			end -= 4 * m.Cfg.VocabSize * m.Cfg.Dim
		}
		if !slices.Equal(got[:end-fc], ref[:end-fc]) || !slices.Equal(got[end:], ref[end:]) {
			t.Fatalf("%s: the weights glora writes differ from the reference script's llama2.c file", name)
		}
		m3, _, err := LoadLlama2c(bin)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(logitsOf(t, m3, ids, 1, len(ids)), want) {
			t.Fatalf("%s: llama2.c round trip changed the logits", name)
		}
	}
}

// TestLinearsAndClone: the sites are PEFT's module paths, Set swaps the
// layer the forward pass calls, and a clone computes the same logits.
func TestLinearsAndClone(t *testing.T) {
	m, err := New(Tiny(), rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	sites := m.Linears()
	if len(sites) != 7*m.Cfg.Layers+1 || sites[0].Path != "model.layers.0.self_attn.q_proj" ||
		sites[6].Path != "model.layers.0.mlp.down_proj" || !sites[len(sites)-1].Head || sites[len(sites)-1].Path != "lm_head" {
		var paths []string
		for _, s := range sites {
			paths = append(paths, s.Path)
		}
		t.Fatalf("sites: %s", strings.Join(paths, " "))
	}
	for _, s := range sites {
		if _, ok := m.Store.Get(s.Path + ".weight"); !ok {
			t.Fatalf("site %s has no parameter %s.weight", s.Path, s.Path)
		}
	}
	ids := []int{1, 2, 3, 4}
	want := logitsOf(t, m, ids, 2, 2)
	c, err := m.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(logitsOf(t, c, ids, 2, 2), want) {
		t.Fatal("clone computes other logits")
	}
	zero := &zeroLayer{}
	sites[3].Set(zero) // o_proj of layer 0
	if slices.Equal(logitsOf(t, m, ids, 2, 2), want) || zero.calls == 0 {
		t.Fatal("Set did not replace the layer the forward pass calls")
	}
	sites[3].Set(sites[3].Base)
	if !slices.Equal(logitsOf(t, m, ids, 2, 2), want) {
		t.Fatal("Set(Base) did not restore the layer")
	}
}

type zeroLayer struct{ calls int }

func (z *zeroLayer) Forward(tp *ag.Tape, x *ag.Var) *ag.Var {
	z.calls++
	return tp.Scale(x, 0)
}

// TestLlama2cVersioned: llama2.c's version-1 file (float32, export.py's
// newer layout) reads to the Hugging Face folder's exact logits, and the
// version-2 file (Q8_0) to the logits of the reference script's
// dequantized weights; a truncated or unknown-version file is an error.
func TestLlama2cVersioned(t *testing.T) {
	dir := filepath.Join(refDir, "trained")
	hf, _, err := LoadHF(dir)
	if err != nil {
		t.Fatal(err)
	}
	exp, _, err := safetensors.ReadFile(filepath.Join(dir, "expected-q80.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	ids := idsOf(exp["ids"])
	B, T := exp["ids"].Shape[0], exp["ids"].Shape[1]
	v1, ck, err := LoadLlama2c(filepath.Join(dir, "model-v1.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Config != hf.Cfg {
		t.Fatalf("version 1 config %+v, the folder's %+v", ck.Config, hf.Cfg)
	}
	if !slices.Equal(logitsOf(t, v1, ids, B, T), logitsOf(t, hf, ids, B, T)) {
		t.Fatal("the version-1 file's logits differ from the folder's")
	}
	v2, _, err := LoadLlama2c(filepath.Join(dir, "model-v2.bin"))
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "version-2 (Q8_0) logits", logitsOf(t, v2, ids, B, T), exp["logits"].Data, 1e-5)
	raw, err := os.ReadFile(filepath.Join(dir, "model-v1.bin"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"short.bin", raw[:len(raw)-4], "makes a"},
		{"hdr.bin", raw[:100], "256 bytes"},
		{"v3.bin", append(append([]byte(nil), raw[:4]...), append([]byte{3, 0, 0, 0}, raw[8:]...)...), "version 3"},
	} {
		p := filepath.Join(tmp, c.name)
		os.WriteFile(p, c.data, 0o644)
		if _, _, err := LoadLlama2c(p); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: %v (want an error naming the file and %q)", c.name, err, c.want)
		}
	}
}
