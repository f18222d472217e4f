package data

import (
	"path/filepath"
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
