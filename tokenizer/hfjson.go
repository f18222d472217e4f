package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Hugging Face's tokenizer.json, as far as a BPE tokenizer needs it:
//
//	{"added_tokens": [{"id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"}],
//	 "normalizer": null | Prepend | Replace | Strip | Sequence,
//	 "pre_tokenizer": null | Metaspace | ByteLevel | Split | Digits | Sequence,
//	 "post_processor": TemplateProcessing (where BOS and EOS are read) | anything,
//	 "decoder": anything (decoding follows from the vocabulary's family),
//	 "model": {"type": "BPE", "vocab": {piece: id}, "merges": ["a b"] or [["a", "b"]],
//	           "unk_token", "fuse_unk", "byte_fallback", "ignore_merges", "dropout", …}}
//
// Anything else that would change the ids (another model type, NFC or Lowercase normalizers,
// BPE dropout, subword prefixes) is refused with an error naming it rather than encoded wrongly.

type jsonFile struct {
	Version       json.RawMessage `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []jsonAdded     `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

type jsonAdded struct {
	ID         *int64 `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type jsonModel struct {
	Type                    string            `json:"type"`
	Dropout                 *float64          `json:"dropout"`
	UnkToken                *string           `json:"unk_token"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	FuseUnk                 bool              `json:"fuse_unk"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
	Vocab                   map[string]int64  `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
}

// jsonKeep holds the sections WriteJSON writes back as they were read.
type jsonKeep struct {
	version, truncation, padding                     json.RawMessage
	normalizer, preTokenizer, postProcessor, decoder json.RawMessage
	added                                            []jsonAdded
	unkToken                                         *string
	inVocab                                          []bool // per id: in model.vocab (else only an added token)
	fuseUnk, byteFallback, ignoreMerges              bool
	pairForm                                         bool // merges were written ["a", "b"]
}

// LoadJSON reads a Hugging Face tokenizer.json.
func LoadJSON(path string) (*Tokenizer, error) {
	data, err := readCapped(path, maxJSONFile)
	if err != nil {
		return nil, err
	}
	return parseJSON(data, path)
}

// ParseJSON parses the content of a tokenizer.json; name is used in errors.
func ParseJSON(data []byte, name string) (*Tokenizer, error) { return parseJSON(data, name) }

func parseJSON(data []byte, name string) (*Tokenizer, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("tokenizer: %s: %s: %w", name, fmt.Sprintf(format, args...), ErrFormat)
	}
	var f jsonFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, bad("not a tokenizer.json: %v", err)
	}
	m, err := parseJSONModel(&f, bad)
	if err != nil {
		return nil, err
	}
	t, p, inVocab, err := jsonVocabulary(&f, m, name, bad)
	if err != nil {
		return nil, err
	}
	if err := t.jsonMerges(m, bad); err != nil {
		return nil, err
	}
	if err := t.jsonSteps(&f, m, p, bad); err != nil {
		return nil, err
	}
	t.stripBOS = t.family == sentencePiece && p.prefixed
	t.findBOSEOS(f.PostProcessor)
	t.keep = &jsonKeep{version: f.Version, truncation: f.Truncation, padding: f.Padding,
		normalizer: f.Normalizer, preTokenizer: f.PreTokenizer, postProcessor: f.PostProcessor,
		decoder: f.Decoder, added: f.AddedTokens, unkToken: m.UnkToken, inVocab: inVocab,
		fuseUnk: m.FuseUnk, byteFallback: m.ByteFallback, ignoreMerges: m.IgnoreMerges}
	if len(m.Merges) > 0 {
		t.keep.pairForm = bytes.TrimSpace(m.Merges[0])[0] == '['
	}
	t.finish()
	return t, nil
}

