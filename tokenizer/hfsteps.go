package tokenizer

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// The parts of tokenizer.json around the model: normalizers, pre-tokenizers, and where BOS and
// EOS are read from.

// step is one normalizer or pre-tokenizer object; only the fields used are declared.
type step struct {
	Type           string            `json:"type"`
	Normalizers    []json.RawMessage `json:"normalizers"`
	Pretokenizers  []json.RawMessage `json:"pretokenizers"`
	Prepend        *string           `json:"prepend"`
	Pattern        *jsonPattern      `json:"pattern"`
	Content        *string           `json:"content"`
	StripLeft      *bool             `json:"strip_left"`
	StripRight     *bool             `json:"strip_right"`
	Replacement    *string           `json:"replacement"`
	AddPrefixSpace *bool             `json:"add_prefix_space"`
	PrependScheme  *string           `json:"prepend_scheme"`
	Split          *bool             `json:"split"`
	UseRegex       *bool             `json:"use_regex"`
	Behavior       string            `json:"behavior"`
	Invert         bool              `json:"invert"`
	Individual     bool              `json:"individual_digits"`
}

type jsonPattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

// maxSteps bounds the normalizer and pre-tokenizer steps a file may chain.
const maxSteps = 64

// readStep decodes one step of a chain that holds n steps already (ok
// false for a null step, or with an error for a bad or runaway one).
func readStep(raw json.RawMessage, where string, n int) (s step, ok bool, err error) {
	if isNull(raw) {
		return step{}, false, nil
	}
	if n >= maxSteps || strings.Count(where, ".") > 8 {
		return step{}, false, fmt.Errorf("%s: more than %d steps or nested too deep", where, maxSteps)
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return step{}, false, fmt.Errorf("%s: %v", where, err)
	}
	return s, true, nil
}

func (p *pipeline) parseNormalizer(raw json.RawMessage, where string) error {
	s, ok, err := readStep(raw, where, len(p.norm))
	if !ok {
		return err
	}
	switch s.Type {
	case "Sequence":
		for i, r := range s.Normalizers {
			if err := p.parseNormalizer(r, fmt.Sprintf("%s.normalizers[%d]", where, i)); err != nil {
				return err
			}
		}
	case "Prepend":
		if s.Prepend == nil {
			return fmt.Errorf("%s: Prepend without \"prepend\"", where)
		}
		p.norm = append(p.norm, normStep{kind: "Prepend", a: *s.Prepend})
	case "Replace":
		if s.Pattern == nil || s.Content == nil {
			return fmt.Errorf("%s: Replace needs \"pattern\" and \"content\"", where)
		}
		n := normStep{kind: "Replace", b: *s.Content}
		switch {
		case s.Pattern.String != nil:
			n.a = *s.Pattern.String
		case s.Pattern.Regex != nil:
			re, err := regexp.Compile(*s.Pattern.Regex)
			if err != nil {
				return fmt.Errorf("%s: Replace pattern %q: %v", where, *s.Pattern.Regex, err)
			}
			if re.MatchString("") {
				return fmt.Errorf("%s: Replace pattern %q matches the empty string", where, *s.Pattern.Regex)
			}
			n.re = re
		default:
			return fmt.Errorf("%s: Replace pattern is neither String nor Regex", where)
		}
		p.norm = append(p.norm, n)
	case "Strip":
		p.norm = append(p.norm, normStep{kind: "Strip", left: s.StripLeft == nil || *s.StripLeft, right: s.StripRight == nil || *s.StripRight})
	default:
		return fmt.Errorf("%s: normalizer %q is not supported", where, s.Type)
	}
	return nil
}

