package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// WriteJSON writes the tokenizer as a Hugging Face tokenizer.json, atomically (a temporary file
// beside path, synced and renamed over it).
//
// A tokenizer read from tokenizer.json is written back with its normalizer, pre-tokenizer,
// post-processor, decoder and added tokens as they were, and its vocabulary and merges (in the
// form it had: "a b" or ["a", "b"]). A llama2.c or trained vocabulary is written as
// transformers' LlamaConverter writes LLaMA-2's: normalizer Prepend("▁") + Replace(" ", "▁"),
// BPE with byte_fallback and fuse_unk, <unk>/<s>/</s> as special added tokens, BOS added by a
// TemplateProcessing, and the merges SentencePieceExtractor derives from scores: every way of
// splitting a piece into two pieces, ordered by the piece's score (highest first), then by the
// two halves' ids. Merges are written "a b" unless a piece holds a space.
func (t *Tokenizer) WriteJSON(path string) error {
	data, err := t.TokenizerJSON()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

// TokenizerJSON is the content WriteJSON writes.
func (t *Tokenizer) TokenizerJSON() ([]byte, error) {
	k := t.keep
	var pieces []string // model.vocab by id ("" and skipped where not in it)
	var inVocab []bool
	var merges [][2]int32
	if k == nil {
		if t.family != sentencePiece {
			return nil, fmt.Errorf("tokenizer: tokenizer.json: cannot write a byte-level vocabulary not read from tokenizer.json")
		}
		var err error
		if pieces, err = t.llamaPieces(); err != nil {
			return nil, err
		}
		inVocab = make([]bool, len(pieces))
		for i := range inVocab {
			inVocab[i] = true
		}
		merges = extractMerges(pieces, t.scores)
		k = t.llamaSections(pieces)
	} else {
		pieces, inVocab, merges = t.pieces, k.inVocab, t.merges
	}
	for id, p := range pieces {
		if inVocab[id] && !utf8.ValidString(p) {
			return nil, fmt.Errorf("tokenizer: tokenizer.json: piece %d (%q) is not valid UTF-8, which JSON cannot hold", id, p)
		}
	}
	pairForm := k.pairForm
	if t.keep == nil {
		for _, m := range merges {
			if strings.Contains(pieces[m[0]], " ") || strings.Contains(pieces[m[1]], " ") {
				pairForm = true
				break
			}
		}
	}

	var b bytes.Buffer
	b.WriteString("{\n")
	field := func(name string, raw json.RawMessage) {
		if isNull(raw) {
			raw = json.RawMessage("null")
		}
		fmt.Fprintf(&b, "  %s: %s,\n", quote(name), bytes.TrimSpace(raw))
	}
	field("version", k.version)
	field("truncation", k.truncation)
	field("padding", k.padding)
	b.WriteString("  \"added_tokens\": [")
	for i, a := range k.added {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n    {\"id\": %d, \"content\": %s, \"single_word\": %t, \"lstrip\": %t, \"rstrip\": %t, \"normalized\": %t, \"special\": %t}",
			*a.ID, quote(a.Content), a.SingleWord, a.LStrip, a.RStrip, a.Normalized, a.Special)
	}
	b.WriteString("\n  ],\n")
	field("normalizer", k.normalizer)
	field("pre_tokenizer", k.preTokenizer)
	field("post_processor", k.postProcessor)
	field("decoder", k.decoder)
	unk := "null"
	if k.unkToken != nil {
		unk = quote(*k.unkToken)
	}
	fmt.Fprintf(&b, "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": %s,\n"+
		"    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"+
		"    \"fuse_unk\": %t,\n    \"byte_fallback\": %t,\n    \"ignore_merges\": %t,\n    \"vocab\": {",
		unk, k.fuseUnk, k.byteFallback, k.ignoreMerges)
	first := true
	for id, p := range pieces {
		if !inVocab[id] {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "\n      %s: %d", quote(p), id)
	}
	b.WriteString("\n    },\n    \"merges\": [")
	for i, m := range merges {
		if i > 0 {
			b.WriteByte(',')
		}
		if pairForm {
			fmt.Fprintf(&b, "\n      [%s, %s]", quote(pieces[m[0]]), quote(pieces[m[1]]))
		} else {
			fmt.Fprintf(&b, "\n      %s", quote(pieces[m[0]]+" "+pieces[m[1]]))
		}
	}
	b.WriteString("\n    ]\n  }\n}\n")
	return b.Bytes(), nil
}

// quote is a JSON string without HTML escaping ("<s>", not "\u003cs\u003e").
func quote(s string) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// llamaPieces is the vocabulary of a llama2.c or trained tokenizer as tokenizer.json writes it:
// spaces as "▁", BOS "<s>", EOS "</s>".
func (t *Tokenizer) llamaPieces() ([]string, error) {
	pieces := make([]string, len(t.pieces))
	seen := make(map[string]int, len(t.pieces))
	for id := range t.pieces {
		p := t.llamaPiece(id)
		if j, dup := seen[p]; dup {
			return nil, fmt.Errorf("tokenizer: tokenizer.json: ids %d and %d would both be %q", j, id, p)
		}
		seen[p] = id
		pieces[id] = p
	}
	return pieces, nil
}

// llamaPiece is token id's piece as llamaPieces writes it.
func (t *Tokenizer) llamaPiece(id int) string {
	switch p := t.pieces[id]; {
	case id == t.bos:
		return "<s>"
	case id == t.eos:
		return "</s>"
	case t.space == " ":
		return strings.ReplaceAll(p, " ", "▁")
	default:
		return p
	}
}

// llamaSections are LlamaConverter's tokenizer.json sections.
func (t *Tokenizer) llamaSections(pieces []string) *jsonKeep {
	k := &jsonKeep{version: json.RawMessage(`"1.0"`), fuseUnk: true, byteFallback: true}
	special := func(id int) {
		if id < 0 {
			return
		}
		i := int64(id)
		k.added = append(k.added, jsonAdded{ID: &i, Content: pieces[id], Special: true})
	}
	for _, id := range []int{t.unk, t.bos, t.eos} {
		special(id)
	}
	sort.Slice(k.added, func(i, j int) bool { return *k.added[i].ID < *k.added[j].ID })
	if t.unk >= 0 {
		u := pieces[t.unk]
		k.unkToken = &u
	}
	k.normalizer = json.RawMessage(`{"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}`)
	k.decoder = json.RawMessage(`{"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}`)
	if t.bos >= 0 {
		b := quote(pieces[t.bos])
		k.postProcessor = json.RawMessage(fmt.Sprintf(`{"type": "TemplateProcessing", `+
			`"single": [{"SpecialToken": {"id": %s, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], `+
			`"pair": [{"SpecialToken": {"id": %s, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": %s, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}], `+
			`"special_tokens": {%s: {"id": %s, "ids": [%d], "tokens": [%s]}}}`, b, b, b, b, b, t.bos, b))
	}
	return k
}

// extractMerges is transformers' SentencePieceExtractor: for each piece in id order, every split
// (at a character boundary) into two pieces, ordered by the halves' ids; then all of them
// stably by the piece's score, highest first.
func extractMerges(pieces []string, scores []float32) [][2]int32 {
	index := make(map[string]int32, len(pieces))
	for id, p := range pieces {
		index[p] = int32(id)
	}
	type merge struct {
		l, r  int32
		score float32
	}
	var all []merge
	for id, p := range pieces {
		start := len(all)
		for k := range p {
			if k == 0 {
				continue
			}
			l, ok1 := index[p[:k]]
			r, ok2 := index[p[k:]]
			if ok1 && ok2 {
				all = append(all, merge{l, r, scores[id]})
			}
		}
		local := all[start:]
		sort.Slice(local, func(i, j int) bool {
			if local[i].l != local[j].l {
				return local[i].l < local[j].l
			}
			return local[i].r < local[j].r
		})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].score > all[j].score })
	out := make([][2]int32, len(all))
	for i, m := range all {
		out[i] = [2]int32{m.l, m.r}
	}
	return out
}
