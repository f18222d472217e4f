package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteHF: tokenizer.json and tokenizer_config.json side by side; the
// config names the special tokens as tokenizer.json spells them (llama2.c's
// BOS is "\n<s>\n" in tokenizer.bin, "<s>" in tokenizer.json), and the
// folder reads back to the same encoding.
func TestWriteHF(t *testing.T) {
	tok, err := TrainBPE([]string{"the cat sat on the mat", "the dog sat on the log", "a cat and a dog"}, 280, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := tok.WriteHF(dir, 128); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
		"unk_token": "<unk>", "model_max_length": 128.0}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("tokenizer_config.json %s = %v, want %v (%s)", k, cfg[k], v, raw)
		}
	}
	back, err := Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := tok.Encode("the cat and the log", true, false)
	b, _ := back.Encode("the cat and the log", true, false)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("encodings %v and %v", a, b)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("encodings %v and %v", a, b)
		}
	}
}
