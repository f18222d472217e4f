package llama

import (
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

// TestClassifierSaveLoad: a classifier written as a
// LlamaForSequenceClassification folder reads back with its labels and
// computes the same logits on a padded batch; a language model's folder is
// not a classifier; bad labels are refused.
func TestClassifierSaveLoad(t *testing.T) {
	m, err := New(Tiny(), rand.New(rand.NewPCG(7, 8)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClassifier(m, 3, rand.New(rand.NewPCG(9, 10)))
	if err != nil {
		t.Fatal(err)
	}
	x, err := tensor.FromSlice([]float32{1, 5, 9, 4, 1, 7, PadID, PadID}, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	logits := func(c *Classifier) []float32 {
		tp := ag.NewTape()
		tp.NoGrad = true
		y := c.Forward(tp, tp.Wrap(x), nil)
		if err := tp.Err(); err != nil {
			t.Fatal(err)
		}
		return slices.Clone(y.Value.Data)
	}
	want := logits(c)
	dir := filepath.Join(t.TempDir(), "cls")
	labels := []string{"ham", "spam", "ëggs"}
	if err := SaveClassifier(c, dir, Checkpoint{}, labels, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	for _, s := range []string{`"LlamaForSequenceClassification"`, `"pad_token_id": 2`, `"2": "ëggs"`, `"spam": 1`} {
		if !strings.Contains(string(cfg), s) {
			t.Errorf("config.json lacks %s:\n%s", s, cfg)
		}
	}
	c2, _, got, err := LoadClassifier(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, labels) || !slices.Equal(logits(c2), want) {
		t.Fatalf("read back labels %v and logits %v; want %v and %v", got, logits(c2), labels, want)
	}
	// the decoder alone still loads as a language model
	if _, ck, err := LoadHF(dir); err != nil || ck.Score == nil {
		t.Fatalf("LoadHF of a classifier folder: %v (score %v)", err, ck.Score != nil)
	}
	lm := filepath.Join(t.TempDir(), "lm")
	if err := SaveHF(m, lm, Checkpoint{}, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := LoadClassifier(lm); err == nil || !strings.Contains(err.Error(), "not a sequence classifier") {
		t.Fatalf("LoadClassifier of a language model: %v", err)
	}
	// a config.json whose id2label names a class the head lacks
	raw := strings.Replace(string(cfg), `"2": "ëggs"`, `"7": "ëggs"`, 1)
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := LoadClassifier(dir); err == nil || !strings.Contains(err.Error(), `"7"`) || !strings.Contains(err.Error(), ConfigFile) {
		t.Fatalf("id2label with a class out of range: %v", err)
	}
	for _, bad := range [][]string{{"a", "b"}, {"a", "a", "b"}, {"a", "", "b"}} {
		if err := SaveClassifier(c, filepath.Join(t.TempDir(), "x"), Checkpoint{}, bad, safetensors.F32); err == nil {
			t.Errorf("labels %q accepted", bad)
		}
	}
}