func (p *pipeline) parsePreTokenizer(raw json.RawMessage, where string) error {
	s, ok, err := readStep(raw, where, len(p.pre))
	if !ok {
		return err
	}
	switch s.Type {
	case "Sequence":
		for i, r := range s.Pretokenizers {
			if err := p.parsePreTokenizer(r, fmt.Sprintf("%s.pretokenizers[%d]", where, i)); err != nil {
				return err
			}
		}
	case "Metaspace":
		st := preStep{kind: "Metaspace", replacement: "▁", prepend: "always", split: true}
		if s.Replacement != nil {
			st.replacement = *s.Replacement
		}
		if st.replacement == "" {
			return fmt.Errorf("%s: Metaspace with an empty replacement", where)
		}
		if s.AddPrefixSpace != nil && !*s.AddPrefixSpace {
			st.prepend = "never"
		}
		if s.PrependScheme != nil {
			switch *s.PrependScheme {
			case "always", "first", "never":
				st.prepend = *s.PrependScheme
			default:
				return fmt.Errorf("%s: Metaspace prepend_scheme %q", where, *s.PrependScheme)
			}
		}
		if s.Split != nil {
			st.split = *s.Split
		}
		p.pre = append(p.pre, st)
	case "ByteLevel":
		st := preStep{kind: "ByteLevel", useRegex: true}
		if s.AddPrefixSpace != nil {
			st.addPrefixSpace = *s.AddPrefixSpace
		}
		if s.UseRegex != nil {
			st.useRegex = *s.UseRegex
		}
		p.pre = append(p.pre, st)
	case "Digits":
		p.pre = append(p.pre, preStep{kind: "Digits", individual: s.Individual})
	case "Split":
		st := preStep{kind: "Split", behavior: s.Behavior, invert: s.Invert}
		switch s.Behavior {
		case "Isolated", "Removed", "MergedWithPrevious", "MergedWithNext":
		default:
			return fmt.Errorf("%s: Split behavior %q is not supported", where, s.Behavior)
		}
		if s.Pattern == nil {
			return fmt.Errorf("%s: Split without a pattern", where)
		}
		switch {
		case s.Pattern.String != nil:
			st.splitter = literalSpans(*s.Pattern.String)
		case s.Pattern.Regex != nil:
			switch *s.Pattern.Regex {
			case GPT2Pattern:
				st.splitter = splitGPT2
			case Llama3Pattern:
				st.splitter = func(s string) [][2]int { return splitLlama3(s, 3) }
			case qwen2Pattern:
				st.splitter = func(s string) [][2]int { return splitLlama3(s, 1) }
			default:
				re, err := regexp.Compile(*s.Pattern.Regex)
				if err != nil {
					return fmt.Errorf("%s: Split pattern %q is not supported (%v)", where, *s.Pattern.Regex, err)
				}
				st.splitter = regexpSpans(re)
			}
		default:
			return fmt.Errorf("%s: Split pattern is neither String nor Regex", where)
		}
		p.pre = append(p.pre, st)
	default:
		return fmt.Errorf("%s: pre-tokenizer %q is not supported", where, s.Type)
	}
	return nil
}

// findBOSEOS reads BOS and EOS from a TemplateProcessing post-processor (the special token
// before $A in "single" is BOS, one after it EOS), else from the usual names among the
// vocabulary's pieces: <s>, <|begin_of_text|>, <bos> and </s>, <|end_of_text|>, <|endoftext|>,
// <eos>.
func (t *Tokenizer) findBOSEOS(post json.RawMessage) {
	t.bos, t.eos = -1, -1
	t.templateBOSEOS(post, 0)
	if t.bos < 0 {
		t.bos = t.firstOf("<s>", "<|begin_of_text|>", "<bos>")
	}
	if t.eos < 0 {
		t.eos = t.firstOf("</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>")
	}
	for _, id := range []int{t.bos, t.eos} {
		if id >= 0 {
			t.kinds[id] = kindControl
		}
	}
}

func (t *Tokenizer) firstOf(names ...string) int {
	for _, n := range names {
		if id, ok := t.index[n]; ok {
			return int(id)
		}
	}
	return -1
}

func (t *Tokenizer) templateBOSEOS(raw json.RawMessage, depth int) {
	if isNull(raw) || depth > 8 {
		return
	}
	var pp struct {
		Type       string                       `json:"type"`
		Processors []json.RawMessage            `json:"processors"`
		Single     []map[string]json.RawMessage `json:"single"`
		Special    map[string]struct {
			IDs []int64 `json:"ids"`
		} `json:"special_tokens"`
	}
	if json.Unmarshal(raw, &pp) != nil {
		return
	}
	if pp.Type == "Sequence" {
		for _, r := range pp.Processors {
			t.templateBOSEOS(r, depth+1)
		}
		return
	}
	if pp.Type != "TemplateProcessing" {
		return
	}
	seenA := false
	for _, item := range pp.Single {
		if _, ok := item["Sequence"]; ok {
			seenA = true
			continue
		}
		var sp struct {
			ID string `json:"id"`
		}
		if raw, ok := item["SpecialToken"]; !ok || json.Unmarshal(raw, &sp) != nil {
			continue
		}
		id := -1
		if s, ok := pp.Special[sp.ID]; ok && len(s.IDs) == 1 && s.IDs[0] >= 0 && s.IDs[0] < int64(len(t.pieces)) {
			id = int(s.IDs[0])
		} else if i, ok := t.index[sp.ID]; ok {
			id = int(i)
		}
		if id < 0 {
			continue
		}
		if !seenA && t.bos < 0 {
			t.bos = id
		} else if seenA && t.eos < 0 {
			t.eos = id
		}
	}
}
