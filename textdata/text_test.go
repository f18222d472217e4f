package textdata

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A file is cut into paragraphs by default (BOM dropped, CRLF read as LF,
// white-space-only lines blank), or into lines, or kept whole.
func TestLoadTextFile(t *testing.T) {
	path := filepath.Join("testdata", "text", "corpus.txt")
	for _, c := range []struct {
		docs string
		want []string
	}{
		{"", []string{"First paragraph,\nstill the first.", "Second paragraph.", "Third: naïve."}},
		{DocsLines, []string{"First paragraph,", "still the first.", "Second paragraph.", "Third: naïve."}},
		{DocsFile, []string{"First paragraph,\nstill the first.\n\n  \t \nSecond paragraph.\n\n\n\nThird: naïve."}},
	} {
		corp, err := LoadText(path, TextOptions{Docs: c.docs})
		if err != nil {
			t.Fatal(err)
		}
		if got := corp.Texts(); !slices.Equal(got, c.want) {
			t.Errorf("docs=%q: %q, want %q", c.docs, got, c.want)
		}
		if corp.Labelled() || corp.Docs[0].Label != Unlabelled {
			t.Errorf("docs=%q: a file's documents are labelled", c.docs)
		}
	}
	corp, _ := LoadText(path, TextOptions{})
	if corp.Docs[1].Source != "corpus.txt#2" {
		t.Errorf("source %q, want corpus.txt#2", corp.Docs[1].Source)
	}
}

// A folder gives one document per .txt file (recursively, sorted, hidden
// and other files left out, empty files dropped); labels=folders labels
// them by their top sub-folder.
func TestLoadTextFolder(t *testing.T) {
	dir := filepath.Join("testdata", "text", "classes")
	c, err := LoadText(dir, TextOptions{LabelFolders: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range c.Docs {
		got = append(got, c.Classes[d.Label]+" "+d.Source+" "+d.Text)
	}
	want := []string{"neg neg/a.txt Terrible film.", "neg neg/more/b.TXT Dull and long.", "pos pos/c.txt A delight."}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	c, err = LoadText(dir, TextOptions{})
	if err != nil || c.Labelled() || c.Len() != 3 {
		t.Errorf("unlabelled folder: %v docs, labelled %v, %v", c.Len(), c.Labelled(), err)
	}
	// Top-level files cannot be labelled; one class is not a classification.
	if _, err := LoadText(filepath.Join("testdata", "text"), TextOptions{LabelFolders: true}); err == nil || !strings.Contains(err.Error(), "corpus.txt") {
		t.Errorf("a top-level file under labels=folders: %v", err)
	}
	one := t.TempDir()
	os.MkdirAll(filepath.Join(one, "only"), 0o755)
	os.WriteFile(filepath.Join(one, "only", "x.txt"), []byte("x"), 0o644)
	if _, err := LoadText(one, TextOptions{LabelFolders: true}); err == nil {
		t.Error("a single class folder was accepted")
	}
	if _, err := LoadText(filepath.Join("testdata", "text", "corpus.txt"), TextOptions{LabelFolders: true}); err == nil {
		t.Error("labels=folders on a file was accepted")
	}
}

// Invalid UTF-8 is an error that names the file and the byte offset.
func TestLoadTextInvalidUTF8(t *testing.T) {
	p := filepath.Join(t.TempDir(), "latin1.txt")
	os.WriteFile(p, []byte("ok line\ncaf\xe9\n"), 0o644)
	_, err := LoadText(p, TextOptions{})
	if !errors.Is(err, ErrData) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "offset 11") {
		t.Errorf("got %v, want an ErrData naming %s and offset 11", err, p)
	}
	if _, err := LoadText(filepath.Join(t.TempDir(), "nope"), TextOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing path: %v, want ErrNotFound", err)
	}
	if _, err := LoadText(t.TempDir(), TextOptions{}); !errors.Is(err, ErrData) {
		t.Errorf("a folder without .txt files: %v", err)
	}
	if _, err := LoadText(p, TextOptions{Docs: "words"}); err == nil {
		t.Error("docs=words accepted")
	}
}

func TestInvalidUTF8Offset(t *testing.T) {
	for in, want := range map[string]int{"": -1, "abc": -1, "né": -1, "a\xffb": 1, "ab\xe2\x82": 2, "\xed\xa0\x80": 0} {
		if got := invalidUTF8([]byte(in)); got != want {
			t.Errorf("invalidUTF8(%q) = %d, want %d", in, got, want)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
