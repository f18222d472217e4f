package textdata

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRoffText(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"comments", ".\\\" a comment\n'\\\" t\ntext \\\" trailing comment\nmore\\# groff comment\nnext", "text\nmorenext"},
		{"requests dropped", ".TH LS 1 \"2024\"\n.nf\n.ft CW\nplain\n.if n .sp\n.br\nline", "plain\nline"},
		{"headings", ".SH NAME\nls \\- list\n.SS \"Sub heading\"\nx", "NAME\nls - list\n\nSub heading\nx"},
		{"fonts", ".B bold words\n.I \"in quotes\" too\n.BR ls (1),\n.IR file .conf\n.RB [ \\-a ]\n.BI \"a b\" c", "bold words\nin quotes too\nls(1),\nfile.conf\n[-a]\na bc"},
		{"quotes", ".B \"say \"\"hi\"\"\" x", `say "hi" x`},
		{"paragraphs", "one\n.PP\ntwo\n.TP\n.B \\-v\nverbose\n.IP \\(bu 2\nitem\n.IP\nmore", "one\n\ntwo\n\n-v\nverbose\n\n•\nitem\n\nmore"},
		{"blank runs", "a\n\n\n.PP\n\n.sp\nb\n\n", "a\n\nb"},
		{"font escapes", `\fBbold\fR, \fIit\fP, \f(CWmono\f[], \f[CB]x\fR`, "bold, it, mono, x"},
		{"chars", `\(em \(en \(aq \(dq \(bu \(xx \[em] \[u00E9] \[nope] \(lqq\(rq`, `— – ' " •  — é  “q”`},
		{"escapes", `a\-b \e \&.dot \|x\^y c\c \ z \*(Tm\*R\*[foo] \s-1small\s0 \s+2big\s10 \%hy`, `a-b \ .dot xy c  z  small big hy`},
		{"other escapes", `\.a \'b \n(xx\n[reg]\nr \h'3n'\v'-1'w\w'abc' \~nb \0d`, ".a 'b  w  nb  d"},
		{"backslash", `x\\y \(rsz`, `x\y \z`},
		{"continuation", "one \\\ntwo\n.B a\\\nb", "one two\nab"},
		{"macro definition", ".de Sp \\\" vertical space\n.if t .sp .5v\ntext in a macro\n..\n.ig\nignored\n..\nkept", "kept"},
		{"nested definition", ".if n \\{\\\n.  mso www.tmac\n.  am URL\ntext in it\n.    ad l\n.  .\n.\\}\n.SH \"NAME\"\nx", "NAME\nx"},
		{"table", ".TS\nallbox;\nl l.\nname\tvalue\nT{\nlong cell\nT}\tx\n.TE\nafter", "name\tvalue\nlong cell\n\tx\nafter"},
		{"tab after request", ".B\tword\n.SH\t\"A B\"", "word\n\nA B"},
		{"crlf and indent", ".SH X\r\n  indented\r\n", "X\n  indented"},
		{"empty", ".\\\" only\n.TH X 1\n.so man1/y.1\n", ""},
		{"utf-8", `caf\(aqé \fBnaïve\fR \(é \[é] \sé`, "caf'é naïve  é"},
	} {
		if got := RoffText(c.in); got != c.want {
			t.Errorf("%s: RoffText(%q)\n= %q\nwant %q", c.name, c.in, got, c.want)
		}
	}
}

// RoffText never panics, its text is cleaned (as Doc says) and is valid
// UTF-8 when the input is.
func FuzzRoffText(f *testing.F) {
	for _, s := range []string{"", ".SH NAME\nls \\- list", `\f(BIx\*[y]\s+2z\(em\[u1F600]`, ".de X\n..\n.TS\nl.\na\tb\n.TE",
		".BR \"a \"\"b\" c\\", `\C'em'\h'é'\w`, "\\", "\\\\\n\\\n", `\(` + "é", `\[u` + "\xff", `\s` + "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := RoffText(in)
		if out != cleanDoc(out) || strings.Contains(out, "\n\n\n") {
			t.Fatalf("RoffText(%q) = %q: not cleaned", in, out)
		}
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("RoffText(%q) = %q: invalid UTF-8", in, out)
		}
	})
}
