package textdata

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitFortunes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"%\n%\n", nil},
		{"one\n%\ntwo\n", []string{"one", "two"}},
		{"one\r\n%\r\ntwo\r\n%\r\n", []string{"one", "two"}},
		{"%\n\n  art\n  more  \n\n%", []string{"  art\n  more"}},
		{"a\n%%\nb\n% c\n%", []string{"a\n%%\nb\n% c"}},
		{"a\n%\n", []string{"a"}},
		{"a\n %\nb", []string{"a\n %\nb"}},
	} {
		if got := SplitFortunes(c.in); !slices.Equal(got, c.want) {
			t.Errorf("SplitFortunes(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// SplitFortunes never panics; its epigrams are non-empty, cleaned, hold no
// separator line (but the last, see below), and are valid UTF-8 when the
// input is.
func FuzzSplitFortunes(f *testing.F) {
	for _, s := range []string{"", "%", "a\n%\nb", "%\r\n\r\n%", "\n%\n\n", "x\n%%\n%\n", "caf\xc3\xa9\n%\n\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, e := range SplitFortunes(in) {
			if e == "" || e != cleanDoc(e) {
				t.Fatalf("epigram %q is empty or not cleaned", e)
			}
			// Only a last line "% " can read "%" once its trailing blank
			// is cleaned off; strfile does not take it as a separator.
			if lines := strings.Split(e, "\n"); slices.Contains(lines[:len(lines)-1], "%") {
				t.Fatalf("epigram %q holds a separator", e)
			}
			if utf8.ValidString(in) && !utf8.ValidString(e) {
				t.Fatalf("valid input gave invalid epigram %q", e)
			}
		}
	})
}

// fortuneFixture copies testdata/fortunes into a temp folder with what
// git does not carry well: strfile indexes and Debian's .u8 links.
func fortuneFixture(t *testing.T) string {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "fortunes"))); err != nil {
		t.Fatal(err)
	}
	dat := func(path string, flags uint32) {
		var h [24]byte
		binary.BigEndian.PutUint32(h[0:], 2)
		binary.BigEndian.PutUint32(h[16:], flags)
		h[20] = '%'
		if err := os.WriteFile(path, h[:], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dat(filepath.Join(dir, "beta.dat"), 0)
	dat(filepath.Join(dir, "off", "gamma.dat"), fortuneRotated)
	for _, l := range [][2]string{{"alpha", "alpha.u8"}, {"beta", "beta.u8"}, {"beta", "beta-again"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Skip("no symlinks here:", err)
		}
	}
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("not a database"), 0o644)
	return dir
}

func TestFortuneFixture(t *testing.T) {
	dir := fortuneFixture(t)
	names, err := FortuneDatabases(dir)
	if err != nil || !slices.Equal(names, []string{"alpha", "beta"}) {
		t.Fatalf("databases %q, %v; want alpha and beta (no .dat, .u8, links to them, hidden files or off/)", names, err)
	}
	c, err := Fortune(dir, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A fool and his money are soon parted.", "   Indented first line,\n\tand a tab.",
		"The only way to have a friend is to be one.\n\t\t-- Ralph Waldo Emerson", "%% is not a separator\n% nor is this",
		"Excuse one.", "Excuse two: café."}
	if got := c.Texts(); !slices.Equal(got, want) {
		t.Errorf("epigrams %q,\nwant %q", got, want)
	}
	if c.Docs[5].Source != "beta#2" || c.Labelled() {
		t.Errorf("source %q, labelled %v", c.Docs[5].Source, c.Labelled())
	}
	// off/ is read only when named, and its ROT13 is undone.
	c, err = Fortune(dir, []string{"off/gamma"}, false)
	if err != nil || !slices.Equal(c.Texts(), []string{"This is rotated.", "Second."}) {
		t.Errorf("off/gamma: %q, %v", c.Texts(), err)
	}
	c, err = Fortune(dir, []string{"beta", "alpha"}, true)
	if err != nil || !slices.Equal(c.Classes, []string{"alpha", "beta"}) || !slices.Equal(c.ClassCounts(), []int{4, 2}) {
		t.Errorf("labels=files: classes %q counts %v, %v", c.Classes, c.ClassCounts(), err)
	}
	if _, err := Fortune(dir, []string{"alpha"}, true); err == nil {
		t.Error("labels=files with one database accepted")
	}
	if _, err := Fortune(dir, []string{"nope"}, false); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "alpha, beta") {
		t.Errorf("a missing database: %v, want ErrNotFound listing alpha, beta", err)
	}
	for _, bad := range []string{"../alpha", "/etc/passwd", "alpha.dat", "alpha.u8", ""} {
		if _, err := Fortune(dir, []string{bad}, false); err == nil {
			t.Errorf("database name %q accepted", bad)
		}
	}
	os.WriteFile(filepath.Join(dir, "latin1"), []byte("ok\n%\nol\xe9\n"), 0o644)
	if _, err := Fortune(dir, nil, false); err == nil || !strings.Contains(err.Error(), "latin1") || !strings.Contains(err.Error(), "offset 7") {
		t.Errorf("invalid UTF-8: %v, want an error naming latin1 and offset 7", err)
	}
	_, err = Fortune(filepath.Join(dir, "missing"), nil, false)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "apt-get install") || !strings.Contains(err.Error(), FortuneEnv) {
		t.Errorf("a missing folder: %v, want ErrNotFound with the install line and %s", err, FortuneEnv)
	}
}

// The installed databases (Debian fortune-mod, fortunes-min; skipped
// without them).
func TestFortuneInstalled(t *testing.T) {
	c, err := Resolve("fortune", Options{})
	if errors.Is(err, ErrNotFound) {
		t.Skipf("fortune databases not installed (%s): %v", FortuneInstall, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() < 100 {
		t.Errorf("only %d epigrams", c.Len())
	}
	t.Logf("%s: %s", c.Name, c.Fingerprint())
}
