package textdata

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"strings"
	"unicode/utf8"
)

const (
	maxMailDepth = 4   // nested multiparts followed
	maxMailParts = 100 // MIME parts looked at per message
)

// MailText is the text of an RFC 5322 mail message (as SpamAssassin
// stores them: headers, a blank line, the body; an mbox "From " line
// first is skipped; "\n" or "\r\n" line ends):
//
//	SUBJECT
//
//	BODY
//
// (or only BODY when there is no subject). SUBJECT is the Subject header,
// unfolded, with RFC 2047 encoded words decoded; no other header is kept.
// BODY is found by Content-Type. A text/* body is the body. A multipart/*
// body (followed four levels deep, at most 100 parts in all) gives its
// non-blank text/plain (and other non-HTML text/*) parts joined by blank
// lines, or if there are none, its text/html parts; other parts
// (attachments, images, message/rfc822) are dropped. A missing or broken
// Content-Type is text/plain, and so is a multipart whose boundary is
// missing or never found (its body kept whole). Content-Transfer-Encoding
// base64 and quoted-printable are decoded leniently (bad bytes skipped or
// kept). HTML is kept as it is: tags, entities and all.
//
// Charsets: UTF-8 is kept; ISO-8859-1, Windows-1252 and ISO-8859-15 are
// converted; text without a charset (or with us-ascii, utf-8 or
// "default") that is not valid UTF-8 is read as Windows-1252; any other
// charset (Big5, GB2312, KOI8-R, …) keeps its valid UTF-8 and has each
// run of invalid bytes replaced by one U+FFFD. The result is cleaned as
// Doc says and may be empty. MailText never fails and never panics.
func MailText(raw []byte) string {
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	if bytes.HasPrefix(raw, []byte("From ")) {
		if _, rest, ok := bytes.Cut(raw, []byte("\n")); ok {
			raw = rest
		} else {
			raw = nil
		}
	}
	h, body := splitHeader(raw)
	var w mailWalker
	w.entity(h, body, 0)
	texts := w.plain
	if len(texts) == 0 {
		texts = w.html
	}
	var b strings.Builder
	if subj := decodeSubject(h["subject"]); strings.TrimSpace(subj) != "" {
		b.WriteString(strings.TrimSpace(subj))
		b.WriteString("\n\n")
	}
	for i, t := range texts {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(t)
	}
	s := strings.ReplaceAll(b.String(), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return cleanDoc(strings.ToValidUTF8(s, "\uFFFD"))
}

// mailWalker collects the text parts of a message.
type mailWalker struct {
	plain, html []string
	parts       int
}

func (w *mailWalker) entity(h map[string]string, body []byte, depth int) {
	w.parts++
	mt, params, err := mime.ParseMediaType(h["content-type"])
	switch {
	case h["content-type"] == "" || (err != nil && mt == ""):
		mt, params = "text/plain", nil
	case params == nil: // a broken parameter: ParseMediaType drops them all
		params = map[string]string{"boundary": mediaParam(h["content-type"], "boundary"),
			"charset": mediaParam(h["content-type"], "charset")}
	}
	cte := strings.ToLower(strings.TrimSpace(h["content-transfer-encoding"]))
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if depth < maxMailDepth && params["boundary"] != "" {
			if parts := splitMultipart(body, params["boundary"]); len(parts) > 0 {
				for _, p := range parts {
					if w.parts >= maxMailParts {
						return
					}
					ph, pb := splitHeader(p)
					w.entity(ph, pb, depth+1)
				}
				return
			}
		}
		w.plain = addText(w.plain, toUTF8(body, ""))
	case mt == "text/html":
		w.html = addText(w.html, toUTF8(decodeTransfer(body, cte), params["charset"]))
	case strings.HasPrefix(mt, "text/"):
		w.plain = addText(w.plain, toUTF8(decodeTransfer(body, cte), params["charset"]))
	}
}

// addText appends a part's text, cleaned, unless it is blank.
func addText(texts []string, t string) []string {
	if t = cleanDoc(t); t != "" {
		texts = append(texts, t)
	}
	return texts
}

// mediaParam finds name=value or name="value" in a Content-Type that
// mime.ParseMediaType rejects ("" when absent).
func mediaParam(ct, name string) string {
	for f := range strings.SplitSeq(ct, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), name) {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' {
			if end := strings.IndexByte(v[1:], '"'); end >= 0 {
				return v[1 : 1+end]
			}
		}
		return strings.Trim(v, `"`)
	}
	return ""
}

// splitHeader reads a header block (up to the first empty line, or all of
// b when there is none) into lower-case field names and their first
// unfolded values, and returns the rest as the body. Lines that are not
// fields or continuations are ignored.
func splitHeader(b []byte) (map[string]string, []byte) {
	h := map[string]string{}
	var name string
	var val []byte
	flush := func() {
		if _, dup := h[name]; name != "" && !dup {
			h[name] = string(val)
		}
		name, val = "", nil
	}
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte("\n"))
		b = rest
		switch {
		case len(bytes.TrimRight(line, "\r")) == 0:
			flush()
			return h, b
		case line[0] == ' ' || line[0] == '\t':
			if name != "" {
				val = append(append(val, ' '), bytes.TrimSpace(line)...)
			}
		default:
			flush()
			if i := bytes.IndexByte(line, ':'); i > 0 && fieldName(line[:i]) {
				name, val = strings.ToLower(string(line[:i])), bytes.TrimSpace(line[i+1:])
			}
		}
	}
	flush()
	return h, nil
}

