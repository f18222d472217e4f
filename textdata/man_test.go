package textdata

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeGzip writes content gzip-compressed to path.
func writeGzip(t *testing.T, path, content string) {
	t.Helper()
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	z.Write([]byte(content))
	z.Close()
	writeFile(t, path, b.String())
}

// manFixture is a man root: pages in man1 and man8 (gzipped and plain), a
// link to a page in the same section and one to a page in another, a .so
// redirect, a page of comments only, a page over MaxManPage, files that
// are not pages, an empty man5 and a language folder.
func manFixture(t *testing.T) string {
	dir := t.TempDir()
	writeGzip(t, filepath.Join(dir, "man1", "ls.1.gz"), ".\\\" generated\n.TH LS 1\n.SH NAME\nls \\- list directory contents\n.SH DESCRIPTION\nList \\fIFILE\\fRs.\n.TP\n.BR \\-a \", \" \\-\\-all\nShow all.\n")
	writeFile(t, filepath.Join(dir, "man1", "cat.1"), ".TH CAT 1\n.SH NAME\ncat \\(em concatenate files\n")
	writeGzip(t, filepath.Join(dir, "man1", "list.1.gz"), "'\\\" redirect\n.so man1/ls.1\n")
	writeGzip(t, filepath.Join(dir, "man1", "blank.1.gz"), ".\\\" nothing here\n.TH BLANK 1\n")
	writeGzip(t, filepath.Join(dir, "man1", "huge.1.gz"), ".SH NAME\n"+strings.Repeat("huge page\n", MaxManPage/10+1))
	writeGzip(t, filepath.Join(dir, "man8", "mount.8.gz"), ".TH MOUNT 8\n.SH NAME\nmount \\- mount a filesystem\n")
	writeGzip(t, filepath.Join(dir, "man8", ".hidden.8.gz"), ".SH HIDDEN\n")
	writeFile(t, filepath.Join(dir, "man8", "xz.8.xz"), "\xfd7zXZ\x00")
	writeGzip(t, filepath.Join(dir, "de", "man1", "ls.1.gz"), ".SH NAME\nls \\- Verzeichnisinhalte auflisten\n")
	writeGzip(t, filepath.Join(dir, "man10", "x.10.gz"), ".SH NAME\nnot a section\n")
	if err := os.Mkdir(filepath.Join(dir, "man5"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"ls.1.gz", "man1/dir.1.gz"}, {"../man8/mount.8.gz", "man1/umount.1.gz"}, {"gone.1.gz", "man1/dangling.1.gz"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Skip("no symlinks here:", err)
		}
	}
	return dir
}

func sources(c *Corpus) []string {
	var out []string
	for _, d := range c.Docs {
		out = append(out, d.Source)
	}
	return out
}