// parseJSONModel reads the file's "model": a BPE model with no dropout,
// no continuing-subword prefix and no end-of-word suffix.
func parseJSONModel(f *jsonFile, bad func(format string, args ...any) error) (*jsonModel, error) {
	if isNull(f.Model) {
		return nil, bad("no \"model\"")
	}
	var head struct {
		Type   string          `json:"type"`
		Merges json.RawMessage `json:"merges"`
	}
	if err := json.Unmarshal(f.Model, &head); err != nil {
		return nil, bad("model: %v", err)
	}
	if head.Type == "" && head.Merges != nil {
		head.Type = "BPE" // older files leave it out
	}
	if head.Type != "BPE" {
		return nil, bad("model type %q is not supported (only BPE)", head.Type)
	}
	m := &jsonModel{}
	if err := json.Unmarshal(f.Model, m); err != nil {
		return nil, bad("model: %v", err)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, bad("model.dropout %v is not supported", *m.Dropout)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, bad("model.continuing_subword_prefix %q is not supported", *m.ContinuingSubwordPrefix)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, bad("model.end_of_word_suffix %q is not supported", *m.EndOfWordSuffix)
	}
	return m, nil
}

// jsonVocabulary builds the tokenizer's pieces, kinds and lookups from
// model.vocab and the added tokens, every id in [0, n); inVocab marks the
// ids model.vocab itself gives.
func jsonVocabulary(f *jsonFile, m *jsonModel, name string, bad func(format string, args ...any) error) (t *Tokenizer, p *pipeline, inVocab []bool, err error) {
	n := 0
	for piece, id := range m.Vocab {
		if id < 0 || id >= maxVocab {
			return nil, nil, nil, bad("model.vocab[%q]: id %d out of range [0, %d)", piece, id, maxVocab)
		}
		n = max(n, int(id)+1)
	}
	for i, a := range f.AddedTokens {
		if a.ID == nil {
			return nil, nil, nil, bad("added_tokens[%d] (%q): no id", i, a.Content)
		}
		if *a.ID < 0 || *a.ID >= maxVocab {
			return nil, nil, nil, bad("added_tokens[%d] (%q): id %d out of range [0, %d)", i, a.Content, *a.ID, maxVocab)
		}
		n = max(n, int(*a.ID)+1)
	}
	if n > len(m.Vocab)+len(f.AddedTokens)+1024 {
		return nil, nil, nil, bad("ids reach %d for %d tokens: too sparse", n-1, len(m.Vocab)+len(f.AddedTokens))
	}
	t = &Tokenizer{src: name, pieces: make([]string, n), unk: -1, bos: -1, eos: -1,
		fuseUnk: m.FuseUnk, ignoreMerges: m.IgnoreMerges}
	have := make([]bool, n)
	for piece, id := range m.Vocab {
		if have[id] {
			return nil, nil, nil, bad("model.vocab: id %d is given to both %q and %q", id, t.pieces[id], piece)
		}
		t.pieces[id], have[id] = piece, true
	}
	inVocab = make([]bool, n)
	copy(inVocab, have)
	t.kinds = make([]uint8, n)
	for i := range have {
		if !have[i] {
			t.kinds[i] = kindControl // a hole: never produced, decodes to nothing
		}
	}
	p = &pipeline{}
	for i, a := range f.AddedTokens {
		id := int(*a.ID)
		if inVocab[id] && t.pieces[id] != a.Content {
			return nil, nil, nil, bad("added_tokens[%d]: id %d is %q, but model.vocab gives it to %q", i, id, a.Content, t.pieces[id])
		}
		if have[id] && !inVocab[id] && t.pieces[id] != a.Content {
			return nil, nil, nil, bad("added_tokens[%d]: id %d is given to both %q and %q", i, id, t.pieces[id], a.Content)
		}
		t.pieces[id], have[id] = a.Content, true
		if a.Special {
			t.kinds[id] = kindControl
		} else {
			t.kinds[id] = kindText
		}
		p.added = append(p.added, &addedToken{content: a.Content, id: int32(id), special: a.Special,
			normalized: a.Normalized, lstrip: a.LStrip, rstrip: a.RStrip, singleWord: a.SingleWord})
	}
	t.hf = p
	// Lookups see model.vocab's ids first: an added token's content may also be a vocab piece.
	t.index = make(map[string]int32, n)
	t.canon = make([]int32, n)
	for i := range t.canon {
		t.canon[i] = int32(i)
	}
	for _, a := range p.added {
		if _, ok := t.index[a.content]; !ok {
			t.index[a.content] = a.id
		}
	}
	for piece, id := range m.Vocab {
		t.index[piece] = int32(id)
	}
	for b := range t.byteTok {
		t.byteTok[b] = -1
		if id, ok := m.Vocab[bytePiece(byte(b))]; ok && m.ByteFallback {
			t.byteTok[b] = int32(id)
		}
	}
	if m.UnkToken != nil {
		// As in Hugging Face, an unk_token missing from model.vocab only matters when needed:
		// then encoding fails.
		if id, ok := m.Vocab[*m.UnkToken]; ok {
			t.unk = int(id)
		}
	}
	return t, p, inVocab, nil
}

