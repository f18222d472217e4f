package tokenizer

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// binFile builds a tokenizer.bin: header, then (score, piece) entries.
func binFile(maxLen int32, pieces ...string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(maxLen))
	for i, p := range pieces {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(-float32(i)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

func TestLlama2cBadFiles(t *testing.T) {
	good := binFile(6, "<unk>", "\n<s>\n", "\n</s>\n", "a", "b", "ab")
	if tok, err := ParseLlama2c(good, "good.bin", 6); err != nil || tok.VocabSize() != 6 {
		t.Fatalf("good file: %v", err)
	}
	neg := binary.LittleEndian.AppendUint32(nil, 0xFFFFFFFF)
	long := binFile(6, "<unk>", "\n<s>\n", "\n</s>\n")
	long = binary.LittleEndian.AppendUint32(long, 0)
	long = binary.LittleEndian.AppendUint32(long, 1<<30) // a length far past the end
	long = append(long, "abc"...)
	negLen := binFile(6, "<unk>", "\n<s>\n", "\n</s>\n")
	negLen = binary.LittleEndian.AppendUint32(negLen, 0)
	negLen = binary.LittleEndian.AppendUint32(negLen, 0x80000000)
	for _, c := range []struct {
		name string
		data []byte
		n    int
		want string
	}{
		{"empty", nil, 0, "too short"},
		{"header", []byte{1, 0}, 0, "too short"},
		{"negative max", neg, 0, "negative"},
		{"too long", long, 0, "token 3: length 1073741824, but only 3 bytes left"},
		{"negative length", negLen, 0, "token 3: negative length"},
		{"over max", binFile(2, "<unk>", "\n<s>\n"), 0, "token 0: length 5 exceeds max_token_length 2"},
		{"cut entry", good[:len(good)-2], 0, "token 5: length 2, but only 0 bytes left"},
		{"cut header", good[:len(good)-5], 0, "token 5: 5 bytes left"},
		{"fewer", good, 7, "6 tokens, but the model's vocab_size is 7"},
		{"more", good, 5, "more than the 5 tokens expected"},
		{"two tokens", binFile(6, "<unk>", "\n<s>\n"), 0, "2 tokens; llama2.c needs"},
		{"protobuf", []byte{0x0A, 0x0B, 0x0A, 0x05, '<', 'u', 'n', 'k', '>', 0x15, 0, 0, 0, 0}, 0, "SentencePiece tokenizer.model"},
	} {
		_, err := ParseLlama2c(c.data, c.name+".bin", c.n)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.name+".bin") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (want %q)", c.name, err, c.want)
		}
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.bin")); err == nil || !strings.Contains(err.Error(), "missing.bin") {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no tokenizer.json or tokenizer.bin") {
		t.Fatalf("empty folder: %v", err)
	}
	data, _ := os.ReadFile(filepath.Join(refDir, "sp.bin"))
	os.WriteFile(filepath.Join(dir, "tokenizer.bin"), data, 0o644)
	tok, err := Load(dir)
	if err != nil || tok.VocabSize() != 512 || tok.ByteLevel() {
		t.Fatalf("folder with tokenizer.bin: %v", err)
	}
	if _, err := LoadLlama2c(filepath.Join(dir, "tokenizer.bin"), 32000); err == nil || !strings.Contains(err.Error(), "512 tokens, but the model's vocab_size is 32000") {
		t.Fatalf("vocab size check: %v", err)
	}
	if _, err := LoadLlama2c(filepath.Join(dir, "tokenizer.bin"), 512); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(filepath.Join(refDir, "gpt2.json"))
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), append([]byte("\n  "), data...), 0o644)
	if tok, err = Load(dir); err != nil || !tok.ByteLevel() { // tokenizer.json first
		t.Fatalf("folder with tokenizer.json: %v", err)
	}
	if _, err := LoadJSON(filepath.Join(dir, "tokenizer.bin")); err == nil || !errors.Is(err, ErrFormat) {
		t.Fatalf("tokenizer.bin as JSON: %v", err)
	}
}

// Writing requires run.c's layout.
func TestWriteLlama2cLayout(t *testing.T) {
	tok, err := ParseLlama2c(binFile(6, "<unk>", "\n<s>\n", "\n</s>\n", "a"), "tiny.bin", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.MarshalLlama2c(); err == nil || !strings.Contains(err.Error(), "byte tokens") {
		t.Fatalf("no byte tokens: %v", err)
	}
	// Without byte tokens, an unknown character is <unk> (id 0).
	ids, err := tok.Encode("ab", true, false)
	if err != nil || len(ids) != 4 || ids[0] != 1 || ids[3] != 0 {
		t.Fatalf("Encode: %v %v", ids, err)
	}
	// A failed write leaves no file.
	dir := t.TempDir()
	if err := tok.WriteLlama2c(filepath.Join(dir, "t.bin")); err == nil {
		t.Fatal("written")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
	if err := mustLoad(t, "sp.bin").WriteLlama2c(filepath.Join(dir, "no", "such", "t.bin")); err == nil {
		t.Fatal("written into a missing folder")
	}
}
