package textdata

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	// ManEnv overrides the folder of the manual pages.
	ManEnv = "GLORA_MAN_DIR"
	// ManDefaultDir is where Debian's packages put their manual pages.
	ManDefaultDir = "/usr/share/man"
	// ManInstall installs the core pages on Debian or Ubuntu (every
	// package adds its own; a minimised image excludes /usr/share/man in
	// /etc/dpkg/dpkg.cfg.d/ and needs `unminimize` first).
	ManInstall = "apt-get install -y man-db manpages"
	// MaxManPage is the most bytes of a page Man reads (after
	// decompression); a larger page is skipped.
	MaxManPage = 1 << 20
)

// ManDir is the folder Man reads by default: $GLORA_MAN_DIR when set (and
// then only it), else ManDefaultDir.
func ManDir() string {
	if d := os.Getenv(ManEnv); d != "" {
		return d
	}
	return ManDefaultDir
}

// manSkips counts the pages Man passed over, for Resolve's log line.
type manSkips struct{ links, redirects, large, invalid int }

func (k manSkips) String() string {
	return fmt.Sprintf("skipped %d links to pages read, %d .so redirects, %d pages over %d bytes, %d pages not in UTF-8",
		k.links, k.redirects, k.large, MaxManPage, k.invalid)
}

// Man loads the English manual pages in dir (see ManDir): the page files
// of its section folders man1 … man9 (only those directly in dir: the
// language folders, de/, fr/ …, are not entered), those of the given
// sections (each 1 to 9; its folder must exist) or of every section
// folder present when sections is empty. Each page is a document, its
// text RoffText's, its Source "manS/FILE"; sections come in order, pages
// in sorted file order.
//
// A page file is a regular file or a link to one, not starting with ".":
// FILE.gz is gzip-compressed roff, other names plain roff (names ending
// .bz2, .xz, .lzma, .zst or .Z are skipped). A link to a file already
// taken (os.SameFile; real files come before links) is skipped, and so
// is a redirect (a page whose only request is ".so other/page"), a page
// of more than MaxManPage bytes once decompressed (read through a limit,
// whatever its size says), a page that is not UTF-8 (an old Latin-1 page)
// and a page whose text is empty.
//
// With labelled, each page's class is its section ("1", "8" …): the
// classes are the sections that have pages (at least two); otherwise
// documents are Unlabelled.
func Man(dir string, sections []int, labelled bool) (*Corpus, error) {
	c, _, err := loadMan(dir, sections, labelled)
	return c, err
}

// manPage is a page file found by loadMan.
type manPage struct {
	section int
	name    string
	info    os.FileInfo
	link    bool
	keep    bool
}

// loadMan is Man, with what it skipped (for Resolve's log line).
func loadMan(dir string, sections []int, labelled bool) (*Corpus, manSkips, error) {
	var skips manSkips
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, skips, notFound("man: %s not found: %s, or set %s", dir, ManInstall, ManEnv)
	}
	named := len(sections) > 0
	sections, pages, err := manPages(dir, sections)
	if err != nil {
		return nil, skips, err
	}
	keepFirstLinks(pages, &skips)
	c := &Corpus{}
	var bySection [10]int
	for _, p := range pages {
		if !p.keep {
			continue
		}
		src := "man" + strconv.Itoa(p.section) + "/" + p.name
		text, err := manPageText(filepath.Join(dir, filepath.FromSlash(src)), &skips)
		if err != nil {
			return nil, skips, err
		}
		if text != "" {
			c.Docs = append(c.Docs, Doc{Text: text, Label: p.section, Source: src})
			bySection[p.section]++
		}
	}
	var classes []int
	for _, s := range sections {
		switch {
		case bySection[s] > 0:
			classes = append(classes, s)
		case named:
			return nil, skips, notFound("man: section %d (%s) has no pages", s, manSectionDir(dir, s))
		}
	}
	if len(c.Docs) == 0 {
		return nil, skips, notFound("man: no pages in %s's %s: %s, or set %s", dir, manSectionList(sections), ManInstall, ManEnv)
	}
	if labelled && len(classes) < 2 {
		return nil, skips, dataErr("man: labels=sections needs pages of at least two sections, have %s", manSectionList(classes))
	}
	c.label(classes, labelled)
	return c, skips, nil
}

func manSectionDir(dir string, s int) string { return filepath.Join(dir, "man"+strconv.Itoa(s)) }

