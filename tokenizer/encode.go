package tokenizer

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Encode turns text into token ids, with BOS first when bos is set and EOS last when eos is set
// (each only where the vocabulary has one: BOS() and EOS() are -1 otherwise, as Hugging Face adds
// nothing there either). text may hold any bytes, invalid UTF-8 included.
//
// tokenizer.bin and TrainBPE's vocabularies encode as llama2.c's run.c does, which is
// SentencePiece's BPE with LLaMA's options: a non-empty text gets the dummy prefix (the token of
// a space); each character is looked up as a piece, and one that is not a piece falls back to
// its bytes' tokens; then the adjacent pair whose concatenation is the piece with the highest
// score is merged, the leftmost on ties, until no pair is a piece. A space is the piece "▁" in trained vocabularies and " " in
// tokenizer.bin; special pieces written in the text ("<s>") are plain text, as in SentencePiece
// and run.c. Where run.c stops at a NUL byte, Encode treats it as any other byte.
//
// tokenizer.json encodes as Hugging Face's tokenizers does: added tokens are matched in the text
// first (leftmost-longest; their lstrip, rstrip and single_word honoured); every piece between
// them is normalized (Prepend, Replace), pre-tokenized (Metaspace, ByteLevel, Split, Digits) and
// each word encoded by the BPE model: characters (bytes mapped by bytes_to_unicode for
// byte-level vocabularies), byte fallback or <unk> for the unknown, then merges by rank.
//
// Invalid UTF-8, which Hugging Face cannot take (Python strings) and SentencePiece replaces with
// U+FFFD before encoding, is kept, so Decode gives the bytes back. In SentencePiece-style
// vocabularies each invalid byte is a character of its own that falls back to its byte token;
// tokenizer.bin groups bytes as run.c does (a byte and up to three continuation bytes, so "é"
// followed by a stray continuation byte is one unknown group, three byte tokens). In byte-level
// vocabularies each invalid byte is a character of no class for the pre-tokenizer and its
// byte's token for the model.
func (t *Tokenizer) Encode(text string, bos, eos bool) ([]int, error) {
	var syms []int32
	var err error
	if t.hf != nil {
		syms, err = t.encodeHF(text)
	} else {
		syms, err = t.encodeSentencePiece(text, bos && t.runc && t.bos >= 0)
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", t.name(), err)
	}
	out := make([]int, 0, len(syms)+2)
	if bos && t.bos >= 0 && !t.runc { // run.c's BOS is already in syms
		out = append(out, t.bos)
	}
	for _, s := range syms {
		out = append(out, int(s))
	}
	if eos && t.eos >= 0 {
		out = append(out, t.eos)
	}
	return out, nil
}

func (t *Tokenizer) name() string {
	if t.src == "" {
		return "tokenizer"
	}
	return t.src
}

// encodeSentencePiece is run.c's encode (see Encode); withBOS puts BOS in the sequence before
// merging, as run.c does.
func (t *Tokenizer) encodeSentencePiece(text string, withBOS bool) ([]int32, error) {
	syms := make([]int32, 0, len(text)+2)
	if withBOS {
		syms = append(syms, int32(t.bos))
	}
	if text != "" {
		var err error
		if syms, err = t.appendSymbol(syms, t.space, nil); err != nil {
			return nil, err
		}
		for i := 0; i < len(text); {
			j := t.groupEnd(text, i)
			g := text[i:j]
			if g == " " {
				g = t.space
			}
			if syms, err = t.appendSymbol(syms, g, nil); err != nil {
				return nil, err
			}
			i = j
		}
	}
	return t.mergeChunks(syms, &scratch{}), nil
}

// groupEnd is where the character starting at i ends. For tokenizer.bin it is run.c's code
// point: the byte at i and up to three continuation bytes (10xxxxxx) that follow it; otherwise a
// UTF-8 character, or one byte of invalid UTF-8. The two differ only on invalid UTF-8 (run.c
// takes "é" followed by a stray continuation byte as one unknown group of three bytes).
func (t *Tokenizer) groupEnd(s string, i int) int {
	if !t.runc {
		_, n := utf8.DecodeRuneInString(s[i:])
		return i + n
	}
	j := i + 1
	for j < len(s) && s[j]&0xC0 == 0x80 && j-i < 4 {
		j++
	}
	return j
}

// appendSymbol appends the token of piece g, or, when g is not a piece, its bytes' tokens (byte
// fallback), or <unk> where a byte has no token (fused with a preceding <unk> when the tokenizer
// fuses them and *unkRun says the last symbol was one).
func (t *Tokenizer) appendSymbol(syms []int32, g string, unkRun *bool) ([]int32, error) {
	if id, ok := t.index[g]; ok {
		if unkRun != nil {
			*unkRun = false
		}
		return append(syms, id), nil
	}
	all := t.family == sentencePiece
	for k := 0; k < len(g) && all; k++ {
		all = t.byteTok[g[k]] >= 0
	}
	if all {
		for k := 0; k < len(g); k++ {
			syms = append(syms, t.byteTok[g[k]])
		}
		if unkRun != nil {
			*unkRun = false
		}
		return syms, nil
	}
	if t.unk < 0 {
		return nil, fmt.Errorf("%q is not in the vocabulary, has no byte tokens, and there is no <unk>", g)
	}
	if unkRun != nil {
		if *unkRun && t.fuseUnk {
			return syms, nil
		}
		*unkRun = true
	}
	return append(syms, int32(t.unk)), nil
}

// encodeHF is Hugging Face's pipeline (see Encode).
func (t *Tokenizer) encodeHF(text string) ([]int32, error) {
	p := t.hf
	var out []int32
	var err error
	sc := &scratch{}
	for _, seg := range p.splitAdded(text, false, 0) {
		if seg.id >= 0 {
			out = append(out, seg.id)
			continue
		}
		norm := p.normalize(seg.text)
		for _, s2 := range p.splitAdded(norm, true, seg.offset) {
			if s2.id >= 0 {
				out = append(out, s2.id)
				continue
			}
			if s2.text == "" {
				continue
			}
			for _, w := range p.preTokenize(s2.text, s2.offset == 0) {
				if out, err = t.encodeWord(out, w, sc); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// encodeWord appends the BPE model's tokens for one pre-tokenized word.
func (t *Tokenizer) encodeWord(out []int32, w string, sc *scratch) ([]int32, error) {
	if w == "" {
		return out, nil
	}
	start := len(out)
	var err error
	unkRun := false
	if t.family == byteLevel {
		if t.ignoreMerges {
			if id, ok := t.index[toByteLevel(w)]; ok {
				return append(out, id), nil
			}
		}
		for k := 0; k < len(w); k++ {
			if id := t.hf.byteID[w[k]]; id >= 0 {
				out = append(out, id)
				unkRun = false
				continue
			}
			if out, err = t.appendSymbol(out, string(byteToRune[w[k]]), &unkRun); err != nil {
				return nil, err
			}
		}
	} else {
		if t.ignoreMerges {
			if id, ok := t.index[w]; ok {
				return append(out, id), nil
			}
		}
		for i := 0; i < len(w); {
			j := t.groupEnd(w, i)
			if out, err = t.appendSymbol(out, w[i:j], &unkRun); err != nil {
				return nil, err
			}
			i = j
		}
	}
	merged := t.mergeChunks(out[start:], sc)
	return out[:start+len(merged)], nil
}

// toByteLevel maps every byte of s to its bytes_to_unicode character.
func toByteLevel(s string) string {
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteRune(byteToRune[s[i]])
	}
	return b.String()
}
