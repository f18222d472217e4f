package textdata

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxFileSize is the largest file any loader reads (text, fortune database
// or mail); a larger one is an error rather than an allocation.
const MaxFileSize = 256 << 20

// How a text file is cut into documents (TextOptions.Docs).
const (
	DocsFile       = "file"       // the whole file is one document
	DocsParagraphs = "paragraphs" // documents are separated by blank lines
	DocsLines      = "lines"      // each non-blank line is a document
)

// TextOptions says how LoadText cuts and labels files.
type TextOptions struct {
	// Docs is DocsFile, DocsParagraphs or DocsLines; "" is DocsParagraphs
	// for a file and DocsFile for a folder.
	Docs string
	// LabelFolders labels each file of a folder by the sub-folder of the
	// folder that holds it (see LoadText).
	LabelFolders bool
}

// LoadText loads the text file or folder at path.
//
// A file is read as UTF-8 (a leading byte-order mark dropped, "\r\n" read
// as "\n") and cut into documents by opt.Docs: by default paragraphs,
// i.e. runs of lines separated by one or more blank (empty or all
// white-space) lines. A folder is walked recursively, in sorted path
// order, for regular files (or links to them) named *.txt (any case);
// files and folders whose names start with "." are skipped. By default
// each file is one document.
//
// With opt.LabelFolders the class of a file is the first folder below
// path on its way (path/CLASS/…/x.txt), the classes are those folder names
// in sorted order (at least two, each with a document), and a .txt file
// directly in path is an error.
//
// Documents are cleaned as Doc says (leading blank lines and trailing
// white space dropped); documents left empty are dropped. Invalid UTF-8
// is an error naming the file and the byte offset of the first bad byte;
// no bytes are guessed or replaced.
func LoadText(path string, opt TextOptions) (*Corpus, error) {
	if opt.Docs != "" && opt.Docs != DocsFile && opt.Docs != DocsParagraphs && opt.Docs != DocsLines {
		return nil, dataErr("text %s: docs=%q, want %s, %s or %s", path, opt.Docs, DocsFile, DocsParagraphs, DocsLines)
	}
	st, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, notFound("text %s: no such file or folder", path)
		}
		return nil, fmt.Errorf("%w: text: %w", ErrData, err)
	}
	c := &Corpus{}
	if !st.IsDir() {
		if opt.LabelFolders {
			return nil, dataErr("text %s: labels=folders needs a folder, this is a file", path)
		}
		docs := orDefault(opt.Docs, DocsParagraphs)
		texts, err := readTextDocs(path, docs)
		if err != nil {
			return nil, err
		}
		c.Docs = textDocs(texts, filepath.Base(path), Unlabelled)
		return c, nil
	}
	files, err := textFiles(path)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, dataErr("text %s: no .txt files in the folder", path)
	}
	classOf := map[string]int{}
	if opt.LabelFolders {
		for _, f := range files {
			cl, _, nested := strings.Cut(f, "/")
			if !nested {
				return nil, dataErr("text %s: labels=folders but %s is not in a class sub-folder", path, f)
			}
			if _, ok := classOf[cl]; !ok {
				classOf[cl] = 0
				c.Classes = append(c.Classes, cl)
			}
		}
		slices.Sort(c.Classes)
		if len(c.Classes) < 2 {
			return nil, dataErr("text %s: labels=folders found %d class folder (%s), want at least two", path, len(c.Classes), strings.Join(c.Classes, ""))
		}
		for i, cl := range c.Classes {
			classOf[cl] = i
		}
	}
	docs := orDefault(opt.Docs, DocsFile)
	for _, f := range files {
		texts, err := readTextDocs(filepath.Join(path, filepath.FromSlash(f)), docs)
		if err != nil {
			return nil, err
		}
		label := Unlabelled
		if opt.LabelFolders {
			cl, _, _ := strings.Cut(f, "/")
			label = classOf[cl]
		}
		c.Docs = append(c.Docs, textDocs(texts, f, label)...)
	}
	if opt.LabelFolders {
		for i, n := range c.ClassCounts() {
			if n == 0 {
				return nil, dataErr("text %s: class folder %s has no non-empty document", path, c.Classes[i])
			}
		}
	}
	return c, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// textDocs makes documents of texts, with "#N" sources when there are
// several.
func textDocs(texts []string, source string, label int) []Doc {
	docs := make([]Doc, len(texts))
	for i, t := range texts {
		src := source
		if len(texts) > 1 {
			src = fmt.Sprintf("%s#%d", source, i+1)
		}
		docs[i] = Doc{Text: t, Label: label, Source: src}
	}
	return docs
}

// TextFiles lists the .txt files under dir as text:DIR reads them
// (recursively, sorted, hidden files and folders skipped), as paths
// joined to dir.
func TextFiles(dir string) ([]string, error) {
	rel, err := textFiles(dir)
	for i, r := range rel {
		rel[i] = filepath.Join(dir, filepath.FromSlash(r))
	}
	return rel, err
}

// textFiles lists the .txt files under dir as slash-separated paths
// relative to dir, in sorted order.
func textFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%w: text: %w", ErrData, err)
		}
		if p == dir {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(d.Name()), ".txt") {
			return nil
		}
		if !d.Type().IsRegular() {
			if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
				return nil // a dangling link, a link to a folder, a device…
			}
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return fmt.Errorf("%w: text: %w", ErrData, err)
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	slices.Sort(files) // WalkDir's lexical order is per folder; sort the whole paths
	return files, err
}

// readTextDocs reads a UTF-8 file and cuts it into cleaned, non-empty
// documents.
func readTextDocs(path, docs string) ([]string, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	if off := invalidUTF8(b); off >= 0 {
		return nil, dataErr("text %s: invalid UTF-8 at byte offset %d", path, off)
	}
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	var parts []string
	switch docs {
	case DocsFile:
		parts = []string{s}
	case DocsLines:
		parts = strings.Split(s, "\n")
	default:
		parts = paragraphs(s)
	}
	out := parts[:0]
	for _, p := range parts {
		if p = cleanDoc(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// paragraphs cuts s at blank lines.
func paragraphs(s string) []string {
	var out []string
	var cur []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				out = append(out, strings.Join(cur, "\n"))
				cur = cur[:0]
			}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, "\n"))
	}
	return out
}

// cleanDoc drops leading blank lines (keeping the indentation of the first
// non-blank line) and trailing white space.
func cleanDoc(s string) string {
	s = strings.TrimRight(s, " \t\r\n\v\f")
	for {
		line, rest, ok := strings.Cut(s, "\n")
		if !ok || strings.TrimSpace(line) != "" {
			return s
		}
		s = rest
	}
}

// invalidUTF8 is the byte offset of the first invalid UTF-8 sequence in b,
// or −1 when b is valid.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// readLimited reads a whole file of at most MaxFileSize bytes, whatever
// its stat size says.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrData, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrData, path, err)
	}
	if len(b) > MaxFileSize {
		return nil, dataErr("%s: larger than %d bytes", path, MaxFileSize)
	}
	return b, nil
}
