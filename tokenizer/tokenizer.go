// Package tokenizer turns text into token ids and back for LLaMA-style language models.
//
// It reads the two files such models ship with:
//
//   - llama2.c's tokenizer.bin (Karpathy's llama2.c, tokenizer.py and run.c): a little-endian
//     int32 max_token_length, then per token a float32 score, an int32 byte length and the
//     piece's bytes, until the end of the file (the count is the model's vocab_size, not stored
//     here). Pieces are SentencePiece pieces with "▁" written as a space; BOS is id 1 (piece
//     "\n<s>\n"), EOS id 2 ("\n</s>\n"), and ids 3..258 are the byte tokens "<0x00>".."<0xFF>".
//   - Hugging Face's tokenizer.json with a BPE model, in both families in use: SentencePiece-style
//     BPE with byte fallback (LLaMA-2, TinyLlama: pieces with "▁" for a space,
//     "<0xE2>"-style byte tokens for characters outside the vocabulary) and byte-level BPE
//     (GPT-2, LLaMA-3: every byte mapped to a printable character by GPT-2's bytes_to_unicode,
//     text split first by a pre-tokenizer regex).
//
// Encoding follows each format's reference exactly (see Encode): run.c's encode for
// tokenizer.bin, which is SentencePiece's BPE (merge the adjacent pair whose concatenation is
// the highest-scoring piece), and Hugging Face's pipeline for tokenizer.json (added tokens,
// normalizer, pre-tokenizer, then merges by rank). The agreement is checked against
// sentencepiece, a port of run.c, Hugging Face's tokenizers and a reference byte-level BPE on
// the fixtures of reference/make_tokenizer_fixtures.py (testdata/ref/tokenizer).
//
// TrainBPE trains a small SentencePiece-style vocabulary, which WriteLlama2c and WriteJSON save
// in either format. A Tokenizer is immutable once made (SetBOS and SetEOS aside) and safe for
// concurrent use; a Stream is not.
package tokenizer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ErrFormat is wrapped by every error about a malformed or unsupported tokenizer file.
var ErrFormat = errors.New("malformed tokenizer file")

// family is how pieces map to text.
type family uint8

const (
	// sentencePiece: pieces are text with a space symbol ("▁", or " " in llama2.c files) and
	// byte-fallback tokens "<0xXX>".
	sentencePiece family = iota
	// byteLevel: pieces are GPT-2 byte-to-unicode strings.
	byteLevel
)

// Token kinds, for decoding.
const (
	kindText    uint8 = iota // decodes to its surface
	kindByte                 // a byte-fallback token: one raw byte
	kindControl              // BOS, EOS, <unk> and other special tokens: decode to nothing
)

// Tokenizer encodes text to token ids and decodes them back. Make one with Load, LoadLlama2c,
// LoadJSON, ParseLlama2c, ParseJSON or TrainBPE.
type Tokenizer struct {
	src    string // where it came from, for messages
	family family
	pieces []string  // as stored: llama2.c bytes, or the vocabulary strings of tokenizer.json
	scores []float32 // per id; nil when the vocabulary has no scores (tokenizer.json)
	index  map[string]int32
	canon  []int32 // per id: the lowest id with the same piece (what a lookup returns)

	// pairs maps (left, right) canonical ids to what they merge into. For score-ordered
	// vocabularies (llama2.c, TrainBPE) it holds every split of every piece into two pieces with
	// the merged piece's score as priority; for tokenizer.json, the merges with -rank.
	pairs map[uint64]pairMerge
	runc  bool // llama2.c's encode: BOS takes part in the merging

	// For mergeChunks: where a long symbol sequence may be cut before merging.
	adjacent            map[uint64]struct{}
	firstRune, lastRune []rune

	bos, eos, unk int
	fuseUnk       bool
	byteTok       [256]int32 // sentencePiece: the byte-fallback token of each byte, -1 if none
	space         string     // sentencePiece: what a space is in pieces ("▁" or " ")
	hf            *pipeline  // tokenizer.json: added tokens, normalizer, pre-tokenizer
	ignoreMerges  bool

	surface   []string // per id: the bytes it decodes to
	kinds     []uint8
	stripBOS  bool // sentencePiece with a dummy prefix: a piece after BOS (or first) drops a leading space
	maxTokLen int  // llama2.c's max_token_length as read

	merges [][2]int32 // tokenizer.json's merges in rank order, for WriteJSON
	keep   *jsonKeep  // tokenizer.json sections written back verbatim
}

