package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The byte-level pre-tokenizer regexes, written out by hand: Go's regexp has no look-ahead, and
// both end in \s+(?!\S). Character classes are Unicode's: \s is White_Space, \p{L} letters,
// \p{N} numbers (what Python's regex module, tiktoken and Hugging Face's Oniguruma use). An
// invalid UTF-8 byte is one character in none of them.
const (
	// GPT2Pattern is GPT-2's pre-tokenizer (Hugging Face's ByteLevel with use_regex).
	GPT2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// Llama3Pattern is LLaMA-3's Split pre-tokenizer (also tiktoken's cl100k_base).
	Llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// qwen2Pattern is LLaMA-3's with single digits (Qwen2).
	qwen2Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

const (
	clsSpace = iota
	clsLetter
	clsNumber
	clsOther
)

// class decodes the character at s[i]: its class, length, and whether it is \r or \n.
func class(s string, i int) (cls, n int, crlf bool) {
	c := s[i]
	if c < utf8.RuneSelf {
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r':
			return clsSpace, 1, c == '\n' || c == '\r'
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			return clsLetter, 1, false
		case '0' <= c && c <= '9':
			return clsNumber, 1, false
		}
		return clsOther, 1, false
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && n == 1:
		return clsOther, 1, false
	case unicode.IsLetter(r):
		return clsLetter, n, false
	case unicode.IsNumber(r):
		return clsNumber, n, false
	case unicode.Is(unicode.White_Space, r):
		return clsSpace, n, false
	}
	return clsOther, n, false
}

// run is the end of the run of characters of class cls starting at i.
func run(s string, i, cls int) int {
	for i < len(s) {
		c, n, _ := class(s, i)
		if c != cls {
			break
		}
		i += n
	}
	return i
}

// spaceTail matches \s+(?!\S) then \s+ at i (a whitespace character): the whitespace run, less
// its last character when a non-space follows and the run is longer than one.
func spaceTail(s string, i int) int {
	end, last := i, i
	for end < len(s) {
		c, n, _ := class(s, end)
		if c != clsSpace {
			break
		}
		last = end
		end += n
	}
	if end < len(s) && last > i {
		return last
	}
	return end
}

// splitGPT2 returns the matches of GPT2Pattern in s, which cover s.
func splitGPT2(s string) [][2]int {
	var spans [][2]int
	for i := 0; i < len(s); {
		j := matchGPT2(s, i)
		spans = append(spans, [2]int{i, j})
		i = j
	}
	return spans
}

func matchGPT2(s string, i int) int {
	if s[i] == '\'' {
		for _, c := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
			if len(s)-i-1 >= len(c) && s[i+1:i+1+len(c)] == c {
				return i + 1 + len(c)
			}
		}
	}
	cls, n, _ := class(s, i)
	if s[i] == ' ' && i+1 < len(s) {
		// ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+` with their space
		if c2, _, _ := class(s, i+1); c2 != clsSpace {
			return run(s, i+1, c2)
		}
	}
	if cls != clsSpace {
		return run(s, i+n, cls)
	}
	return spaceTail(s, i)
}

// splitLlama3 returns the matches of Llama3Pattern in s (of qwen2Pattern when maxDigits is 1),
// which cover s.
func splitLlama3(s string, maxDigits int) [][2]int {
	var spans [][2]int
	for i := 0; i < len(s); {
		j := matchLlama3(s, i, maxDigits)
		spans = append(spans, [2]int{i, j})
		i = j
	}
	return spans
}

func matchLlama3(s string, i, maxDigits int) int {
	// (?i:'s|'t|'re|'ve|'m|'ll|'d): case-insensitive, so 'S and 'ſ (U+017F, which folds to s) too
	if s[i] == '\'' {
		for _, c := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
			if j, ok := foldPrefix(s, i+1, c); ok {
				return j
			}
		}
	}
	cls, n, crlf := class(s, i)
	switch cls {
	case clsLetter:
		return run(s, i, clsLetter)
	case clsNumber:
		j := i
		for k := 0; k < maxDigits && j < len(s); k++ {
			c, m, _ := class(s, j)
			if c != clsNumber {
				break
			}
			j += m
		}
		return j
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if !crlf && i+n < len(s) {
		if c2, _, _ := class(s, i+n); c2 == clsLetter {
			return run(s, i+n, clsLetter)
		}
	}
	// ` ?[^\s\p{L}\p{N}]+[\r\n]*`
	j := -1
	if s[i] == ' ' && i+1 < len(s) {
		if c2, _, _ := class(s, i+1); c2 == clsOther {
			j = run(s, i+1, clsOther)
		}
	}
	if j < 0 && cls == clsOther {
		j = run(s, i, clsOther)
	}
	if j >= 0 {
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// \s*[\r\n]+: the whitespace run up to and including its last \r or \n
	end, lastNL := i, -1
	for end < len(s) {
		c, m, nl := class(s, end)
		if c != clsSpace {
			break
		}
		if nl {
			lastNL = end
		}
		end += m
	}
	if lastNL >= 0 {
		return lastNL + 1
	}
	return spaceTail(s, i)
}

// foldPrefix matches the lower-case ASCII word c case-insensitively at s[i:].
func foldPrefix(s string, i int, c string) (int, bool) {
	for k := 0; k < len(c); k++ {
		if i >= len(s) {
			return 0, false
		}
		switch {
		case s[i] == c[k] || s[i] == c[k]-'a'+'A':
			i++
		case c[k] == 's' && i+1 < len(s) && s[i] == 0xC5 && s[i+1] == 0xBF: // ſ
			i += 2
		default:
			return 0, false
		}
	}
	return i, true
}