// manPages lists the page files of the sections asked for (every section
// folder of dir when none is), in section then name order; it returns the
// sections read, sorted and without repeats.
func manPages(dir string, sections []int) ([]int, []manPage, error) {
	var have []int
	for s := 1; s <= 9; s++ {
		if st, err := os.Stat(manSectionDir(dir, s)); err == nil && st.IsDir() {
			have = append(have, s)
		}
	}
	if len(sections) == 0 {
		if len(have) == 0 {
			return nil, nil, notFound("man: no section folders (man1 … man9) in %s: %s, or set %s", dir, ManInstall, ManEnv)
		}
		sections = have
	} else {
		sections = slices.Clone(sections)
		slices.Sort(sections)
		sections = slices.Compact(sections)
	}
	var pages []manPage
	for _, s := range sections {
		if s < 1 || s > 9 {
			return nil, nil, dataErr("man: bad section %d (want 1 to 9)", s)
		}
		sd := manSectionDir(dir, s)
		if !slices.Contains(have, s) {
			return nil, nil, notFound("man: no section %d (%s) in %s (have %s)", s, sd, dir, manSectionList(have))
		}
		ents, err := os.ReadDir(sd)
		if err != nil {
			return nil, nil, dataErr("man: %v", err)
		}
		for _, e := range ents { // ReadDir sorts by name
			if n := e.Name(); strings.HasPrefix(n, ".") || manCompressed(n) {
				continue
			}
			p := manPage{section: s, name: e.Name(), link: e.Type()&os.ModeSymlink != 0}
			if !p.link && !e.Type().IsRegular() {
				continue
			}
			p.info, err = os.Stat(filepath.Join(sd, e.Name()))
			if err != nil || !p.info.Mode().IsRegular() {
				continue // a dangling link, a link to a folder…
			}
			pages = append(pages, p)
		}
	}
	return sections, pages, nil
}

// keepFirstLinks marks each file's first page to be read: plain files
// first, then links to a file not taken yet (os.SameFile compares within
// a size); the others count as skipped links.
func keepFirstLinks(pages []manPage, skips *manSkips) {
	taken := map[int64][]os.FileInfo{}
	for _, links := range []bool{false, true} {
		for i := range pages {
			p := &pages[i]
			if p.link != links {
				continue
			}
			same := taken[p.info.Size()]
			if slices.ContainsFunc(same, func(o os.FileInfo) bool { return os.SameFile(o, p.info) }) {
				skips.links++
				continue
			}
			taken[p.info.Size()] = append(same, p.info)
			p.keep = true
		}
	}
}

// manPageText is a page's text, or "" for a page skipped (too large, not
// UTF-8, a redirect to another page) or empty; skips counts why.
func manPageText(path string, skips *manSkips) (string, error) {
	b, err := readManPage(path)
	switch {
	case err != nil:
		return "", err
	case b == nil:
		skips.large++
		return "", nil
	}
	if invalidUTF8(b) >= 0 { // an old page in Latin-1: the system's, not the user's to fix
		skips.invalid++
		return "", nil
	}
	roff := string(b)
	if manRedirect(roff) {
		skips.redirects++
		return "", nil
	}
	return RoffText(roff), nil
}

// label sets each document's label from its section: its index in
// classes (labelled), or Unlabelled; classes become the corpus's classes.
func (c *Corpus) label(classes []int, labelled bool) {
	for i := range c.Docs {
		d := &c.Docs[i]
		if labelled {
			d.Label = slices.Index(classes, d.Label) // the section until here
		} else {
			d.Label = Unlabelled
		}
	}
	if labelled {
		for _, s := range classes {
			c.Classes = append(c.Classes, strconv.Itoa(s))
		}
	}
}

// manSectionList spells sections as "man1, man8".
func manSectionList(sections []int) string {
	if len(sections) == 0 {
		return "none"
	}
	var s []string
	for _, n := range sections {
		s = append(s, "man"+strconv.Itoa(n))
	}
	return strings.Join(s, ", ")
}

// manCompressed tells a page compressed other than by gzip.
func manCompressed(name string) bool {
	for _, ext := range []string{".bz2", ".xz", ".lzma", ".zst", ".Z"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// readManPage reads a page, gunzipped when it ends in .gz: nil (and no
// error) when it holds more than MaxManPage bytes.
func readManPage(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrData, err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, dataErr("man %s: %v", path, err)
		}
		defer z.Close()
		r = z
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxManPage+1))
	if err != nil {
		return nil, dataErr("man %s: %v", path, err)
	}
	if len(b) > MaxManPage {
		return nil, nil
	}
	return b, nil
}

// manRedirect tells a page whose only request, besides comments and
// blank lines, is ".so other/page" (man reads that page instead).
func manRedirect(roff string) bool {
	so := false
	for line := range strings.SplitSeq(roff, "\n") {
		line = strings.TrimRight(line, " \t\r")
		switch {
		case line == "" || line == "." || line == "'" || strings.HasPrefix(line, `.\"`) || strings.HasPrefix(line, `'\"`):
		case !so && (strings.HasPrefix(line, ".so ") || strings.HasPrefix(line, ".so\t")):
			so = true
		default:
			return false
		}
	}
	return so
}