type pairMerge struct {
	id  int32
	pri float64 // higher merges first
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// VocabSize is the number of token ids: every id in [0, VocabSize()) has a piece.
func (t *Tokenizer) VocabSize() int { return len(t.pieces) }

// BOS is the beginning-of-sequence token id, or -1 when the vocabulary has none.
func (t *Tokenizer) BOS() int { return t.bos }

// EOS is the end-of-sequence token id, or -1 when the vocabulary has none.
func (t *Tokenizer) EOS() int { return t.eos }

// Unk is the unknown token id, or -1 when the vocabulary has none.
func (t *Tokenizer) Unk() int { return t.unk }

// Piece is token id's piece as the file stores it ("▁the" or "Ġthe" in tokenizer.json, " the"
// in tokenizer.bin, "\n<s>\n" for llama2.c's BOS), or "" for an id out of range.
func (t *Tokenizer) Piece(id int) string {
	if id < 0 || id >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// Score is token id's score (llama2.c files and trained vocabularies; 0 otherwise).
func (t *Tokenizer) Score(id int) float32 {
	if t.scores == nil || id < 0 || id >= len(t.scores) {
		return 0
	}
	return t.scores[id]
}

// ID is the id of the token whose piece is exactly piece (the lowest, if several), or -1.
func (t *Tokenizer) ID(piece string) int {
	if id, ok := t.index[piece]; ok {
		return int(id)
	}
	return -1
}

// IsSpecial reports whether id is a control token (BOS, EOS, <unk>, a special added token),
// which Decode and Stream render as nothing.
func (t *Tokenizer) IsSpecial(id int) bool {
	return id >= 0 && id < len(t.kinds) && t.kinds[id] == kindControl
}

// ByteLevel reports whether the vocabulary is byte-level BPE (GPT-2, LLaMA-3) rather than
// SentencePiece-style.
func (t *Tokenizer) ByteLevel() bool { return t.family == byteLevel }

// SetBOS overrides the BOS id (from a model's config, say); -1 removes it. The id becomes a
// control token. Not safe while other goroutines use t.
func (t *Tokenizer) SetBOS(id int) error { return t.setSpecial(&t.bos, id, "BOS") }

// SetEOS overrides the EOS id; -1 removes it.
func (t *Tokenizer) SetEOS(id int) error { return t.setSpecial(&t.eos, id, "EOS") }

func (t *Tokenizer) setSpecial(dst *int, id int, what string) error {
	if id < -1 || id >= len(t.pieces) {
		return fmt.Errorf("tokenizer: %s id %d outside the vocabulary of %d", what, id, len(t.pieces))
	}
	*dst = id
	if id >= 0 {
		t.kinds[id] = kindControl
		t.surface[id] = ""
	}
	return nil
}

// Maximum sizes Load reads, so that a corrupt or hostile file cannot exhaust memory.
const (
	maxBinFile  = 64 << 20  // tokenizer.bin (LLaMA-3's 128k vocabulary is about 2 MB)
	maxJSONFile = 256 << 20 // tokenizer.json (the largest in use are tens of MB)
	maxVocab    = 1 << 24
)

// Load reads a tokenizer file, telling the format by content: a file whose first non-blank
// byte is '{' is tokenizer.json, anything else llama2.c's tokenizer.bin. A folder is searched
// for tokenizer.json, then tokenizer.bin.
func Load(path string) (*Tokenizer, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		for _, name := range []string{"tokenizer.json", "tokenizer.bin"} {
			p := filepath.Join(path, name)
			if _, err := os.Stat(p); err == nil {
				return Load(p)
			}
		}
		return nil, fmt.Errorf("tokenizer: %s: no tokenizer.json or tokenizer.bin in the folder", path)
	}
	data, err := readCapped(path, maxJSONFile)
	if err != nil {
		return nil, err
	}
	for _, c := range data {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		if c == '{' {
			return parseJSON(data, path)
		}
		break
	}
	if len(data) > maxBinFile {
		return nil, fmt.Errorf("tokenizer: %s: %d bytes is too large for a tokenizer.bin (limit %d): %w", path, len(data), maxBinFile, ErrFormat)
	}
	return parseLlama2c(data, path, 0)
}

// readCapped reads a file of at most limit bytes.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("tokenizer: %s: larger than the %d bytes a tokenizer may have: %w", path, limit, ErrFormat)
	}
	return data, nil
}

