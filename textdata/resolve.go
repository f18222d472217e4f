package textdata

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Options configures Resolve.
type Options struct {
	// FortuneDir, SpamDir and ManDir, when set, replace FortuneDir(),
	// SpamDir() and ManDir() (and so their environment variables).
	FortuneDir, SpamDir, ManDir string
	// Log, if not nil, receives one line per corpus loaded: its name,
	// folder and counts.
	Log io.Writer
}

// Spec is a parsed corpus spec (see the package documentation for the
// syntax).
type Spec struct {
	Kind     string   // "text", "fortune", "man" or "spam"
	Path     string   // text: the file or folder
	Docs     string   // text: DocsFile, DocsParagraphs, DocsLines or "" (the default)
	Names    []string // fortune: the databases, sorted; nil for all
	Sections []int    // man: the sections (1 to 9), sorted; nil for all
	Labels   bool     // text: labels=folders; fortune: labels=files; man: labels=sections
}

const specSyntax = "text:PATH[,docs=file|paragraphs|lines][,labels=folders], fortune[:NAME,…][,labels=files], man[:SECTION,…][,labels=sections] or spam"

// ParseSpec parses a spec's syntax without reading anything (whether the
// path or databases exist is for Resolve to say).
func ParseSpec(spec string) (Spec, error) {
	kind, arg, hasArg := strings.Cut(spec, ":")
	if k, opts, ok := strings.Cut(spec, ","); !hasArg && ok && (k == "man" || k == "fortune") &&
		!slices.ContainsFunc(strings.Split(opts, ","), func(f string) bool { return !strings.Contains(f, "=") }) {
		// man,labels=sections and fortune,labels=files: options for all
		// sections or databases, as the syntax's brackets read (sections
		// and names follow a colon)
		kind, arg, hasArg = k, opts, true
	}
	switch {
	case spec == "spam":
		return Spec{Kind: "spam"}, nil
	case spec == "fortune":
		return Spec{Kind: "fortune"}, nil
	case spec == "man":
		return Spec{Kind: "man"}, nil
	case kind == "man" && hasArg:
		s := Spec{Kind: "man"}
		for _, f := range strings.Split(arg, ",") {
			switch {
			case f == "labels=sections":
				s.Labels = true
			case f == "labels=none":
				s.Labels = false
			case strings.Contains(f, "="):
				return Spec{}, dataErr("man spec %q: unknown option %q (want labels=sections)", spec, f)
			case len(f) != 1 || f[0] < '1' || f[0] > '9':
				return Spec{}, dataErr("man spec %q: bad section %q (want 1 to 9, e.g. man:1,8)", spec, f)
			default:
				s.Sections = append(s.Sections, int(f[0]-'0'))
			}
		}
		slices.Sort(s.Sections)
		if s.Sections = slices.Compact(s.Sections); len(s.Sections) == 9 {
			s.Sections = nil // all of them: plain man
		}
		return s, nil
	case kind == "fortune" && hasArg:
		s := Spec{Kind: "fortune"}
		for _, f := range strings.Split(arg, ",") {
			switch {
			case f == "labels=files":
				s.Labels = true
			case f == "labels=none":
				s.Labels = false
			case strings.Contains(f, "="):
				return Spec{}, dataErr("fortune spec %q: unknown option %q (want labels=files)", spec, f)
			case !validFortuneName(f):
				return Spec{}, dataErr("fortune spec %q: bad database name %q (want a file name such as cookie, or off/NAME)", spec, f)
			default:
				s.Names = append(s.Names, f)
			}
		}
		slices.Sort(s.Names)
		s.Names = slices.Compact(s.Names)
		return s, nil
	case kind == "text" && hasArg:
		s := Spec{Kind: "text"}
		path := arg
		seen := map[string]bool{}
		for {
			i := strings.LastIndexByte(path, ',')
			if i < 0 {
				break
			}
			k, v, _ := strings.Cut(path[i+1:], "=")
			switch {
			case k == "docs" && (v == DocsFile || v == DocsParagraphs || v == DocsLines):
				s.Docs = v
			case k == "labels" && (v == "folders" || v == "none"):
				s.Labels = v == "folders"
			case k == "docs" || k == "labels":
				return Spec{}, dataErr("text spec %q: bad option %q (want docs=file|paragraphs|lines or labels=folders|none)", spec, path[i+1:])
			default:
				k = "" // part of the path
			}
			if k == "" {
				break
			}
			if seen[k] {
				return Spec{}, dataErr("text spec %q: option %s given twice", spec, k)
			}
			seen[k] = true
			path = path[:i]
		}
		if path == "" {
			return Spec{}, dataErr("text spec %q: no path", spec)
		}
		s.Path = path
		return s, nil
	}
	return Spec{}, dataErr("unknown text corpus spec %q (want %s)", spec, specSyntax)
}

