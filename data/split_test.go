package data

import (
	"errors"
	"fmt"
	"github.com/glora/glora/internal/apportion"
	"slices"
	"strings"
	"testing"
)

// synthetic returns n 1×2×2 images; image i has all pixels i%256 and label
// i%classes (or the skewed labelling if skew).
func synthetic(n, classes int, skew bool) *Dataset {
	pix := make([]uint8, n*4)
	lab := make([]int, n)
	for i := 0; i < n; i++ {
		for p := 0; p < 4; p++ {
			pix[i*4+p] = uint8(i)
		}
		lab[i] = i % classes
		if skew && i%3 == 0 {
			lab[i] = 0 // class 0 is over-represented
		}
	}
	names := make([]string, classes)
	for i := range names {
		names[i] = fmt.Sprint("c", i)
	}
	return &Dataset{Name: "syn", Classes: names, C: 1, H: 2, W: 2, Pixels: pix, Labels: lab}
}

func mustIdx(t *testing.T, ds *Dataset, split, scheme string, seed uint64) []int {
	t.Helper()
	idx, err := SplitIndices(ds, split, scheme, seed)
	if err != nil {
		t.Fatalf("%s/%s: %v", scheme, split, err)
	}
	return idx
}

func countBy(ds *Dataset, idx []int) []int {
	c := make([]int, len(ds.Classes))
	for _, i := range idx {
		c[ds.Labels[i]]++
	}
	return c
}

func TestSplitDisjointAndDeterministic(t *testing.T) {
	ds := synthetic(3000, 10, true)
	for _, scheme := range []string{"holdout", "holdout:0.25", "vtab1k", "1shot", "4-shot", "kshot:16"} {
		t.Run(scheme, func(t *testing.T) {
			tr := mustIdx(t, ds, "train", scheme, 7)
			va := mustIdx(t, ds, "val", scheme, 7)
			tv := mustIdx(t, ds, "trainval", scheme, 7)
			seen := map[int]bool{}
			for _, i := range tr {
				seen[i] = true
			}
			for _, i := range va {
				if seen[i] {
					t.Fatalf("index %d in both train and val", i)
				}
			}
			union := slices.Sorted(slices.Values(append(append([]int(nil), tr...), va...)))
			if !slices.Equal(union, tv) {
				t.Fatal("trainval is not train ∪ val")
			}
			if again := mustIdx(t, ds, "train", scheme, 7); !slices.Equal(again, tr) {
				t.Fatal("same seed, different train")
			}
			if other := mustIdx(t, ds, "train", scheme, 8); slices.Equal(other, tr) {
				t.Fatal("different seed, same train")
			}
		})
	}
}

func TestSplitCounts(t *testing.T) {
	ds := synthetic(3000, 10, false)
	if tr, va := mustIdx(t, ds, "train", "vtab1k", 1), mustIdx(t, ds, "val", "vtab1k", 1); len(tr) != 800 || len(va) != 200 {
		t.Fatalf("vtab1k %d/%d", len(tr), len(va))
	} else {
		for c, n := range countBy(ds, tr) {
			if n != 80 {
				t.Fatalf("vtab1k class %d has %d train images, want 80", c, n)
			}
		}
	}
	tr, va := mustIdx(t, ds, "train", "holdout", 1), mustIdx(t, ds, "val", "holdout", 1)
	if len(tr) != 2700 || len(va) != 300 {
		t.Fatalf("holdout %d/%d", len(tr), len(va))
	}
	for _, k := range []int{1, 2, 4, 8, 16} {
		scheme := fmt.Sprintf("%dshot", k)
		for _, split := range []string{"train", "val"} {
			for c, n := range countBy(ds, mustIdx(t, ds, split, scheme, 3)) {
				if n != k {
					t.Fatalf("%s %s: class %d has %d images", scheme, split, c, n)
				}
			}
		}
	}
	if all := mustIdx(t, ds, "train", "full", 0); len(all) != 3000 {
		t.Fatalf("full: %d", len(all))
	}
}

func TestSplitStratifiedSkewed(t *testing.T) {
	ds := synthetic(1000, 4, true) // class 0: 500 images, others ≈ 166
	va := mustIdx(t, ds, "val", "holdout", 2)
	got := countBy(ds, va)
	want := apportion.Shares(100, ds.ClassCounts())
	if !slices.Equal(got, want) || want[0] != 50 {
		t.Fatalf("val class counts %v, want %v (class 0: 50)", got, want)
	}
}

func TestSplitErrors(t *testing.T) {
	ds := synthetic(100, 10, false)
	for _, c := range [][2]string{{"train", "vtab1k"}, {"train", "16shot"}, {"val", "full"},
		{"val", "holdout:1.5"}, {"bogus", "holdout"}, {"train", "0shot"}, {"train", "fewshot"}} {
		if _, err := SplitIndices(ds, c[0], c[1], 0); err == nil {
			t.Errorf("%s/%s: no error", c[1], c[0])
		}
	}
	test := synthetic(10, 10, false)
	if got, err := Split(ds, test, "test", "vtab1k", 0); err != nil || got != test {
		t.Fatalf("test split: %v", err)
	}
	sub, err := Split(ds, test, "val", "holdout", 0)
	if err != nil || sub.Len() != 10 {
		t.Fatalf("val subset: %v", err)
	}
	for i := range sub.Labels { // copies carry their labels along
		if int(sub.Image(i)[0])%10 != sub.Labels[i] {
			t.Fatalf("subset image %d has label %d", i, sub.Labels[i])
		}
	}
	if _, err := ds.Subset([]int{100}); err == nil {
		t.Fatal("out-of-range subset: no error")
	}
}

// CheckSpec accepts every spec ResolveWith can load and refuses the rest
// with ResolveWith's own words, without reading anything.
func TestCheckSpec(t *testing.T) {
	for _, ok := range []string{"fashion-mnist", "fmnist", "fashion_mnist", "mnist", "mnist:rotate30", "mnist:blur", "digits",
		"emoji", "emoji:all", "synth:count", "synth:distance:seed=3,train=10,test=10", "folder:/no/such/dir", "idx:a,b"} {
		if err := CheckSpec(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"nope":            `unknown dataset spec "nope"`,
		"mnist:rot":       `unknown mnist variant "mnist:rot"`,
		"synth:count:x=1": `unknown option "x"`,
		"synth:":          `unknown dataset spec "synth:"`,
		"folder:":         `unknown dataset spec "folder:"`,
		"emoji:some":      `unknown dataset spec "emoji:some"`,
	} {
		err := CheckSpec(bad)
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrData) {
			t.Errorf("%q: %v, want an ErrData containing %q", bad, err, want)
		}
		if _, _, rerr := Resolve(bad); rerr == nil || rerr.Error() != err.Error() {
			t.Errorf("%q: Resolve says %v, CheckSpec %v", bad, rerr, err)
		}
	}
}

func TestCheckScheme(t *testing.T) {
	for _, ok := range []string{"full", "vtab1k", "holdout", "holdout:0.25", "16shot", "1-shot", "kshot:4"} {
		if err := CheckScheme(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"bogus", "holdout:1.5", "holdout:NaN", "holdout:0", "0shot", "", "vtab"} {
		if err := CheckScheme(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
