package backbones

import (
	"slices"
	"strings"
	"testing"

	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/safetensors"
)

// TestShippedLM: the embedded language model loads with its tokenizer
// (vocabularies and special tokens agreeing), is stored as f16, and
// decodes greedily the same text twice, a text of words rather than
// debris.
func TestShippedLM(t *testing.T) {
	m, ck, tok, err := LoadLM()
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != m.Cfg.VocabSize || tok.BOS() != m.Cfg.BOS || tok.EOS() != m.Cfg.EOS {
		t.Fatalf("tokenizer (%d tokens, BOS %d, EOS %d) does not fit the model (%d, %d, %d)",
			tok.VocabSize(), tok.BOS(), tok.EOS(), m.Cfg.VocabSize, m.Cfg.BOS, m.Cfg.EOS)
	}
	if ck.DType != safetensors.F16 {
		t.Fatalf("stored as %s, want F16", ck.DType)
	}
	prompt, err := tok.Encode("The best way to", true, false)
	if err != nil {
		t.Fatal(err)
	}
	gen := func() []int {
		var ids []int
		if err := m.Generate(prompt, llama.GenerateOptions{MaxTokens: 40}, func(id int) error {
			ids = append(ids, id)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	a := gen()
	if b := gen(); !slices.Equal(a, b) || len(a) == 0 {
		t.Fatalf("greedy decoding gave %v then %v", a, b)
	}
	text, err := tok.Decode(a)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("The best way to%s", text)
	words := strings.Fields(text)
	if len(words) < 3 {
		t.Fatalf("continuation %q has fewer than 3 words", text)
	}
}
