package textdata

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMailText(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain, folded subject, mbox line", "From a@b  Thu Aug 22 12:36:23 2002\nSubject: Re: one\n two\nX-Other: dropped\n\nBody line.\n",
			"Re: one two\n\nBody line."},
		{"no subject, CRLF", "To: x\r\n\r\nHello\r\nworld\r\n", "Hello\nworld"},
		{"encoded subject", "Subject: =?ISO-8859-1?Q?Caf=E9?= =?utf-8?b?4pyT?=\n\nx", "Café✓\n\nx"},
		{"raw 8-bit subject", "Subject: na\xefve\n\nx", "naïve\n\nx"},
		{"quoted-printable cp1252", "Content-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: quoted-printable\n\n=93hi=94 a=3Db =\nsoft\n=ZZ\n",
			"“hi” a=b soft\n=ZZ"},
		{"base64 html", "Content-Type: text/html\nContent-Transfer-Encoding: BASE64\n\nPGI+\neDwv\nYj4=\n", "<b>x</b>"},
		{"latin-9", "Content-Type: text/plain; charset=iso-8859-15\n\n5 \xa4", "5 €"},
		{"other charset", "Content-Type: text/plain; charset=big5\n\nok \xa7\xda", "ok \uFFFD"},
		{"multipart prefers plain", "Subject: s\nContent-Type: multipart/alternative; boundary=\"b1\"\n\npreamble\n--b1\nContent-Type: text/html\n\n<p>html</p>\n--b1\nContent-Type: text/plain\n\nplain\n--b1--\nepilogue\n",
			"s\n\nplain"},
		{"multipart html only, attachment dropped", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n\n<p>h</p>\n--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAAA\n--b--\n",
			"<p>h</p>"},
		{"nested multipart, two plain parts", "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\nContent-Type: text/plain\n\none\n--i--\n--o\nContent-Type: text/plain\n\ntwo\n--o--\n",
			"one\n\ntwo"},
		{"multipart without its boundary", "Content-Type: multipart/mixed; boundary=zz\n\n--b\nnot split\n", "--b\nnot split"},
		{"broken parameter keeps the boundary", "Content-Type: multipart/alternative; boundary=\"q\"; charset=3Dbad=\n\n--q\nContent-Type: text/plain\n\nfound\n--q--",
			"found"},
		{"no header end", "Subject: only headers", "only headers"},
		{"image only", "Subject: pic\nContent-Type: image/gif\n\nGIF89a", "pic"},
		{"empty", "", ""},
	} {
		if got := MailText([]byte(c.in)); got != c.want {
			t.Errorf("%s: MailText = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestDecodeQP(t *testing.T) {
	for in, want := range map[string]string{"a=3d=3Db": "a==b", "x=\r\ny": "xy", "x= \ny": "xy", "end=": "end", "=4": "=4", "=\n": "", "100%=": "100%"} {
		if got := string(decodeQP([]byte(in))); got != want {
			t.Errorf("decodeQP(%q) = %q, want %q", in, got, want)
		}
	}
}

// MailText never panics and always returns cleaned valid UTF-8, whatever
// the bytes.
func FuzzMailText(f *testing.F) {
	for _, s := range []string{
		"", "Subject: x\n\nbody", "From x\n", "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--b--",
		"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; boundary=b\n\n--b\n",
		"Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: base64\n\n/w==",
		"Content-Transfer-Encoding: quoted-printable\n\n=\r\n=F", "Subject: =?x?q?=ff?=\n\n\xff\xfe",
		"Content-Type: ;;;\n\n\r\r\n", " folded\n\tcontinuation\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := MailText(in)
		if !utf8.ValidString(out) || out != cleanDoc(out) || strings.Contains(out, "\r") {
			t.Fatalf("MailText(%q) = %q: not cleaned valid UTF-8", in, out)
		}
	})
}