// jsonMerges reads model.merges by rank; as in Hugging Face, a repeated
// pair keeps its last rank.
func (t *Tokenizer) jsonMerges(m *jsonModel, bad func(format string, args ...any) error) error {
	t.pairs = make(map[uint64]pairMerge, len(m.Merges))
	t.merges = make([][2]int32, 0, len(m.Merges))
	for r, raw := range m.Merges {
		a, b, err := parseMerge(raw)
		if err != nil {
			return bad("model.merges[%d]: %v", r, err)
		}
		ia, ok1 := m.Vocab[a]
		ib, ok2 := m.Vocab[b]
		ic, ok3 := m.Vocab[a+b]
		switch {
		case !ok1:
			return bad("model.merges[%d]: %q is not in model.vocab", r, a)
		case !ok2:
			return bad("model.merges[%d]: %q is not in model.vocab", r, b)
		case !ok3:
			return bad("model.merges[%d]: the merged %q is not in model.vocab", r, a+b)
		}
		t.pairs[pairKey(int32(ia), int32(ib))] = pairMerge{id: int32(ic), pri: -float64(r)}
		t.merges = append(t.merges, [2]int32{int32(ia), int32(ib)})
	}
	return nil
}

// jsonSteps reads the normalizer and the pre-tokenizer, and from them the
// tokenizer's family (byte-level or SentencePiece-style) and its space.
func (t *Tokenizer) jsonSteps(f *jsonFile, m *jsonModel, p *pipeline, bad func(format string, args ...any) error) error {
	if err := p.parseNormalizer(f.Normalizer, "normalizer"); err != nil {
		return bad("%v", err)
	}
	if err := p.parsePreTokenizer(f.PreTokenizer, "pre_tokenizer"); err != nil {
		return bad("%v", err)
	}
	p.indexAdded()
	t.family = sentencePiece
	t.space = "▁"
	for i, st := range p.pre {
		if st.kind == "ByteLevel" {
			t.family = byteLevel
			if i != len(p.pre)-1 {
				return bad("pre_tokenizer: ByteLevel must be the last step")
			}
		}
		if st.kind == "Metaspace" {
			t.space = st.replacement
			p.prefixed = p.prefixed || st.prepend != "never"
		}
	}
	for _, nm := range p.norm {
		if nm.kind == "Replace" && nm.a == " " && nm.re == nil {
			t.space = nm.b
		}
		if nm.kind == "Prepend" && nm.a != "" {
			p.prefixed = true
		}
	}
	for b := range p.byteID {
		p.byteID[b] = -1
		if t.family == byteLevel {
			if id, ok := m.Vocab[string(byteToRune[b])]; ok {
				p.byteID[b] = int32(id)
			}
		}
	}
	if t.family == byteLevel {
		for b := range t.byteTok {
			t.byteTok[b] = -1
		}
	}
	return nil
}

// parseMerge reads "a b" or ["a", "b"].
func parseMerge(raw json.RawMessage) (string, string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", "", err
		}
		parts := strings.Split(s, " ")
		if len(parts) != 2 {
			return "", "", fmt.Errorf("%q is not two pieces separated by one space", s)
		}
		return parts[0], parts[1], nil
	}
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil {
		return "", "", fmt.Errorf("neither \"a b\" nor [\"a\", \"b\"]: %s", truncate(raw))
	}
	if len(pair) != 2 {
		return "", "", fmt.Errorf("%d pieces, want 2", len(pair))
	}
	return pair[0], pair[1], nil
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}
