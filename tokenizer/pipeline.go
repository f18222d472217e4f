package tokenizer

import (
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pipeline is what tokenizer.json puts before the BPE model: added tokens, normalizer and
// pre-tokenizer, as Hugging Face's tokenizers runs them.
type pipeline struct {
	added    []*addedToken
	byFirst  [2]map[byte][]*addedToken // [normalized]: by first byte, longest first
	norm     []normStep
	pre      []preStep
	byteID   [256]int32 // byte-level vocabularies: the token of each byte's character, -1 if none
	prefixed bool       // a dummy "▁" is prepended (Prepend normalizer or Metaspace)
}

type addedToken struct {
	content                    string
	match                      string // content, normalized for a normalized token
	id                         int32
	special, normalized        bool
	lstrip, rstrip, singleWord bool
}

type segment struct {
	text   string
	id     int32 // an added token's id, or -1 for text
	offset int   // where text starts in the input (only 0 matters: Metaspace's "first")
}

func (p *pipeline) indexAdded() {
	for k := range p.byFirst {
		p.byFirst[k] = map[byte][]*addedToken{}
	}
	for _, a := range p.added {
		k := 0
		a.match = a.content
		if a.normalized {
			k = 1
			a.match = p.normalize(a.content)
		}
		if a.match == "" {
			continue
		}
		p.byFirst[k][a.match[0]] = append(p.byFirst[k][a.match[0]], a)
	}
	for k := range p.byFirst {
		for _, list := range p.byFirst[k] {
			sort.SliceStable(list, func(i, j int) bool { return len(list[i].match) > len(list[j].match) })
		}
	}
}

// splitAdded cuts s around the added tokens that match on raw text (normalized false) or on
// normalized text (normalized true, matched by their normalized content: with LLaMA-2's
// normalizer "</x>" matches only as "▁</x>"): leftmost-longest, non-overlapping, as Hugging
// Face's AddedVocabulary does. A single_word token matches only between non-word characters (else the
// match is dropped); lstrip and rstrip take the whitespace beside the token into it. base is s's
// offset in the input.
func (p *pipeline) splitAdded(s string, normalized bool, base int) []segment {
	k := 0
	if normalized {
		k = 1
	}
	first := p.byFirst[k]
	if len(first) == 0 {
		return []segment{{text: s, id: -1, offset: base}}
	}
	var out []segment
	start := 0 // end of the last match
	for i := 0; i < len(s); {
		var hit *addedToken
		for _, a := range first[s[i]] {
			if strings.HasPrefix(s[i:], a.match) {
				hit = a
				break
			}
		}
		if hit == nil {
			i++
			continue
		}
		b, e := i, i+len(hit.match)
		if hit.singleWord && ((b > 0 && endsWithWord(s[:b])) || (e < len(s) && startsWithWord(s[e:]))) {
			i = e
			continue
		}
		if hit.lstrip {
			b = max(len(strings.TrimRightFunc(s[:b], isWhite)), start)
		}
		if hit.rstrip {
			e = len(s) - len(strings.TrimLeftFunc(s[e:], isWhite))
		}
		if start < b {
			out = append(out, segment{text: s[start:b], id: -1, offset: base + start})
		}
		out = append(out, segment{text: s[b:e], id: hit.id, offset: base + b})
		start, i = e, e
	}
	if start < len(s) || len(out) == 0 {
		out = append(out, segment{text: s[start:], id: -1, offset: base + start})
	}
	return out
}

func isWhite(r rune) bool { return unicode.Is(unicode.White_Space, r) }

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) || unicode.Is(unicode.Pc, r) || r == 0x200C || r == 0x200D
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return isWordRune(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isWordRune(r)
}

// normStep is one normalizer: Prepend (a), Replace (a → b, or re → b), Strip.
type normStep struct {
	kind        string
	a, b        string
	re          *regexp.Regexp
	left, right bool
}

func (p *pipeline) normalize(s string) string {
	for _, n := range p.norm {
		switch n.kind {
		case "Prepend":
			if s != "" {
				s = n.a + s
			}
		case "Replace":
			if n.re != nil {
				s = n.re.ReplaceAllLiteralString(s, n.b)
			} else if n.a != "" {
				s = strings.ReplaceAll(s, n.a, n.b)
			}
		case "Strip":
			if n.left {
				s = strings.TrimLeftFunc(s, isWhite)
			}
			if n.right {
				s = strings.TrimRightFunc(s, isWhite)
			}
		}
	}
	return s
}

// preStep is one pre-tokenizer.
type preStep struct {
	kind string // "Metaspace", "ByteLevel", "Split", "Digits"

	// Metaspace
	replacement string
	prepend     string // "always", "first", "never"
	split       bool

	// ByteLevel
	addPrefixSpace bool
	useRegex       bool

	// Split
	splitter func(s string) [][2]int // match spans
	behavior string
	invert   bool

	// Digits
	individual bool
}

type word struct {
	s     string
	first bool // starts at offset 0 of the input
}

// preTokenize splits a normalized piece into the words the model encodes one by one.
func (p *pipeline) preTokenize(s string, first bool) []string {
	words := []word{{s, first}}
	for _, st := range p.pre {
		var next []word
		for _, w := range words {
			next = st.apply(w, next)
		}
		words = next
	}
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = w.s
	}
	return out
}