// fieldName reports whether b is a header field name (printable ASCII
// other than space and colon).
func fieldName(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

// splitMultipart cuts a multipart body at its "--boundary" lines (trailing
// white space allowed) up to the closing "--boundary--", dropping the
// preamble and epilogue. Nil when no boundary line is found.
func splitMultipart(body []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1 // start of the current part, −1 before the first delimiter
	for i := 0; i < len(body); {
		end := bytes.IndexByte(body[i:], '\n')
		next := len(body)
		if end >= 0 {
			end += i
			next = end + 1
		} else {
			end = len(body)
		}
		line := bytes.TrimRight(body[i:end], " \t\r")
		if bytes.HasPrefix(line, delim) {
			tail := line[len(delim):]
			if len(tail) == 0 || bytes.Equal(tail, []byte("--")) {
				if start >= 0 {
					// The line end before a delimiter is the delimiter's.
					parts = append(parts, bytes.TrimSuffix(body[start:max(start, i)], []byte("\n")))
				}
				if len(tail) > 0 {
					return parts
				}
				start = next
			}
		}
		i = next
	}
	if start >= 0 && start < len(body) {
		parts = append(parts, body[start:]) // no closing delimiter
	}
	return parts
}

// decodeTransfer undoes a base64 or quoted-printable transfer encoding;
// other encodings (7bit, 8bit, binary, unknown) are returned as they are.
func decodeTransfer(b []byte, cte string) []byte {
	switch cte {
	case "base64":
		clean := make([]byte, 0, len(b))
		for _, c := range b {
			if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' {
				clean = append(clean, c)
			}
		}
		if len(clean)%4 == 1 {
			clean = clean[:len(clean)-1]
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, clean)
		return out[:n]
	case "quoted-printable":
		return decodeQP(b)
	}
	return b
}

// decodeQP decodes quoted-printable leniently: "=XX" (either case) is a
// byte, "=" before a line end (after optional blanks) a soft line break,
// any other "=" itself.
func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '=' {
			out = append(out, b[i])
			continue
		}
		j := i + 1
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r') {
			j++
		}
		if j == len(b) || b[j] == '\n' {
			i = j // soft line break: skip through the newline
			continue
		}
		if i+2 < len(b) && unhex(b[i+1]) >= 0 && unhex(b[i+2]) >= 0 {
			out = append(out, byte(unhex(b[i+1])<<4|unhex(b[i+2])))
			i += 2
			continue
		}
		out = append(out, '=')
	}
	return out
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// decodeSubject decodes RFC 2047 encoded words, the charsets as toUTF8
// does; a header that does not decode is kept as it is.
func decodeSubject(s string) string {
	dec := mime.WordDecoder{CharsetReader: func(charset string, in io.Reader) (io.Reader, error) {
		b, err := io.ReadAll(io.LimitReader(in, MaxFileSize))
		return strings.NewReader(toUTF8(b, charset)), err
	}}
	if d, err := dec.DecodeHeader(s); err == nil {
		s = d
	}
	return toUTF8([]byte(s), "")
}

// toUTF8 converts text in a charset to UTF-8 as MailText says.
func toUTF8(b []byte, charset string) string {
	switch strings.ToLower(strings.Trim(charset, "\"' ")) {
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "windows-1252", "cp1252", "x-cp1252":
		return decodeSingleByte(b, nil)
	case "iso-8859-15", "iso8859-15", "iso_8859-15", "latin-9", "latin9":
		return decodeSingleByte(b, latin9)
	case "", "us-ascii", "ascii", "utf-8", "utf8", "default", "default_charset":
		if utf8.Valid(b) {
			return string(b)
		}
		return decodeSingleByte(b, nil)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// latin9 is ISO-8859-15 where it differs from ISO-8859-1.
var latin9 = map[byte]rune{0xA4: '€', 0xA6: 'Š', 0xA8: 'š', 0xB4: 'Ž', 0xB8: 'ž', 0xBC: 'Œ', 0xBD: 'œ', 0xBE: 'Ÿ'}

// cp1252 is Windows-1252's 0x80–0x9F (the five unassigned bytes kept as
// the C1 controls, as WHATWG's decoder does); above, it is ISO-8859-1.
var cp1252 = [32]rune{
	'€', 0x81, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0x8D, 'Ž', 0x8F,
	0x90, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0x9D, 'ž', 'Ÿ',
}

// decodeSingleByte reads b as Windows-1252 (ISO-8859-1 with cp1252's
// 0x80–0x9F), with over's exceptions.
func decodeSingleByte(b []byte, over map[byte]rune) string {
	var s strings.Builder
	s.Grow(len(b) + len(b)/8)
	for _, c := range b {
		switch r, ok := over[c]; {
		case ok:
			s.WriteRune(r)
		case c < 0x80:
			s.WriteByte(c)
		case c < 0xA0:
			s.WriteRune(cp1252[c-0x80])
		default:
			s.WriteRune(rune(c))
		}
	}
	return s.String()
}
