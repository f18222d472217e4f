package data

import (
	"path/filepath"
	"strings"
	"testing"
)

// A spec is parsed once into one spelling; its training form names the
// training split alone.
func TestParseSpec(t *testing.T) {
	for _, c := range []struct{ in, canonical, training string }{
		{"fmnist", "fashion-mnist", "fashion-mnist"},
		{"fashion_mnist", "fashion-mnist", "fashion-mnist"},
		{"mnist:blur", "mnist:blur", "mnist"},
		{"emoji:all", "emoji:all", "emoji:all"},
		{"synth:count", "synth:count:seed=1,train=2000,test=1000", "synth:count:seed=1,train=2000"},
		{"synth:count:test=7", "synth:count:seed=1,train=2000,test=7", "synth:count:seed=1,train=2000"},
		{"folder:x/y", "folder:x/y", "folder:x/y"},
	} {
		s, err := ParseSpec(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if s.String() != c.canonical || s.Training() != c.training {
			t.Errorf("%s: %q / %q, want %q / %q", c.in, s.String(), s.Training(), c.canonical, c.training)
		}
	}
	if s, _ := ParseSpec("folder:rel"); !filepath.IsAbs(s.Abs().Arg) {
		t.Errorf("Abs kept %q relative", s.Abs().Arg)
	}
	for _, bad := range []string{"", "mnist:spin", "synth:nope", "folder:", "cifar"} {
		if _, err := ParseSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// ParseSpec never panics, and a parsed spec's one spelling parses back to
// the same spec.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"mnist", "fmnist", "mnist:noise", "emoji:all", "synth:count:seed=3,test=9", "folder:a", "idx:a,b", "synth:", "x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSpec(in)
		if err != nil {
			return
		}
		again, err := ParseSpec(s.String())
		if err != nil || again != s {
			t.Fatalf("%q → %q → %+v, %v; want %+v", in, s.String(), again, err, s)
		}
	})
}

// Canonical spells a spec one way and keeps what it names, test split
// included: a run reads its test split from the kept spec.
func TestCanonicalKeepsTheTestSplit(t *testing.T) {
	for in, want := range map[string]string{
		"fmnist":                      "fashion-mnist",
		"mnist:rotate30":              "mnist:rotate30",
		"synth:count":                 "synth:count:seed=1,train=2000,test=1000",
		"synth:count:test=7,train=24": "synth:count:seed=1,train=24,test=7",
		"synth:count:bogus=1":         "synth:count:bogus=1", // malformed: Resolve says so
		"digits":                      "digits",
	} {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSameTraining(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"fashion-mnist", "fmnist", true},
		{"fashion_mnist", "fashion-mnist", true},
		{"mnist", "fashion-mnist", false},
		{"folder:a/b", "folder:a/./b/", true},
		{"folder:a", "folder:b", false},
		{"idx:x,y", "idx:./x,y", true},
		{"folder:", "folder:.", false},    // a malformed spec stays malformed
		{"mnist:rotate30", "mnist", true}, // test-only shifts share mnist's training split
		{"mnist:blur", "mnist:noise", true},
		{"synth:count", "synth:count:seed=1,test=10", true},
		{"synth:count", "synth:count:seed=2", false},
		{"synth:count", "synth:position", false},
		{"digits", "mnist", false},
	} {
		if got := SameTraining(c.a, c.b); got != c.same {
			t.Errorf("SameTraining(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

func TestCheckClasses(t *testing.T) {
	a := &Dataset{Classes: []string{"a", "b"}}
	b := &Dataset{Classes: []string{"a", "b", "c"}}
	if err := CheckClasses(a, nil); err != nil {
		t.Errorf("no test split: %v", err)
	}
	if err := CheckClasses(a, a); err != nil {
		t.Errorf("same classes: %v", err)
	}
	if err := CheckClasses(a, b); err == nil || !strings.Contains(err.Error(), "the training split has 2 classes (a, b) but the test split has 3 (a, b, c)") {
		t.Errorf("2 against 3 classes: %v", err)
	}
}

func TestClassList(t *testing.T) {
	if got := ClassList([]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}); got != "a, b, c, d, e, f, g, h, … 2 more" {
		t.Errorf("ClassList of 10: %q", got)
	}
}
