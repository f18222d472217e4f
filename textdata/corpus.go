package textdata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/glora/glora/internal/apportion"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"unicode/utf8"
)

// ErrData is wrapped by every error this package returns about malformed
// input (files, specs, corpora), so callers can test errors.Is(err, ErrData).
var ErrData = errors.New("textdata")

// ErrNotFound is wrapped by the errors that say a corpus's data is not
// installed (the fortune folder, the spam package, a text: path), so that
// callers (and tests) can tell a missing corpus from a broken one.
var ErrNotFound = errors.New("textdata: not found")

func dataErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrData, fmt.Sprintf(format, args...))
}

func notFound(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotFound, fmt.Sprintf(format, args...))
}

// Unlabelled is the Label of a document of an unlabelled corpus.
const Unlabelled = -1

// Doc is one document: valid UTF-8 text with "\n" line ends, no leading
// blank lines and no trailing white space, never empty.
type Doc struct {
	Text string
	// Label is the class index in [0, len(Corpus.Classes)) of a labelled
	// corpus, Unlabelled (−1) in an unlabelled one.
	Label int
	// Source says where the text came from, for messages and debugging:
	// a file path (relative to the corpus root where there is one), with
	// "#N" (1-based) when the file holds several documents.
	Source string
}

// Corpus is an in-memory list of documents, in a fixed order that depends
// only on the data (file paths are sorted), never on the file system's or
// a map's order.
type Corpus struct {
	Name    string   // the spec it was loaded from, in its one spelling
	Docs    []Doc    // in load order
	Classes []string // class names, indexed by Doc.Label; nil when unlabelled
}

// Len is the number of documents.
func (c *Corpus) Len() int { return len(c.Docs) }

// Labelled reports whether the documents carry class labels.
func (c *Corpus) Labelled() bool { return len(c.Classes) > 0 }

// Texts are the documents' texts, in order.
func (c *Corpus) Texts() []string {
	out := make([]string, len(c.Docs))
	for i, d := range c.Docs {
		out[i] = d.Text
	}
	return out
}

// Labels are the documents' class indices, in order (Unlabelled for an
// unlabelled corpus).
func (c *Corpus) Labels() []int {
	out := make([]int, len(c.Docs))
	for i, d := range c.Docs {
		out[i] = d.Label
	}
	return out
}

// Chars is the total number of characters (Unicode code points) of the
// documents' texts.
func (c *Corpus) Chars() int {
	n := 0
	for _, d := range c.Docs {
		n += utf8.RuneCountInString(d.Text)
	}
	return n
}

// ClassCounts is the number of documents of each class (nil when
// unlabelled).
func (c *Corpus) ClassCounts() []int {
	if !c.Labelled() {
		return nil
	}
	n := make([]int, len(c.Classes))
	for _, d := range c.Docs {
		if d.Label >= 0 && d.Label < len(n) {
			n[d.Label]++
		}
	}
	return n
}

// Validate checks the corpus: at least one document, every text non-empty
// valid UTF-8, every label in [0, len(Classes)) (Unlabelled when Classes
// is empty).
func (c *Corpus) Validate() error {
	if c == nil {
		return dataErr("nil corpus")
	}
	if len(c.Docs) == 0 {
		return dataErr("corpus %q: no documents", c.Name)
	}
	for i, d := range c.Docs {
		switch {
		case d.Text == "":
			return dataErr("corpus %q: document %d (%s) is empty", c.Name, i, d.Source)
		case !utf8.ValidString(d.Text):
			return dataErr("corpus %q: document %d (%s) is not valid UTF-8", c.Name, i, d.Source)
		case c.Labelled() && (d.Label < 0 || d.Label >= len(c.Classes)):
			return dataErr("corpus %q: document %d (%s) has label %d outside [0,%d)", c.Name, i, d.Source, d.Label, len(c.Classes))
		case !c.Labelled() && d.Label != Unlabelled:
			return dataErr("corpus %q: document %d (%s) has label %d in an unlabelled corpus", c.Name, i, d.Source, d.Label)
		}
	}
	return nil
}

