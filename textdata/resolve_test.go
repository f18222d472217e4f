package textdata

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	for _, c := range []struct{ in, canonical string }{
		{"spam", "spam"},
		{"fortune", "fortune"},
		{"fortune:zippy,cookie,zippy", "fortune:cookie,zippy"},
		{"fortune:labels=files,off/linux", "fortune:off/linux,labels=files"},
		{"fortune:cookie,labels=none", "fortune:cookie"},
		{"text:a/b.txt", "text:a/b.txt"},
		{"text:x,y/z,labels=folders,docs=lines", "text:x,y/z,docs=lines,labels=folders"},
		{"text:dir,docs=file", "text:dir,docs=file"},
		{"text:a=b", "text:a=b"},
		{"man", "man"},
		{"man:8,1,8", "man:1,8"},
		{"man:labels=sections,5", "man:5,labels=sections"},
		{"man:labels=sections", "man:labels=sections"},
		{"man:3,labels=none", "man:3"},
		{"man:9,8,7,6,5,4,3,2,1", "man"},
		// the options of all sections or databases, without a colon
		{"man,labels=sections", "man:labels=sections"},
		{"fortune,labels=files", "fortune:labels=files"},
	} {
		s, err := ParseSpec(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if s.String() != c.canonical {
			t.Errorf("%s: %q, want %q", c.in, s.String(), c.canonical)
		}
	}
	if s, _ := ParseSpec("text:x,y/z,labels=folders"); s.Path != "x,y/z" || !s.Labels {
		t.Errorf("path with a comma: %+v", s)
	}
	if s, _ := ParseSpec("text:rel"); !filepath.IsAbs(s.Abs().Path) {
		t.Errorf("Abs kept %q relative", s.Abs().Path)
	}
	for _, bad := range []string{"", "spam:x", "fortune:", "fortune:a,,b", "fortune:../x", "fortune:x.dat", "fortune:labels=dirs",
		"text:", "text:,docs=file", "text:x,docs=words", "text:x,labels=files", "text:x,docs=file,docs=lines", "wiki", "fortunes",
		"man:", "man:0", "man:10", "man:1,,8", "man:x", "man:1a", "man:labels=files", "man:docs=file", "mans", "man:ls",
		"man,", "man,1", "man,labels=files", "fortune,labels=sections", "spam,labels=x", "text,labels=folders"} {
		if _, err := ParseSpec(bad); !errors.Is(err, ErrData) {
			t.Errorf("%q: %v, want ErrData", bad, err)
		}
	}
}

// An unknown spec lists the valid ones.
func TestResolveErrors(t *testing.T) {
	_, err := Resolve("wiki", Options{})
	for _, want := range []string{`"wiki"`, "text:PATH", "fortune", "man[:SECTION", "spam"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("unknown spec: %v, want it to say %s", err, want)
		}
	}
	_, err = Resolve("fortune", Options{FortuneDir: filepath.Join(t.TempDir(), "none")})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "apt-get install -y fortune-mod fortunes-min") {
		t.Errorf("missing fortunes: %v", err)
	}
	_, err = Resolve("spam", Options{SpamDir: t.TempDir()})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), SpamInstall) {
		t.Errorf("missing spam: %v", err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "blank.txt"), " \n\n\t\n")
	if _, err := Resolve("text:"+dir, Options{}); !errors.Is(err, ErrData) || !strings.Contains(err.Error(), "empty corpus") {
		t.Errorf("a corpus of blank files: %v, want an empty-corpus error", err)
	}
}

func TestResolveFixtures(t *testing.T) {
	var log strings.Builder
	c, err := Resolve("fortune:beta,alpha,labels=files", Options{FortuneDir: fortuneFixture(t), Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "fortune:alpha,beta,labels=files" || c.Len() != 6 || !strings.Contains(log.String(), "6 documents") {
		t.Errorf("name %q, %d docs, log %q", c.Name, c.Len(), log.String())
	}
	c, err = Resolve("spam", Options{SpamDir: filepath.Join("testdata", "spam")})
	if err != nil || c.Len() != 4 || !reflect.DeepEqual(c.Classes, SpamClasses) {
		t.Errorf("spam fixture: %v, %v", c, err)
	}
	c, err = Resolve("text:"+filepath.Join("testdata", "text", "classes")+",labels=folders", Options{})
	if err != nil || c.Len() != 3 || len(c.Classes) != 2 {
		t.Errorf("text fixture: %v, %v", c, err)
	}
}

// ParseSpec never panics, and a parsed spec's one spelling parses back to
// the same spec.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"spam", "fortune", "fortune:a,b,labels=files", "text:x,docs=lines", "text:a,b,labels=folders", "text:,", "fortune:,",
		"man", "man:1,8,labels=sections", "man:1,2,3,4,5,6,7,8,9", "man:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSpec(in)
		if err != nil {
			return
		}
		again, err := ParseSpec(s.String())
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("%q → %q → %+v, %v; want %+v", in, s.String(), again, err, s)
		}
	})
}
