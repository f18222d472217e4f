package textdata

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// RoffText turns a manual page's roff source (the man macros) into plain
// text, one output line per text line of the source:
//
//   - comments are dropped: whole lines (.\" and '\") and the rest of a
//     line after \" or \#; a line ending in a backslash continues on the
//     next;
//   - a request or macro line (starting with "." or "'") is dropped, but
//     for .B, .I, .SM and .SB (their arguments joined by spaces), .BR,
//     .BI, .IB, .IR, .RB and .RI (alternating fonts: joined without
//     spaces, as roff prints "ls(1)" for .BR ls (1)), .SH and .SS
//     (headings) and .IP (its tag, the first argument) the arguments are
//     kept, quotes removed;
//   - .PP, .LP, .P, .TP, .IP, .HP, .sp, .SH and .SS start a paragraph (a
//     blank line); macro definitions (.de, .am … to "..") and .ig blocks are
//     dropped, and so is a table's (.TS) format preamble (its data rows are
//     kept, T{ and T} removed);
//   - escapes: font changes (\fB, \f(XX, \f[…]), size changes (\s±N),
//     strings (\*x, \*(xx, \*[…]), registers, motions and the zero-width
//     \&, \|, \^, \c, \% become nothing; \- is "-", "\ " a space, \e a
//     backslash; special characters \(xx and \[name] become those of
//     roffChars (\(em "—", \(en "–", \(aq "'", \(dq "\"", \(bu "•" …) or
//     nothing, \[uXXXX] the code point; any other \X is X.
//
// Blank lines are collapsed to one, trailing white space is dropped and
// the text is cleaned as Doc says. It is meant to read as the page's
// text, not to render it: mdoc macros (.Nm, .Fl …), tbl's layout and eqn
// are not understood.
func RoffText(src string) string {
	var out []string
	emit := func(l string) {
		l = strings.TrimRight(l, " \t\r\v\f")
		if l != "" || (len(out) > 0 && out[len(out)-1] != "") {
			out = append(out, l)
		}
	}
	var block, tblHead, table bool // in .de/.ig; in a .TS preamble; in a table
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line, cont := roffUncomment(lines[i])
		for ; cont && i+1 < len(lines); i++ {
			var next string
			next, cont = roffUncomment(lines[i+1])
			line += next
		}
		if block { // until "..", spaces allowed after the first dot
			raw := lines[i]
			block = !(strings.HasPrefix(raw, ".") && strings.HasPrefix(strings.TrimLeft(raw[1:], " \t"), "."))
			continue
		}
		if line == "" || (line[0] != '.' && line[0] != '\'') {
			switch {
			case tblHead:
				tblHead = !strings.HasSuffix(strings.TrimRight(line, " \t"), ".")
				continue
			case table:
				if line = strings.NewReplacer("T{", "", "T}", "").Replace(line); strings.TrimSpace(line) == "" {
					continue // a T{ or T} line
				}
			}
			emit(roffEscapes(line))
			continue
		}
		req := strings.TrimLeft(line[1:], " \t")
		name, rest := req, ""
		if k := strings.IndexAny(req, " \t"); k >= 0 {
			name, rest = req[:k], req[k:]
		}
		args := roffArgs(rest)
		for j, a := range args {
			args[j] = roffEscapes(a)
		}
		switch name {
		case "B", "I", "SM", "SB":
			emit(strings.Join(args, " "))
		case "BR", "BI", "IB", "IR", "RB", "RI":
			emit(strings.Join(args, ""))
		case "SH", "SS":
			emit("")
			emit(strings.Join(args, " "))
		case "IP":
			emit("")
			if len(args) > 0 {
				emit(args[0])
			}
		case "PP", "LP", "P", "TP", "HP", "sp":
			emit("")
		case "de", "de1", "dei", "am", "am1", "ami", "ig":
			block = true
		case "TS":
			table, tblHead = true, true
		case "TE":
			table, tblHead = false, false
		}
	}
	return cleanDoc(strings.Join(out, "\n"))
}

// roffUncomment cuts a line at a \" or \# comment, and reports whether it
// continues on the next line (a final backslash, or a \# comment).
func roffUncomment(line string) (string, bool) {
	for i := 0; i < len(line); i++ {
		if line[i] != '\\' {
			continue
		}
		switch {
		case i+1 == len(line):
			return line[:i], true
		case line[i+1] == '"':
			return line[:i], false
		case line[i+1] == '#':
			return line[:i], true
		}
		i++ // skip the escaped byte (a backslash, too)
	}
	return line, false
}