func (st *preStep) apply(w word, out []word) []word {
	s := w.s
	switch st.kind {
	case "Metaspace":
		s = strings.ReplaceAll(s, " ", st.replacement)
		if !strings.HasPrefix(s, st.replacement) && (st.prepend == "always" || (st.prepend == "first" && w.first)) {
			s = st.replacement + s
		}
		if !st.split {
			return append(out, word{s, w.first})
		}
		return splitMergedWithNext(s, st.replacement, w.first, out)
	case "ByteLevel":
		if st.addPrefixSpace && !strings.HasPrefix(s, " ") {
			s = " " + s
		}
		if !st.useRegex {
			return append(out, word{s, w.first})
		}
		return isolate(s, splitGPT2(s), w.first, out)
	case "Digits":
		return isolate(s, digitSpans(s, st.individual), w.first, out)
	case "Split":
		spans := st.splitter(s)
		if st.invert {
			spans = complement(spans, len(s))
		}
		switch st.behavior {
		case "Removed":
			return gaps(s, spans, w.first, out)
		case "MergedWithPrevious":
			return mergedWithPrevious(s, spans, w.first, out)
		case "MergedWithNext":
			return mergedWithNext(s, spans, w.first, out)
		}
		return isolate(s, spans, w.first, out)
	}
	return append(out, w)
}

// isolate appends the matches and the gaps between them, in order (SplitDelimiterBehavior
// Isolated).
func isolate(s string, spans [][2]int, first bool, out []word) []word {
	at := 0
	for _, sp := range spans {
		if sp[0] > at {
			out = append(out, word{s[at:sp[0]], first && at == 0})
		}
		if sp[1] > sp[0] {
			out = append(out, word{s[sp[0]:sp[1]], first && sp[0] == 0})
		}
		at = sp[1]
	}
	if at < len(s) {
		out = append(out, word{s[at:], first && at == 0})
	}
	return out
}

// gaps appends only the text between matches (Removed).
func gaps(s string, spans [][2]int, first bool, out []word) []word {
	at := 0
	for _, sp := range spans {
		if sp[0] > at {
			out = append(out, word{s[at:sp[0]], first && at == 0})
		}
		at = sp[1]
	}
	if at < len(s) {
		out = append(out, word{s[at:], first && at == 0})
	}
	return out
}

// mergedWithPrevious appends pieces that each end with a match.
func mergedWithPrevious(s string, spans [][2]int, first bool, out []word) []word {
	at := 0
	for _, sp := range spans {
		if sp[1] > at {
			out = append(out, word{s[at:sp[1]], first && at == 0})
			at = sp[1]
		}
	}
	if at < len(s) {
		out = append(out, word{s[at:], first && at == 0})
	}
	return out
}

// mergedWithNext appends pieces that each start with a match.
func mergedWithNext(s string, spans [][2]int, first bool, out []word) []word {
	at := 0
	for _, sp := range spans {
		if sp[0] > at {
			out = append(out, word{s[at:sp[0]], first && at == 0})
			at = sp[0]
		}
	}
	if at < len(s) {
		out = append(out, word{s[at:], first && at == 0})
	}
	return out
}

func splitMergedWithNext(s, delim string, first bool, out []word) []word {
	var spans [][2]int
	for i := 0; i < len(s); {
		k := strings.Index(s[i:], delim)
		if k < 0 {
			break
		}
		spans = append(spans, [2]int{i + k, i + k + len(delim)})
		i += k + len(delim)
	}
	return mergedWithNext(s, spans, first, out)
}

func complement(spans [][2]int, n int) [][2]int {
	var out [][2]int
	at := 0
	for _, sp := range spans {
		if sp[0] > at {
			out = append(out, [2]int{at, sp[0]})
		}
		at = sp[1]
	}
	if at < n {
		out = append(out, [2]int{at, n})
	}
	return out
}

// digitSpans is the Digits pre-tokenizer: runs of \p{Nd}… (each digit alone when individual).
func digitSpans(s string, individual bool) [][2]int {
	var spans [][2]int
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsNumber(r) {
			i += n
			continue
		}
		j := i + n
		for !individual && j < len(s) {
			r, m := utf8.DecodeRuneInString(s[j:])
			if !unicode.IsNumber(r) {
				break
			}
			j += m
		}
		spans = append(spans, [2]int{i, j})
		i = j
	}
	return spans
}

// literalSpans finds the non-overlapping occurrences of lit.
func literalSpans(lit string) func(string) [][2]int {
	return func(s string) [][2]int {
		var spans [][2]int
		if lit == "" {
			return nil
		}
		for i := 0; i < len(s); {
			k := strings.Index(s[i:], lit)
			if k < 0 {
				break
			}
			spans = append(spans, [2]int{i + k, i + k + len(lit)})
			i += k + len(lit)
		}
		return spans
	}
}

// regexpSpans uses Go's regexp (leftmost-first, like the Oniguruma Hugging Face runs) for Split
// patterns that need no look-around.
func regexpSpans(re *regexp.Regexp) func(string) [][2]int {
	return func(s string) [][2]int {
		var spans [][2]int
		for _, m := range re.FindAllStringIndex(s, -1) {
			if m[1] > m[0] {
				spans = append(spans, [2]int{m[0], m[1]})
			}
		}
		return spans
	}
}
