package tokenizer

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The fixtures of reference/make_tokenizer_fixtures.py (see its docstring and
// reference/README.md): tokenizers made from a SentencePiece model and a reference byte-level
// BPE, and the ids sentencepiece, a port of run.c, and the Python references give for each case.
const refDir = "../testdata/ref/tokenizer"

type refCase struct {
	Name     string `json:"name"`
	Text     *string
	Hex      string
	SP       []int  `json:"sp"`
	SPDecode string `json:"sp_decode"`
	Llama2c  []int  `json:"llama2c"`
	HF       *[]int `json:"hf"`
	Meta     *[]int `json:"hf_metaspace"`
	First    *[]int `json:"hf_metaspace_first"`
	GPT2     []int  `json:"gpt2"`
	Llama3   []int  `json:"llama3"`
	raw      string // the bytes to encode
	valid    bool
	specials bool // holds an added token's content
	_        struct{}
}

func loadCases(t *testing.T) []refCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(refDir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for i := range doc.Cases {
		c := &doc.Cases[i]
		if c.Text != nil {
			c.raw, c.valid = *c.Text, true
		} else {
			b, err := hex.DecodeString(c.Hex)
			if err != nil {
				t.Fatal(err)
			}
			c.raw = string(b)
		}
		for _, s := range []string{"<s>", "</s>", "<unk>", "<|"} {
			c.specials = c.specials || strings.Contains(c.raw, s)
		}
	}
	if len(doc.Cases) < 40 {
		t.Fatalf("%d cases", len(doc.Cases))
	}
	return doc.Cases
}

func mustLoad(t testing.TB, name string) *Tokenizer {
	t.Helper()
	tok, err := Load(filepath.Join(refDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func encodeIDs(t *testing.T, tok *Tokenizer, s string) []int {
	t.Helper()
	ids, err := tok.Encode(s, false, false)
	if err != nil {
		t.Fatalf("Encode(%q): %v", s, err)
	}
	if ids == nil {
		ids = []int{}
	}
	return ids
}

func TestReferenceSentencePiece(t *testing.T) {
	cases := loadCases(t)
	bin := mustLoad(t, "sp.bin")
	js := mustLoad(t, "sp.json")
	meta := mustLoad(t, "sp-metaspace.json")
	first := mustLoad(t, "sp-metaspace-first.json")
	if bin.VocabSize() != 512 || js.VocabSize() != 512 || bin.BOS() != 1 || bin.EOS() != 2 || js.BOS() != 1 || js.EOS() != 2 {
		t.Fatalf("vocab %d/%d, BOS %d/%d, EOS %d/%d", bin.VocabSize(), js.VocabSize(), bin.BOS(), js.BOS(), bin.EOS(), js.EOS())
	}
	checked, spAgree := 0, 0
	for _, c := range cases {
		// tokenizer.bin: run.c's ids for every case; sentencepiece's too for valid UTF-8.
		got := encodeIDs(t, bin, c.raw)
		if !reflect.DeepEqual(got, c.Llama2c) {
			t.Errorf("%s: sp.bin gives %v, run.c %v", c.Name, got, c.Llama2c)
		}
		if c.valid {
			if !reflect.DeepEqual(got, c.SP) {
				t.Errorf("%s: sp.bin gives %v, sentencepiece %v", c.Name, got, c.SP)
			}
			spAgree++
		}
		// tokenizer.json: Hugging Face's ids (for invalid UTF-8, the reference's analogue).
		got = encodeIDs(t, js, c.raw)
		if !reflect.DeepEqual(got, *c.HF) {
			t.Errorf("%s: sp.json gives %v, want %v", c.Name, got, *c.HF)
		}
		if c.valid {
			if got := encodeIDs(t, meta, c.raw); !reflect.DeepEqual(got, *c.Meta) {
				t.Errorf("%s: sp-metaspace.json gives %v, want %v", c.Name, got, *c.Meta)
			}
			if got := encodeIDs(t, first, c.raw); !reflect.DeepEqual(got, *c.First) {
				t.Errorf("%s: sp-metaspace-first.json gives %v, want %v", c.Name, got, *c.First)
			}
		}
		// Decoding sentencepiece's ids gives sentencepiece's text.
		for _, tok := range []*Tokenizer{bin, js} {
			if s, err := tok.Decode(c.SP); err != nil || s != c.SPDecode {
				t.Errorf("%s: %s Decode(sp) = %q, %v; sentencepiece %q", c.Name, tok.src, s, err, c.SPDecode)
			}
		}
		// Round trip, BOS and EOS.
		for _, tok := range []*Tokenizer{bin, js} {
			if c.specials && tok == js {
				continue // <s> in the text is BOS in Hugging Face's encoding
			}
			ids, err := tok.Encode(c.raw, true, true)
			if err != nil {
				t.Fatal(err)
			}
			plain := encodeIDs(t, tok, c.raw)
			if ids[0] != 1 || ids[len(ids)-1] != 2 || !reflect.DeepEqual(ids[1:len(ids)-1], plain) {
				t.Errorf("%s: %s with BOS/EOS %v, without %v", c.Name, tok.src, ids, plain)
			}
			for _, seq := range [][]int{ids, plain} {
				if s, err := tok.Decode(seq); err != nil || s != c.raw {
					t.Errorf("%s: %s Decode(Encode) = %q, %v", c.Name, tok.src, s, err)
				}
			}
		}
		checked++
	}
	t.Logf("%d cases: sp.bin = run.c on all, = sentencepiece on %d valid-UTF-8 cases; sp.json and both Metaspace forms = Hugging Face", checked, spAgree)
}

func TestReferenceByteLevel(t *testing.T) {
	cases := loadCases(t)
	gpt2 := mustLoad(t, "gpt2.json")
	l3 := mustLoad(t, "llama3.json")
	if !gpt2.ByteLevel() || !l3.ByteLevel() {
		t.Fatal("not byte-level")
	}
	if gpt2.BOS() != -1 || gpt2.EOS() != 512 || l3.BOS() != 513 || l3.EOS() != 514 {
		t.Fatalf("gpt2 BOS %d EOS %d, llama3 BOS %d EOS %d", gpt2.BOS(), gpt2.EOS(), l3.BOS(), l3.EOS())
	}
	for _, c := range cases {
		for _, x := range []struct {
			tok  *Tokenizer
			want []int
		}{{gpt2, c.GPT2}, {l3, c.Llama3}} {
			got := encodeIDs(t, x.tok, c.raw)
			if !reflect.DeepEqual(got, x.want) {
				t.Errorf("%s: %s gives %v, reference %v", c.Name, x.tok.src, got, x.want)
			}
			if c.specials {
				continue
			}
			if s, err := x.tok.Decode(got); err != nil || s != c.raw {
				t.Errorf("%s: %s Decode(Encode) = %q, %v", c.Name, x.tok.src, s, err)
			}
			ids, _ := x.tok.Encode(c.raw, true, true)
			wantLen := len(got) + 1
			if x.tok.BOS() >= 0 {
				wantLen++
			}
			if len(ids) != wantLen || ids[len(ids)-1] != x.tok.EOS() || (x.tok.BOS() >= 0 && ids[0] != x.tok.BOS()) {
				t.Errorf("%s: %s with BOS/EOS %v", c.Name, x.tok.src, ids)
			}
		}
	}
}

// The pre-tokenizers by themselves, on strings where the regexes' corners matter (the
// expectations are Python regex's findall with the same patterns).
func TestPreTokenizerSplits(t *testing.T) {
	split := func(spans [][2]int, s string) []string {
		var out []string
		for _, sp := range spans {
			out = append(out, s[sp[0]:sp[1]])
		}
		return out
	}
	for _, c := range []struct {
		s        string
		gpt2, l3 []string
	}{
		{"Hello world", []string{"Hello", " world"}, []string{"Hello", " world"}},
		{"  two", []string{" ", " two"}, []string{" ", " two"}},
		{"a  \n\n b", []string{"a", "  \n\n", " b"}, []string{"a", "  \n\n", " b"}},
		{"x   ", []string{"x", "   "}, []string{"x", "   "}},
		{"I'M it's", []string{"I", "'", "M", " it", "'s"}, []string{"I", "'M", " it", "'s"}},
		{"12345 x", []string{"12345", " x"}, []string{"123", "45", " x"}},
		{"(hello) !!\n\nok", []string{"(", "hello", ")", " !!", "\n", "\n", "ok"}, []string{"(hello", ")", " !!\n\n", "ok"}},
		{"\tfoo", []string{"\t", "foo"}, []string{"\tfoo"}},
		{"a\xffb", []string{"a", "\xff", "b"}, []string{"a", "\xffb"}},
		{"日本語 テキスト", []string{"日本語", " テキスト"}, []string{"日本語", " テキスト"}},
	} {
		if got := split(splitGPT2(c.s), c.s); !reflect.DeepEqual(got, c.gpt2) {
			t.Errorf("GPT-2 %q: %q, want %q", c.s, got, c.gpt2)
		}
		if got := split(splitLlama3(c.s, 3), c.s); !reflect.DeepEqual(got, c.l3) {
			t.Errorf("LLaMA-3 %q: %q, want %q", c.s, got, c.l3)
		}
	}
}

// Writing the fixtures back: tokenizer.bin byte for byte; tokenizer.json from tokenizer.bin
// with the vocabulary and merges transformers' converter derives; both reload to the same ids.
func TestReferenceWriteBack(t *testing.T) {
	cases := loadCases(t)
	dir := t.TempDir()
	bin := mustLoad(t, "sp.bin")
	js := mustLoad(t, "sp.json")

	want, _ := os.ReadFile(filepath.Join(refDir, "sp.bin"))
	if got, err := bin.MarshalLlama2c(); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("sp.bin written back differs (%v)", err)
	}

	// sp.bin → tokenizer.json: the same model.vocab and model.merges as the converter's.
	p := filepath.Join(dir, "from-bin.json")
	if err := bin.WriteJSON(p); err != nil {
		t.Fatal(err)
	}
	model := func(path string) (map[string]int, []string) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Model struct {
				Vocab  map[string]int `json:"vocab"`
				Merges []string       `json:"merges"`
			} `json:"model"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return f.Model.Vocab, f.Model.Merges
	}
	v1, m1 := model(p)
	v2, m2 := model(filepath.Join(refDir, "sp.json"))
	if !reflect.DeepEqual(v1, v2) || !reflect.DeepEqual(m1, m2) {
		t.Fatalf("tokenizer.json from sp.bin: %d pieces, %d merges; the converter's %d, %d (equal vocab %v)", len(v1), len(m1), len(v2), len(m2), reflect.DeepEqual(v1, v2))
	}

	// sp.json → tokenizer.bin (scores from ranks) and → tokenizer.json again.
	pb := filepath.Join(dir, "from-json.bin")
	if err := js.WriteLlama2c(pb); err != nil {
		t.Fatal(err)
	}
	pj := filepath.Join(dir, "again.json")
	if err := js.WriteJSON(pj); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{p, pb, pj} {
		tok, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			if !c.valid {
				continue
			}
			want := c.SP
			if strings.HasSuffix(path, ".json") {
				want = *c.HF
			}
			if got := encodeIDs(t, tok, c.raw); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s gives %v, want %v", c.Name, filepath.Base(path), got, want)
			}
		}
	}

	// Byte-level files written back encode the same.
	for _, name := range []string{"gpt2.json", "llama3.json"} {
		tok := mustLoad(t, name)
		p := filepath.Join(dir, name)
		if err := tok.WriteJSON(p); err != nil {
			t.Fatal(err)
		}
		again, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if again.BOS() != tok.BOS() || again.EOS() != tok.EOS() || again.VocabSize() != tok.VocabSize() {
			t.Fatalf("%s written back: BOS %d EOS %d vocab %d", name, again.BOS(), again.EOS(), again.VocabSize())
		}
		for _, c := range cases {
			if a, b := encodeIDs(t, tok, c.raw), encodeIDs(t, again, c.raw); !reflect.DeepEqual(a, b) {
				t.Errorf("%s %s: %v written back gives %v", name, c.Name, a, b)
			}
		}
	}
	if err := mustLoad(t, "gpt2.json").WriteLlama2c(filepath.Join(dir, "x.bin")); err == nil {
		t.Error("a byte-level vocabulary written as tokenizer.bin")
	}
}