// roffArgs splits a macro's arguments: separated by blanks, or in double
// quotes ("" inside them is a quote); escapes are kept for roffEscapes.
func roffArgs(s string) []string {
	var args []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return args
		}
		var b strings.Builder
		quoted := s[0] == '"'
		i := 0
		if quoted {
			i = 1
		}
		for i < len(s) {
			c := s[i]
			switch {
			case quoted && c == '"' && i+1 < len(s) && s[i+1] == '"':
				b.WriteByte('"')
				i += 2
				continue
			case quoted && c == '"':
				i++
			case !quoted && (c == ' ' || c == '\t'):
			case c == '\\' && i+1 < len(s):
				b.WriteString(s[i : i+2])
				i += 2
				continue
			default:
				b.WriteByte(c)
				i++
				continue
			}
			break
		}
		args = append(args, b.String())
		s = s[i:]
	}
}

// roffChars are the special characters RoffText keeps (by their \(xx or
// \[xx] names); others become nothing.
var roffChars = map[string]string{
	"em": "—", "en": "–", "aq": "'", "dq": `"`, "bu": "•", "hy": "-", "mi": "-",
	"lq": "“", "rq": "”", "oq": "‘", "cq": "’", "rs": `\`, "ti": "~", "ha": "^",
	"co": "©", "rg": "®", "tm": "™", "de": "°", "mu": "×", "<=": "≤", ">=": "≥", "->": "→", "<-": "←",
}

// roffChar is the text of the special character name: roffChars's, or the
// code point of uXXXX, or nothing.
func roffChar(name string) string {
	if t, ok := roffChars[name]; ok {
		return t
	}
	if h, ok := strings.CutPrefix(name, "u"); ok && len(h) >= 4 && len(h) <= 6 {
		if r, err := strconv.ParseUint(h, 16, 32); err == nil && utf8.ValidRune(rune(r)) {
			return string(rune(r))
		}
	}
	return ""
}

// roffEscapes replaces a text line's escapes (see RoffText).
func roffEscapes(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			i++
			continue
		}
		if i+1 == len(s) {
			break
		}
		e, n := utf8.DecodeRuneInString(s[i+1:])
		start := i + 1
		i = start + n
		switch e {
		case 'f', '*', 'm', 'M', 'g', 'k', 'V', 'Y', '$':
			i = roffSkipName(s, i)
		case 'n':
			if i < len(s) && (s[i] == '+' || s[i] == '-') {
				i++
			}
			i = roffSkipName(s, i)
		case 's':
			if i < len(s) && (s[i] == '+' || s[i] == '-') {
				i++
			}
			switch {
			case i < len(s) && (s[i] == '(' || s[i] == '['):
				i = roffSkipName(s, i)
			case i < len(s) && s[i] == '\'':
				i = roffSkipDelimited(s, i)
			case i+1 < len(s) && '1' <= s[i] && s[i] <= '3' && '0' <= s[i+1] && s[i+1] <= '9':
				i += 2
			case i < len(s) && '0' <= s[i] && s[i] <= '9':
				i++
			}
		case '(', '[':
			j := roffSkipName(s, start)
			name := s[start+1 : j]
			if e == '[' {
				name = strings.TrimSuffix(name, "]")
			}
			b.WriteString(roffChar(name))
			i = j
		case 'C':
			j := roffSkipDelimited(s, i)
			if i < j-1 {
				b.WriteString(roffChar(s[i+1 : j-1]))
			}
			i = j
		case 'h', 'v', 'w', 'o', 'l', 'L', 'D', 'X', 'Z', 'N', 'b', 'x', 'R', 'A', 'B', 'S', 'H':
			i = roffSkipDelimited(s, i)
		case 'e', '\\':
			b.WriteByte('\\')
		case '-':
			b.WriteByte('-')
		case ' ', '~', '0':
			b.WriteByte(' ')
		case 't':
			b.WriteByte('\t')
		case '&', '|', '^', 'c', '%', ':', '/', ',', ')', 'a', 'd', 'u', 'r', 'z', 'p', '{', '}':
		case '"', '#':
			return b.String()
		default:
			b.WriteString(s[start:i])
		}
	}
	return b.String()
}

// roffSkipName skips an escape's name at i: one character, "(" and two,
// or "[" to the closing "]".
func roffSkipName(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '(':
		i++
		for k := 0; k < 2 && i < len(s); k++ {
			_, n := utf8.DecodeRuneInString(s[i:])
			i += n
		}
		return i
	case '[':
		if j := strings.IndexByte(s[i:], ']'); j >= 0 {
			return i + j + 1
		}
		return len(s)
	}
	_, n := utf8.DecodeRuneInString(s[i:])
	return i + n
}

// roffSkipDelimited skips an escape's argument at i: a delimiter
// character, then text up to the same character.
func roffSkipDelimited(s string, i int) int {
	if i >= len(s) {
		return i
	}
	d, n := utf8.DecodeRuneInString(s[i:])
	if j := strings.IndexRune(s[i+n:], d); j >= 0 && d != utf8.RuneError {
		return i + n + j + n
	}
	return len(s)
}