// CheckSpec checks a spec's syntax without reading anything.
func CheckSpec(spec string) error {
	_, err := ParseSpec(spec)
	return err
}

// String is the spec in its one spelling: options in a fixed order, only
// those that differ from the defaults, fortune names and man sections
// sorted (all nine sections are plain man).
func (s Spec) String() string {
	var opts []string
	switch s.Kind {
	case "text":
		opts = append(opts, s.Path)
		if s.Docs != "" {
			opts = append(opts, "docs="+s.Docs)
		}
		if s.Labels {
			opts = append(opts, "labels=folders")
		}
	case "fortune":
		opts = append(opts, s.Names...)
		if s.Labels {
			opts = append(opts, "labels=files")
		}
	case "man":
		for _, n := range s.Sections {
			opts = append(opts, strconv.Itoa(n))
		}
		if s.Labels {
			opts = append(opts, "labels=sections")
		}
	}
	if len(opts) == 0 {
		return s.Kind
	}
	return s.Kind + ":" + strings.Join(opts, ",")
}

// Abs is the spec with a text path made absolute (so that a recorded spec
// names the same data from another working directory).
func (s Spec) Abs() Spec {
	if s.Kind == "text" {
		if a, err := filepath.Abs(s.Path); err == nil {
			s.Path = a
		}
	}
	return s
}

// Resolve loads the corpus a spec names (see the package documentation),
// named by its one spelling, checked by Validate.
func Resolve(spec string, opt Options) (*Corpus, error) {
	s, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	return s.Resolve(opt)
}

// Resolve loads the spec's corpus.
func (s Spec) Resolve(opt Options) (*Corpus, error) {
	var c *Corpus
	var err error
	var note fmt.Stringer
	from := s.Path
	switch s.Kind {
	case "text":
		c, err = LoadText(s.Path, TextOptions{Docs: s.Docs, LabelFolders: s.Labels})
	case "fortune":
		from = orDefault(opt.FortuneDir, FortuneDir())
		c, err = Fortune(from, s.Names, s.Labels)
	case "man":
		from = orDefault(opt.ManDir, ManDir())
		var skips manSkips
		c, skips, err = loadMan(from, s.Sections, s.Labels)
		note = skips
	case "spam":
		from = orDefault(opt.SpamDir, SpamDir())
		c, err = Spam(from)
	default:
		return nil, dataErr("unknown text corpus spec %q (want %s)", s.Kind, specSyntax)
	}
	if err != nil {
		return nil, err
	}
	c.Name = s.String()
	if c.Len() == 0 {
		return nil, dataErr("%s: empty corpus (no non-empty document in %s)", c.Name, from)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if opt.Log != nil {
		fmt.Fprintf(opt.Log, "textdata: %s from %s: %s", c.Name, from, c.Fingerprint())
		if c.Labelled() {
			fmt.Fprintf(opt.Log, ", per class %v", c.ClassCounts())
		}
		if note != nil {
			fmt.Fprintf(opt.Log, "; %s", note)
		}
		fmt.Fprintln(opt.Log)
	}
	return c, nil
}