// finishIndex builds the lookup tables of llama2.c and trained vocabularies: index (empty pieces
// are never looked up), canon, byte tokens.
func (t *Tokenizer) finishIndex() {
	t.index = make(map[string]int32, len(t.pieces))
	t.canon = make([]int32, len(t.pieces))
	for i, p := range t.pieces {
		if p == "" {
			t.canon[i] = int32(i)
			continue
		}
		if j, ok := t.index[p]; ok {
			t.canon[i] = j
			continue
		}
		t.index[p] = int32(i)
		t.canon[i] = int32(i)
	}
	for b := range t.byteTok {
		t.byteTok[b] = -1
		if id, ok := t.index[bytePiece(byte(b))]; ok {
			t.byteTok[b] = id
		}
	}
}

// bytePiece is the byte-fallback piece of b: "<0x0A>".
func bytePiece(b byte) string {
	const hex = "0123456789ABCDEF"
	return string([]byte{'<', '0', 'x', hex[b>>4], hex[b&15], '>'})
}

// parseBytePiece reports the byte of a piece "<0xXX>" (hex digits of either case).
func parseBytePiece(p string) (byte, bool) {
	if len(p) != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>' {
		return 0, false
	}
	hi, ok1 := unhex(p[3])
	lo, ok2 := unhex(p[4])
	return hi<<4 | lo, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// scorePairs fills t.pairs for a score-ordered vocabulary: every way of writing a piece as the
// concatenation of two pieces (split at any byte) merges into it with the piece's score, as
// run.c's and SentencePiece's lookups of concatenations do. As in run.c, a piece scoring at or
// below -1e10 (or NaN) is never merged into.
func (t *Tokenizer) scorePairs() {
	t.pairs = make(map[uint64]pairMerge)
	for id, p := range t.pieces {
		if t.canon[id] != int32(id) {
			continue
		}
		s := t.scores[id]
		if !(s > -1e10) {
			continue
		}
		for k := 1; k < len(p); k++ {
			l, ok1 := t.index[p[:k]]
			r, ok2 := t.index[p[k:]]
			if ok1 && ok2 {
				t.pairs[pairKey(l, r)] = pairMerge{id: int32(id), pri: float64(s)}
			}
		}
	}
}

// finishSurface sets what every id decodes to: control tokens nothing, byte-fallback tokens
// their byte, byte-level pieces their bytes, other pieces their text with the space symbol
// read as a space.
func (t *Tokenizer) finishSurface() {
	t.surface = make([]string, len(t.pieces))
	for id, p := range t.pieces {
		switch {
		case t.kinds[id] == kindControl:
		case t.family == byteLevel:
			t.surface[id], _ = fromByteLevel(p)
		default:
			if b, ok := parseBytePiece(p); ok && t.byteTok[b] >= 0 {
				t.kinds[id] = kindByte
				t.surface[id] = string([]byte{b})
				continue
			}
			if t.space != " " && t.space != "" {
				p = strings.ReplaceAll(p, t.space, " ")
			}
			t.surface[id] = p
		}
	}
}

// finish builds the tables every constructor ends with: what ids decode to, and where long
// sequences may be cut for merging.
func (t *Tokenizer) finish() {
	t.finishSurface()
	t.buildAdjacency()
}
