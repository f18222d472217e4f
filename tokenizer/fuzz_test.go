package tokenizer

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// The fuzzers; each runs its seeds in plain `go test`. To fuzz:
//
//	go test ./tokenizer -run '^$' -fuzz FuzzLoadLlama2c -fuzztime 30s
//	go test ./tokenizer -run '^$' -fuzz FuzzLoadJSON -fuzztime 30s
//	go test ./tokenizer -run '^$' -fuzz FuzzEncode -fuzztime 30s

// exercise runs a tokenizer that a fuzzer got accepted: nothing may panic, and every id it
// gives must be in range.
func exercise(t *testing.T, tok *Tokenizer) {
	for _, s := range []string{"", "hello world", " a  b\n", "é🦊\xff\xe2\x82", "<s>x</s>"} {
		ids, err := tok.Encode(s, true, true)
		if err != nil {
			continue
		}
		for _, id := range ids {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("Encode(%q) gave id %d of %d", s, id, tok.VocabSize())
			}
		}
		if _, err := tok.Decode(ids); err != nil {
			t.Fatal(err)
		}
	}
	all := make([]int, tok.VocabSize())
	for i := range all {
		all[i] = i
	}
	st := tok.NewStream()
	for _, id := range all {
		if _, err := st.Next(id); err != nil {
			t.Fatal(err)
		}
	}
	st.Flush()
}

func FuzzLoadLlama2c(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join(refDir, "sp.bin")); err == nil {
		f.Add(data)
	}
	f.Add(binFile(6, "<unk>", "\n<s>\n", "\n</s>\n", " ", "a", " a", "aa"))
	f.Add(binFile(0, "", "", ""))
	f.Add([]byte{0x0A, 0x0B, 0x0A, 0x05, '<', 'u', 'n', 'k', '>'})
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseLlama2c(data, "fuzz.bin", 0)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.bin") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if tok.VocabSize() < 3 || tok.BOS() != 1 || tok.EOS() != 2 {
			t.Fatalf("accepted vocab %d, BOS %d, EOS %d", tok.VocabSize(), tok.BOS(), tok.EOS())
		}
		exercise(t, tok)
		out, err := tok.MarshalLlama2c()
		if err != nil {
			return // not run.c's layout: fine to read, not to write
		}
		again, err := ParseLlama2c(out, "again.bin", tok.VocabSize())
		if err != nil {
			t.Fatalf("written back and unreadable: %v", err)
		}
		for id := range tok.pieces {
			if again.pieces[id] != tok.pieces[id] || math.Float32bits(again.scores[id]) != math.Float32bits(tok.scores[id]) {
				t.Fatalf("token %d changed writing back", id)
			}
		}
	})
}

func FuzzLoadJSON(f *testing.F) {
	for _, name := range []string{"sp.json", "sp-metaspace.json", "gpt2.json"} {
		if data, err := os.ReadFile(filepath.Join(refDir, name)); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(tinyJSON(nil)))
	f.Add([]byte(tinyJSON(map[string]string{"pre": `{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}`})))
	f.Add([]byte(tinyJSON(map[string]string{"pre": `{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "` +
		strings.ReplaceAll(strings.ReplaceAll(Llama3Pattern, `\`, `\\`), `"`, `\"`) + `"}, "behavior": "Isolated"}, {"type": "ByteLevel", "use_regex": false}]}`})))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseJSON(data, "fuzz.json")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		exercise(t, tok)
		out, err := tok.TokenizerJSON()
		if err != nil {
			return // pieces JSON cannot hold
		}
		again, err := ParseJSON(out, "again.json")
		if err != nil {
			t.Fatalf("written back and unreadable: %v\n%s", err, out)
		}
		for _, s := range []string{"hello world", "a\tb  c\n", "é🦊"} {
			a, err1 := tok.Encode(s, true, true)
			b, err2 := again.Encode(s, true, true)
			if (err1 == nil) != (err2 == nil) || !equalInts(a, b) {
				t.Fatalf("%q: %v (%v) before writing back, %v (%v) after", s, a, err1, b, err2)
			}
		}
	})
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzEncode: Decode(Encode(s)) == s. For tokenizer.bin, for any bytes; for tokenizer.json in
// both families, for any text without an added token's content (which becomes that token) and,
// in the SentencePiece family, without "▁" (which stands for a space there). Streaming after
// BOS gives the same text, and the SentencePiece vocabulary encodes valid UTF-8 the same through
// tokenizer.bin (run.c's merges by score) and tokenizer.json (Hugging Face's merges by rank).
func FuzzEncode(f *testing.F) {
	bin := mustLoad(f, "sp.bin")
	spj := mustLoad(f, "sp.json")
	gpt2 := mustLoad(f, "gpt2.json")
	l3 := mustLoad(f, "llama3.json")
	for _, s := range []string{"", " ", "Hello world", "  a  b\t\n", "café 日本 🦊", "\xff\xe2\x82", "I'M it's 12345",
		"\u00a0\u3000x", "e\u0301", "aaaaaaaaaaaa", "\x00", "▁x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		specials := strings.Contains(s, "<s>") || strings.Contains(s, "</s>") || strings.Contains(s, "<unk>") || strings.Contains(s, "<|")
		type check struct {
			tok  *Tokenizer
			skip bool
		}
		for _, c := range []check{{bin, false}, {spj, specials || strings.Contains(s, "▁")}, {gpt2, specials}, {l3, specials}} {
			if c.skip {
				continue
			}
			ids, err := c.tok.Encode(s, true, false)
			if err != nil {
				t.Fatalf("%s: Encode(%q): %v", c.tok.src, s, err)
			}
			back, err := c.tok.Decode(ids)
			if err != nil || back != s {
				t.Fatalf("%s: Decode(Encode(%q)) = %q (%v); ids %v", c.tok.src, s, back, err, ids)
			}
			st := c.tok.NewStream()
			var b bytes.Buffer
			for _, id := range ids {
				piece, err := st.Next(id)
				if err != nil {
					t.Fatal(err)
				}
				if utf8.ValidString(s) && !utf8.ValidString(piece) {
					t.Fatalf("%s: stream gave a broken sequence %q for valid %q", c.tok.src, piece, s)
				}
				b.WriteString(piece)
			}
			b.WriteString(st.Flush())
			if b.String() != s {
				t.Fatalf("%s: stream of Encode(%q) = %q", c.tok.src, s, b.String())
			}
		}
		if !specials && !strings.Contains(s, "▁") && utf8.ValidString(s) { // run.c groups invalid UTF-8 its own way
			a, _ := bin.Encode(s, false, false)
			b, _ := spj.Encode(s, false, false)
			if !equalInts(a, b) {
				t.Fatalf("%q: tokenizer.bin (merges by score) %v, tokenizer.json (by rank) %v", s, a, b)
			}
		}
	})
}
