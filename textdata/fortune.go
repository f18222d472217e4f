package textdata

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	// FortuneEnv overrides the folder of the fortune databases.
	FortuneEnv = "GLORA_FORTUNE_DIR"
	// FortuneDefaultDir is where Debian's fortune packages put them.
	FortuneDefaultDir = "/usr/share/games/fortunes"
	// FortuneInstall installs the databases on Debian or Ubuntu (fortunes
	// adds the full English set, fortunes-bofh-excuses the BOFH excuses;
	// both optional).
	FortuneInstall = "apt-get install -y fortune-mod fortunes-min"

	fortuneRotated = 0x4 // STR_ROTATED in a .dat header's flags
)

// FortuneDir is the folder Fortune reads by default: $GLORA_FORTUNE_DIR
// when set (and then only it), else FortuneDefaultDir.
func FortuneDir() string {
	if d := os.Getenv(FortuneEnv); d != "" {
		return d
	}
	return FortuneDefaultDir
}

// FortuneDatabases lists the databases directly in dir, in sorted order:
// its regular files (or links to them) except the strfile indexes
// (*.dat), Debian's *.u8 links (the same files again), names starting
// with "." and any file that is the same file as one already listed.
// Sub-folders (Debian's off/, the offensive databases) are not entered.
func FortuneDatabases(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, notFound("fortune: %s not found: %s, or set %s", dir, FortuneInstall, FortuneEnv)
		}
		return nil, dataErr("fortune: %v", err)
	}
	var names []string
	var seen []os.FileInfo
	for _, e := range ents { // ReadDir sorts by name
		n := e.Name()
		if strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".dat") || strings.HasSuffix(n, ".u8") {
			continue
		}
		st, err := os.Stat(filepath.Join(dir, n))
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		if slices.ContainsFunc(seen, func(s os.FileInfo) bool { return os.SameFile(s, st) }) {
			continue
		}
		seen = append(seen, st)
		names = append(names, n)
	}
	return names, nil
}

// Fortune loads fortune databases from dir: the named ones (a name is a
// path relative to dir, so "off/linux" reaches into off/), or every one
// that FortuneDatabases lists when names is empty. Each epigram is a
// document (see SplitFortunes), its Source "NAME#N"; databases come in
// sorted name order, epigrams in file order.
//
// A database must be UTF-8 (as Debian's are; invalid UTF-8 is an error
// naming the file and byte offset). If NAME.dat, its strfile index, says
// the database is ROT13-encoded (flag STR_ROTATED, as BSD's offensive
// databases are), the text is decoded; otherwise the index is not read.
//
// With labelled, each document's class is its database, the classes being
// the database names (at least two); otherwise documents are Unlabelled.
func Fortune(dir string, names []string, labelled bool) (*Corpus, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, notFound("fortune: %s not found: %s, or set %s", dir, FortuneInstall, FortuneEnv)
	}
	all, err := FortuneDatabases(dir)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		names = all
		if len(names) == 0 {
			return nil, notFound("fortune: no databases in %s: %s, or set %s", dir, FortuneInstall, FortuneEnv)
		}
	} else {
		names = slices.Clone(names)
		slices.Sort(names)
		names = slices.Compact(names)
	}
	c := &Corpus{}
	if labelled {
		if len(names) < 2 {
			return nil, dataErr("fortune: labels=files needs at least two databases, have %d", len(names))
		}
		c.Classes = names
	}
	for i, name := range names {
		if !validFortuneName(name) {
			return nil, dataErr("fortune: bad database name %q (want a file name in %s, e.g. %s)", name, dir, strings.Join(all, ", "))
		}
		path := filepath.Join(dir, filepath.FromSlash(name))
		if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
			return nil, notFound("fortune: no database %q in %s (have %s)", name, dir, strings.Join(all, ", "))
		}
		b, err := readLimited(path)
		if err != nil {
			return nil, err
		}
		if off := invalidUTF8(b); off >= 0 {
			return nil, dataErr("fortune %s: invalid UTF-8 at byte offset %d", path, off)
		}
		text := string(b)
		if fortuneRotatedDat(path + ".dat") {
			text = rot13(text)
		}
		label := Unlabelled
		if labelled {
			label = i
		}
		for j, e := range SplitFortunes(text) {
			c.Docs = append(c.Docs, Doc{Text: e, Label: label, Source: name + "#" + strconv.Itoa(j+1)})
		}
	}
	if labelled {
		for i, n := range c.ClassCounts() {
			if n == 0 {
				return nil, dataErr("fortune: database %s has no epigrams", c.Classes[i])
			}
		}
	}
	return c, nil
}

// validFortuneName accepts a local, slash-separated path that is not an
// index or a .u8 link.
func validFortuneName(name string) bool {
	return name != "" && filepath.IsLocal(filepath.FromSlash(name)) && !strings.Contains(name, "\\") &&
		!strings.HasSuffix(name, ".dat") && !strings.HasSuffix(name, ".u8")
}

// SplitFortunes cuts the text of a fortune database into its epigrams.
// The format (strfile's): epigrams separated by lines that are a single
// "%" ("\r\n" line ends accepted); a separator before the first or after
// the last epigram is allowed. Each epigram is cleaned as Doc says
// (leading blank lines and trailing white space dropped, indentation
// kept), and empty ones are dropped. Lines such as "%%" or "% x" are text.
func SplitFortunes(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var out []string
	start := 0
	emit := func(end int) {
		if e := cleanDoc(text[start:end]); e != "" {
			out = append(out, e)
		}
	}
	for i := 0; i <= len(text); {
		end := strings.IndexByte(text[i:], '\n')
		if end < 0 {
			end = len(text)
		} else {
			end += i
		}
		if text[i:end] == "%" {
			emit(i)
			start = end + 1
		}
		i = end + 1
	}
	if start < len(text) {
		emit(len(text))
	}
	return out
}

// fortuneRotatedDat reports whether the strfile index at path exists and
// has the STR_ROTATED flag. The header is six big-endian 32-bit fields
// (version, count, longest, shortest, flags, delimiter and padding); only
// versions 1 and 2 are believed.
func fortuneRotatedDat(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var h [24]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return false
	}
	v := binary.BigEndian.Uint32(h[0:])
	return (v == 1 || v == 2) && binary.BigEndian.Uint32(h[16:])&fortuneRotated != 0
}

// rot13 rotates the ASCII letters of s by 13.
func rot13(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = 'a' + (c-'a'+13)%26
		case 'A' <= c && c <= 'Z':
			b[i] = 'A' + (c-'A'+13)%26
		}
	}
	return string(b)
}