func TestManFixture(t *testing.T) {
	dir := manFixture(t)
	c, err := Man(dir, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sources(c), []string{"man1/cat.1", "man1/ls.1.gz", "man8/mount.8.gz"}; !slices.Equal(got, want) {
		t.Errorf("pages %q, want %q (no links to pages read, redirect, blank, huge, hidden, .xz, de/ or man10/ page)", got, want)
	}
	want := []string{"NAME\ncat — concatenate files", "NAME\nls - list directory contents\n\nDESCRIPTION\nList FILEs.\n\n-a, --all\nShow all.",
		"NAME\nmount - mount a filesystem"}
	if got := c.Texts(); !slices.Equal(got, want) {
		t.Errorf("texts %q,\nwant %q", got, want)
	}
	if c.Labelled() || c.Docs[0].Label != Unlabelled {
		t.Error("unlabelled pages carry labels")
	}
	// Alone, man1 keeps the link into man8: its page is not read.
	c, err = Man(dir, []int{1}, false)
	if got, want := sources(c), []string{"man1/cat.1", "man1/ls.1.gz", "man1/umount.1.gz"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("man1 alone: %q, %v; want %q", got, err, want)
	}
	// An empty section folder is no class unless named.
	c, err = Man(dir, nil, true)
	if err != nil || !slices.Equal(c.Classes, []string{"1", "8"}) || !slices.Equal(c.ClassCounts(), []int{2, 1}) {
		t.Fatalf("labelled: classes %q counts %v, %v", c.Classes, c.ClassCounts(), err)
	}
	if _, err := Man(dir, []int{1, 5}, false); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "man5") {
		t.Errorf("an empty named section: %v, want ErrNotFound naming man5", err)
	}
	if _, err := Man(dir, []int{3}, false); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "man3") || !strings.Contains(err.Error(), "man1, man5, man8") {
		t.Errorf("a missing section: %v, want ErrNotFound naming man3 and the sections there", err)
	}
	if _, err := Man(dir, []int{8}, true); !errors.Is(err, ErrData) {
		t.Errorf("labels=sections with one section: %v", err)
	}
	if _, err := Man(dir, []int{0}, false); !errors.Is(err, ErrData) {
		t.Errorf("section 0: %v", err)
	}
	before, err := Man(dir, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "man8", "latin1.8"), ".SH NAME\nol\xe9\n")
	if c, skips, err := loadMan(dir, nil, false); err != nil || c.Len() != before.Len() || skips.invalid != 1 {
		t.Errorf("a page not in UTF-8: %v, %d pages (%d before), %+v; want it skipped and counted", err, c.Len(), before.Len(), skips)
	}
	writeFile(t, filepath.Join(dir, "man8", "latin1.8"), "not gzip")
	writeFile(t, filepath.Join(dir, "man8", "broken.8.gz"), "not gzip")
	if _, err := Man(dir, nil, false); !errors.Is(err, ErrData) || !strings.Contains(err.Error(), "broken.8.gz") {
		t.Errorf("a broken .gz: %v, want an error naming it", err)
	}
	missing := filepath.Join(dir, "missing")
	for _, d := range []string{missing, filepath.Join(dir, "de", "man1")} {
		if _, err := Man(d, nil, false); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), d) || !strings.Contains(err.Error(), ManEnv) {
			t.Errorf("%s: %v, want ErrNotFound naming the folder and %s", d, err, ManEnv)
		}
	}
}

func TestResolveMan(t *testing.T) {
	dir := manFixture(t)
	var log strings.Builder
	c, err := Resolve("man:8,1,1,labels=sections", Options{ManDir: dir, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "man:1,8,labels=sections" || !slices.Equal(c.Classes, []string{"1", "8"}) || !slices.Equal(c.ClassCounts(), []int{2, 1}) {
		t.Errorf("name %q classes %q counts %v", c.Name, c.Classes, c.ClassCounts())
	}
	for _, want := range []string{"3 documents", dir, "per class [2 1]", "skipped 2 links to pages read, 1 .so redirects, 1 pages over"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log %q, want it to say %q", log.String(), want)
		}
	}
	// $GLORA_MAN_DIR moves the default folder; Options.ManDir overrides both.
	t.Setenv(ManEnv, dir)
	if ManDir() != dir {
		t.Errorf("ManDir() = %q with %s=%s", ManDir(), ManEnv, dir)
	}
	if c, err := Resolve("man", Options{}); err != nil || c.Len() != 3 || c.Name != "man" {
		t.Errorf("man from %s: %v, %v", ManEnv, c, err)
	}
	missing := filepath.Join(t.TempDir(), "none")
	_, err = Resolve("man:1", Options{ManDir: missing})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), ManEnv) || !strings.Contains(err.Error(), ManInstall) {
		t.Errorf("a missing man folder: %v", err)
	}
	t.Setenv(ManEnv, "")
	if ManDir() != ManDefaultDir {
		t.Errorf("ManDir() = %q, want %s", ManDir(), ManDefaultDir)
	}
}

// The installed section 8 (skipped without it): a real page reads as text.
func TestManInstalled(t *testing.T) {
	c, err := Resolve("man:8", Options{})
	if errors.Is(err, ErrNotFound) {
		t.Skipf("no manual pages in section 8 (%s): %v", ManInstall, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range c.Docs {
		for _, l := range strings.Split(d.Text, "\n") {
			if strings.HasPrefix(l, ".SH") || strings.HasPrefix(l, ".TH") || strings.HasPrefix(l, ".PP") || strings.HasPrefix(l, `.\"`) {
				t.Fatalf("%s: roff request left: %q", d.Source, l)
			}
		}
	}
	t.Logf("%s: %s", c.Name, c.Fingerprint())
}
