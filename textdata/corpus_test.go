package textdata

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func labelled(counts ...int) *Corpus {
	c := &Corpus{Name: "t"}
	for l, n := range counts {
		c.Classes = append(c.Classes, fmt.Sprint("c", l))
		for i := range n {
			c.Docs = append(c.Docs, Doc{Text: fmt.Sprintf("doc %d of %d", i, l), Label: l})
		}
	}
	return c
}

func unlabelled(n int) *Corpus {
	c := &Corpus{Name: "u"}
	for i := range n {
		c.Docs = append(c.Docs, Doc{Text: fmt.Sprint("doc ", i), Label: Unlabelled})
	}
	return c
}

// The three parts cover the corpus once, keep its order and its class
// balance, and are a function of the seed alone.
func TestSplitStratified(t *testing.T) {
	c := labelled(700, 300)
	tr, va, te, err := SplitIndices(c, 0.1, 0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr) != 700 || len(va) != 100 || len(te) != 200 {
		t.Fatalf("sizes %d/%d/%d, want 700/100/200", len(tr), len(va), len(te))
	}
	all := slices.Concat(tr, va, te)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("parts do not partition the corpus: index %d is %d", i, v)
		}
	}
	for _, p := range [][]int{tr, va, te} {
		if !slices.IsSorted(p) {
			t.Error("a part is not in corpus order")
		}
	}
	sub, _ := c.Subset(va)
	if got := sub.ClassCounts(); !slices.Equal(got, []int{70, 30}) {
		t.Errorf("val classes %v, want [70 30]", got)
	}
	sub, _ = c.Subset(te)
	if got := sub.ClassCounts(); !slices.Equal(got, []int{140, 60}) {
		t.Errorf("test classes %v, want [140 60]", got)
	}
	tr2, va2, te2, _ := SplitIndices(c, 0.1, 0.2, 7)
	if !slices.Equal(tr, tr2) || !slices.Equal(va, va2) || !slices.Equal(te, te2) {
		t.Error("the same seed drew different parts")
	}
	_, va3, _, _ := SplitIndices(c, 0.1, 0.2, 8)
	if slices.Equal(va, va3) {
		t.Error("seeds 7 and 8 drew the same val part")
	}
}

// A pinned draw: a change to the shuffle (or to math/rand/v2's PCG) shows
// here rather than as silently different splits.
func TestSplitPinned(t *testing.T) {
	_, va, te, err := SplitIndices(unlabelled(10), 0.2, 0.1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint(va, te); want != "[4 6] [3]" {
		t.Errorf("val, test = %s; the seeded draw changed", want)
	}
}

func TestSplitUnlabelledAndSmall(t *testing.T) {
	train, val, test, err := Split(unlabelled(3), 0.01, 0.01, 0)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 1 || val.Len() != 1 || test.Len() != 1 {
		t.Errorf("sizes %d/%d/%d, want 1/1/1 (a positive fraction gets a document)", train.Len(), val.Len(), test.Len())
	}
	if train, _, _, err := Split(unlabelled(5), 0, 0, 0); err != nil || train.Len() != 5 {
		t.Errorf("no val, no test: %v, %v", train, err)
	}
	for _, f := range [][2]float64{{0.5, 0.5}, {-0.1, 0}, {1, 0}, {0.6, 0.6}} {
		if _, _, _, err := Split(unlabelled(10), f[0], f[1], 0); !errors.Is(err, ErrData) {
			t.Errorf("fractions %v accepted (%v)", f, err)
		}
	}
	if _, _, _, err := Split(unlabelled(2), 0.01, 0.01, 0); err == nil {
		t.Error("a split leaving no training document was accepted")
	}
	if _, _, _, err := Split(&Corpus{}, 0.1, 0.1, 0); err == nil {
		t.Error("an empty corpus was split")
	}
}

func TestValidateAndFingerprint(t *testing.T) {
	c := labelled(2, 2)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	fp := c.Fingerprint()
	c.Docs[0].Text += "!"
	if c.Fingerprint() == fp {
		t.Error("a changed text kept the fingerprint")
	}
	for name, bad := range map[string]func(*Corpus){
		"empty text":     func(c *Corpus) { c.Docs[1].Text = "" },
		"bad utf-8":      func(c *Corpus) { c.Docs[1].Text = "\xff" },
		"label range":    func(c *Corpus) { c.Docs[1].Label = 2 },
		"unlabelled lab": func(c *Corpus) { c.Classes = nil },
	} {
		c := labelled(2, 2)
		bad(c)
		if err := c.Validate(); !errors.Is(err, ErrData) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := c.Subset([]int{4}); err == nil {
		t.Error("Subset took an index out of range")
	}
}

func TestDedup(t *testing.T) {
	c := unlabelled(3)
	c.Docs = append(c.Docs, c.Docs[1], Doc{Text: "new", Label: Unlabelled}, c.Docs[0])
	d, n := c.Dedup()
	if n != 2 || !slices.Equal(d.Texts(), []string{"doc 0", "doc 1", "doc 2", "new"}) {
		t.Errorf("Dedup dropped %d, kept %q", n, d.Texts())
	}
}
