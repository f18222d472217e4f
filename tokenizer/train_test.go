package tokenizer

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// syntheticCorpus is deterministic text with a Zipf-like word distribution, punctuation,
// digits, some accents and emoji: n lines.
func syntheticCorpus(n int) []string {
	syll := []string{"ka", "lo", "mi", "ne", "to", "ra", "su", "vi", "the", "and", "ing", "er", "é", "ß", "ion", "st"}
	var words []string
	state := uint32(7)
	rnd := func(k int) int {
		state = state*1664525 + 1013904223
		return int(state>>8) % k
	}
	for i := 0; i < 3000; i++ {
		w := ""
		for j := 0; j < 1+rnd(4); j++ {
			w += syll[rnd(len(syll))]
		}
		words = append(words, w)
	}
	lines := make([]string, n)
	for i := range lines {
		var b strings.Builder
		for j := 0; j < 8+rnd(12); j++ {
			if j > 0 {
				b.WriteString(" ")
			}
			k := rnd(len(words))
			k = k * rnd(len(words)) / len(words) // skew towards the first words
			b.WriteString(words[k])
			switch rnd(20) {
			case 0:
				b.WriteString(",")
			case 1:
				fmt.Fprintf(&b, " %d", rnd(5000))
			case 2:
				b.WriteString(" 🙂")
			case 3:
				b.WriteString("  ")
			}
		}
		b.WriteString(".")
		lines[i] = b.String()
	}
	return lines
}

func TestTrainTieRule(t *testing.T) {
	tok, err := TrainBPE([]string{"aaa bbb"}, 266, &TrainOptions{MinFrequency: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"aa", "bb", "▁aa", "▁bb", "a", "b", "▁"}
	if got := tok.pieces[259:]; !reflect.DeepEqual(got, want) {
		t.Fatalf("pieces %q, want %q", got, want)
	}
	if tok.Score(259) != 0 || tok.Score(262) != -3 || tok.Score(265) != -6 || tok.Score(3) != 0 {
		t.Fatalf("scores %v", tok.scores[259:])
	}
	// one piece too many: the error names the size that fits, and it does
	if _, err := TrainBPE([]string{"aaa bbb"}, 267, &TrainOptions{MinFrequency: 2}); !errors.Is(err, ErrCorpusTooSmall) || !strings.Contains(err.Error(), "a vocabulary of at most 264 fits it") {
		t.Fatalf("too small: %v", err)
	}
	if _, err := TrainBPE([]string{"aaa bbb"}, 264, &TrainOptions{MinFrequency: 2}); err != nil {
		t.Fatalf("the size the error names: %v", err)
	}
	if _, err := TrainBPE([]string{"abcdef"}, 262, nil); !errors.Is(err, ErrCorpusTooSmall) {
		t.Fatalf("alphabet over the vocabulary: %v", err)
	}
	if _, err := TrainBPE(nil, 100, nil); err == nil {
		t.Fatal("vocab 100 accepted")
	}
}

func TestTrainWords(t *testing.T) {
	var got []string
	splitWords("▁hello,▁▁▁world▁42x▁▁", false, func(w string) { got = append(got, w) })
	want := []string{"▁hello", ",", "▁▁", "▁world", "▁42", "x", "▁▁"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q, want %q", got, want)
	}
	got = nil
	splitWords("▁1234", true, func(w string) { got = append(got, w) })
	if want := []string{"▁1", "2", "3", "4"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("%q, want %q", got, want)
	}
}

// A trained vocabulary: deterministic, fast, round-trips any text, and encodes the same through
// tokenizer.bin (run.c's rule) and tokenizer.json (Hugging Face's merges by rank).
func TestTrainBPE(t *testing.T) {
	corpus := syntheticCorpus(4000) // about 400 KB
	start := time.Now()
	tok, err := TrainBPE(corpus, 1024, nil)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	again, _ := TrainBPE(corpus, 1024, nil)
	if !reflect.DeepEqual(tok.pieces, again.pieces) || !reflect.DeepEqual(tok.scores, again.scores) {
		t.Fatal("training is not deterministic")
	}
	t.Logf("trained 1024 pieces on %d lines in %v", len(corpus), elapsed)
	if tok.VocabSize() != 1024 || tok.Piece(0) != "<unk>" || tok.Piece(1) != "<s>" || tok.Piece(2) != "</s>" || tok.Piece(3) != "<0x00>" || tok.Piece(258) != "<0xFF>" {
		t.Fatal("layout")
	}
	for id := 260; id < 1024; id++ {
		if tok.Score(id) >= tok.Score(id-1) {
			t.Fatalf("scores not descending at %d", id)
		}
	}

	dir := t.TempDir()
	if err := tok.WriteLlama2c(filepath.Join(dir, "tokenizer.bin")); err != nil {
		t.Fatal(err)
	}
	if err := tok.WriteJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	bin, err := LoadLlama2c(filepath.Join(dir, "tokenizer.bin"), 1024)
	if err != nil {
		t.Fatal(err)
	}
	js, err := LoadJSON(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	texts := append([]string{"", " ", "hello world", "  two  spaces ", "tab\there\nnewline", "emoji 🙂🦊 日本", "a\xffb\xe2\x82"}, corpus[:200]...)
	tokens, chars := 0, 0
	for _, s := range texts {
		ids, err := tok.Encode(s, true, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range []*Tokenizer{bin, js} {
			got, err := other.Encode(s, true, false)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, ids) {
				t.Errorf("%q: %s gives %v, the trained tokenizer %v", s, other.src, got, ids)
			}
		}
		if back, err := tok.Decode(ids); err != nil || back != s {
			t.Errorf("%q decodes to %q (%v)", s, back, err)
		}
		tokens += len(ids)
		chars += len(s)
	}
	t.Logf("%.2f bytes per token", float64(chars)/float64(tokens))
}

// The speed the brief asks for: a few MB, a vocabulary of a few thousand, in seconds.
func BenchmarkTrainBPE(b *testing.B) {
	corpus := syntheticCorpus(40000) // about 4 MB
	n := 0
	for _, s := range corpus {
		n += len(s)
	}
	b.SetBytes(int64(n))
	for i := 0; i < b.N; i++ {
		if _, err := TrainBPE(corpus, 4096, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	corpus := syntheticCorpus(2000)
	text := strings.Join(corpus, "\n")
	tok, err := TrainBPE(corpus, 1024, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		if _, err := tok.Encode(text, true, false); err != nil {
			b.Fatal(err)
		}
	}
}