// Fingerprint identifies the content in one line: the counts and an FNV-1a
// hash of every text, label and class name. Two loads of the same data
// give the same fingerprint; any change to a document changes it.
func (c *Corpus) Fingerprint() string {
	h := fnv.New64a()
	var b [8]byte
	for _, d := range c.Docs {
		binary.LittleEndian.PutUint64(b[:], uint64(len(d.Text)))
		h.Write(b[:])
		h.Write([]byte(d.Text))
		binary.LittleEndian.PutUint64(b[:], uint64(int64(d.Label)))
		h.Write(b[:])
	}
	for _, cl := range c.Classes {
		h.Write([]byte(cl))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%d documents, %d characters, %d classes, fnv %016x", c.Len(), c.Chars(), len(c.Classes), h.Sum64())
}

// Subset returns the documents at idx, in idx's order, as a corpus with
// the same name and classes (the texts are shared, not copied).
func (c *Corpus) Subset(idx []int) (*Corpus, error) {
	out := &Corpus{Name: c.Name, Classes: c.Classes, Docs: make([]Doc, 0, len(idx))}
	for _, i := range idx {
		if i < 0 || i >= len(c.Docs) {
			return nil, dataErr("corpus %q: subset index %d outside [0,%d)", c.Name, i, len(c.Docs))
		}
		out.Docs = append(out.Docs, c.Docs[i])
	}
	return out, nil
}

// Dedup returns the corpus without documents whose text repeats an
// earlier document's (the first kept, whatever the labels), and the number
// dropped. Dedup before Split keeps copies of one text out of both train
// and test (the spam corpus has 117 such copies).
func (c *Corpus) Dedup() (*Corpus, int) {
	seen := make(map[string]bool, len(c.Docs))
	out := &Corpus{Name: c.Name, Classes: c.Classes, Docs: make([]Doc, 0, len(c.Docs))}
	for _, d := range c.Docs {
		if !seen[d.Text] {
			seen[d.Text] = true
			out.Docs = append(out.Docs, d)
		}
	}
	return out, len(c.Docs) - len(out.Docs)
}

// splitStream decorrelates split draws from other uses of the same seed.
const splitStream = 0x7465787473706c74 // "textsplt"

// Split divides a corpus into train, validation and test parts holding
// about valFrac and testFrac of its documents (each fraction in [0, 1),
// their sum below 1); train gets the rest, and must not be empty.
//
// The draw: the documents are grouped by label (one group when
// unlabelled); the validation and test counts, round(n·frac) each (at
// least 1 when frac > 0), are shared out over the groups in proportion to
// their sizes (largest remainder, ties to the lower label), so each part
// keeps the corpus's class balance; each group's indices are shuffled by
// math/rand/v2's PCG seeded with (seed, splitStream), in label order; test
// takes a group's first documents, validation the next, train the rest.
// Each part keeps the corpus order. The same corpus (same documents in the
// same order) and seed always give the same parts, on every machine.
func Split(c *Corpus, valFrac, testFrac float64, seed uint64) (train, val, test *Corpus, err error) {
	tr, va, te, err := SplitIndices(c, valFrac, testFrac, seed)
	if err != nil {
		return nil, nil, nil, err
	}
	train, _ = c.Subset(tr)
	val, _ = c.Subset(va)
	test, _ = c.Subset(te)
	return train, val, test, nil
}

// SplitIndices is Split's draw as ascending document indices.
func SplitIndices(c *Corpus, valFrac, testFrac float64, seed uint64) (train, val, test []int, err error) {
	if err := c.Validate(); err != nil {
		return nil, nil, nil, err
	}
	okFrac := func(f float64) bool { return f >= 0 && f < 1 }
	if !okFrac(valFrac) || !okFrac(testFrac) || !(valFrac+testFrac < 1) {
		return nil, nil, nil, dataErr("split %q: fractions val %g and test %g, want each in [0,1) and their sum below 1", c.Name, valFrac, testFrac)
	}
	n := c.Len()
	count := func(f float64) int {
		k := int(math.Round(float64(n) * f))
		if f > 0 && k == 0 {
			k = 1
		}
		return k
	}
	nVal, nTest := count(valFrac), count(testFrac)
	if n-nVal-nTest < 1 {
		return nil, nil, nil, dataErr("split %q: %d documents leave none for training after %d val and %d test", c.Name, n, nVal, nTest)
	}
	var groups [][]int
	if c.Labelled() {
		groups = make([][]int, len(c.Classes))
		for i, d := range c.Docs {
			groups[d.Label] = append(groups[d.Label], i)
		}
	} else {
		groups = [][]int{make([]int, n)}
		for i := range n {
			groups[0][i] = i
		}
	}
	sizes := make([]int, len(groups))
	for g, idx := range groups {
		sizes[g] = len(idx)
	}
	// Test is shared out first, then val over what test left.
	gTest := apportion.Shares(nTest, sizes)
	left := make([]int, len(sizes))
	for g := range sizes {
		left[g] = sizes[g] - gTest[g]
	}
	gVal := apportion.Shares(nVal, left)
	rng := rand.New(rand.NewPCG(seed, splitStream))
	for g, idx := range groups {
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		test = append(test, idx[:gTest[g]]...)
		val = append(val, idx[gTest[g]:gTest[g]+gVal[g]]...)
		train = append(train, idx[gTest[g]+gVal[g]:]...)
	}
	slices.Sort(train)
	slices.Sort(val)
	slices.Sort(test)
	return train, val, test, nil
}
