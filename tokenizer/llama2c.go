package tokenizer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// llama2.c's tokenizer.bin, as tokenizer.py writes it and run.c's build_tokenizer reads it
// (little-endian):
//
//	int32 max_token_length                 the longest piece, in bytes
//	vocab_size × { float32 score; int32 len; len bytes }
//
// vocab_size is not stored (it is in the model's header): the file is read to its end.

// LoadLlama2c reads llama2.c's tokenizer.bin. vocabSize > 0 requires exactly that many tokens
// (the model header's vocab_size); 0 takes every token up to the end of the file.
func LoadLlama2c(path string, vocabSize int) (*Tokenizer, error) {
	data, err := readCapped(path, maxBinFile)
	if err != nil {
		return nil, err
	}
	return parseLlama2c(data, path, vocabSize)
}

// ParseLlama2c parses the content of a tokenizer.bin (see LoadLlama2c); name is used in errors.
func ParseLlama2c(data []byte, name string, vocabSize int) (*Tokenizer, error) {
	return parseLlama2c(data, name, vocabSize)
}

func parseLlama2c(data []byte, name string, vocabSize int) (*Tokenizer, error) {
	hint := ""
	if len(data) > 1 && data[0] == 0x0A && data[1] != 0 {
		hint = " (this looks like a SentencePiece tokenizer.model: export it with llama2.c's tokenizer.py, or use tokenizer.json)"
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("tokenizer: %s: %s%s: %w", name, fmt.Sprintf(format, args...), hint, ErrFormat)
	}
	if len(data) < 4 {
		return nil, bad("%d bytes, too short for tokenizer.bin's header (int32 max_token_length)", len(data))
	}
	maxLen := int64(int32(binary.LittleEndian.Uint32(data)))
	if maxLen < 0 {
		return nil, bad("max_token_length %d is negative", maxLen)
	}
	t := &Tokenizer{src: name, family: sentencePiece, space: " ", runc: true, bos: 1, eos: 2, unk: 0,
		stripBOS: true, maxTokLen: int(maxLen)}
	off := 4
	for off < len(data) {
		i := len(t.pieces)
		if vocabSize > 0 && i == vocabSize {
			return nil, bad("more than the %d tokens expected (%d bytes left after token %d)", vocabSize, len(data)-off, i-1)
		}
		if i >= maxVocab {
			return nil, bad("more than %d tokens", maxVocab)
		}
		if len(data)-off < 8 {
			return nil, bad("token %d: %d bytes left, too few for its score and length", i, len(data)-off)
		}
		score := math.Float32frombits(binary.LittleEndian.Uint32(data[off:]))
		n := int64(int32(binary.LittleEndian.Uint32(data[off+4:])))
		off += 8
		switch {
		case n < 0:
			return nil, bad("token %d: negative length %d", i, n)
		case n > int64(len(data)-off):
			return nil, bad("token %d: length %d, but only %d bytes left", i, n, len(data)-off)
		case n > maxLen:
			return nil, bad("token %d: length %d exceeds max_token_length %d", i, n, maxLen)
		}
		t.pieces = append(t.pieces, string(data[off:off+int(n)]))
		t.scores = append(t.scores, score)
		off += int(n)
	}
	if vocabSize > 0 && len(t.pieces) != vocabSize {
		return nil, bad("%d tokens, but the model's vocab_size is %d", len(t.pieces), vocabSize)
	}
	if len(t.pieces) < 3 {
		return nil, bad("%d tokens; llama2.c needs at least <unk>, BOS (1) and EOS (2)", len(t.pieces))
	}
	t.kinds = make([]uint8, len(t.pieces))
	for id := 0; id < 3; id++ {
		t.kinds[id] = kindControl
	}
	t.finishIndex()
	// run.c's byte fallback is id byte+3; use it where the file has the byte's piece there.
	for b := range t.byteTok {
		if id := b + 3; id < len(t.pieces) && t.pieces[id] == bytePiece(byte(b)) {
			t.byteTok[b] = int32(id)
		}
	}
	t.scorePairs()
	t.finish()
	return t, nil
}

// MarshalLlama2c encodes the tokenizer as llama2.c's tokenizer.bin (see WriteLlama2c).
func (t *Tokenizer) MarshalLlama2c() ([]byte, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("tokenizer: tokenizer.bin: %s", fmt.Sprintf(format, args...))
	}
	if t.family != sentencePiece {
		return nil, fail("llama2.c's run.c encodes SentencePiece-style vocabularies only, not byte-level BPE")
	}
	if t.bos != 1 || t.eos != 2 {
		return nil, fail("run.c needs BOS 1 and EOS 2, this vocabulary has %d and %d", t.bos, t.eos)
	}
	for b := 0; b < 256; b++ {
		if id := b + 3; id >= len(t.pieces) || t.pieces[id] != bytePiece(byte(b)) {
			return nil, fail("run.c needs the byte tokens <0x00>..<0xFF> at ids 3..258 (id %d is not %s)", id, bytePiece(byte(b)))
		}
	}
	if !t.stripBOS {
		return nil, fail("run.c always adds a dummy prefix; this vocabulary has none")
	}
	scores := t.scores
	if scores == nil {
		scores = t.rankScores()
	}
	pieces := make([][]byte, len(t.pieces))
	maxLen := 0
	for id, p := range t.pieces {
		switch {
		case id == t.bos:
			p = "\n<s>\n"
		case id == t.eos:
			p = "\n</s>\n"
		case t.space != " ":
			p = strings.ReplaceAll(p, t.space, " ")
		}
		pieces[id] = []byte(p)
		maxLen = max(maxLen, len(p))
	}
	var buf bytes.Buffer
	buf.Grow(4 + 8*len(pieces) + maxLen*len(pieces)/4)
	var w [8]byte
	binary.LittleEndian.PutUint32(w[:4], uint32(maxLen))
	buf.Write(w[:4])
	for id, p := range pieces {
		binary.LittleEndian.PutUint32(w[:4], math.Float32bits(scores[id]))
		binary.LittleEndian.PutUint32(w[4:], uint32(len(p)))
		buf.Write(w[:])
		buf.Write(p)
	}
	return buf.Bytes(), nil
}

// WriteLlama2c writes the tokenizer as llama2.c's tokenizer.bin, atomically (a temporary file
// beside path, synced and renamed over it), as tokenizer.py does: pieces with the space symbol
// "▁" written as " ", BOS as "\n<s>\n", EOS as "\n</s>\n". The vocabulary must be
// SentencePiece-style with run.c's layout (<unk> 0, BOS 1, EOS 2, the bytes at 3..258). Scores
// are the vocabulary's own; a tokenizer.json has none, so each piece gets minus the rank of the
// first merge that makes it (other text pieces -1e10, which run.c never merges into; control
// and byte tokens 0): run.c then encodes as the merges do wherever every split of a merged piece
// into two pieces is itself a merge, as in vocabularies converted from SentencePiece.
func (t *Tokenizer) WriteLlama2c(path string) error {
	data, err := t.MarshalLlama2c()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

// rankScores derives llama2.c scores from merge ranks (see WriteLlama2c).
func (t *Tokenizer) rankScores() []float32 {
	scores := make([]float32, len(t.pieces))
	for id := range scores {
		if t.kinds[id] == kindText {
			scores[id] = -1e10
		}
	}
	done := make([]bool, len(t.pieces))
	for r, m := range t.merges {
		id := t.pairs[pairKey(m[0], m[1])].id
		if !done[id] {
			done[id] = true
			scores[id] = -float32(r)
		}
	}
	return scores
}
