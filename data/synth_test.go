package data

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseSynthSpec(t *testing.T) {
	for arg, want := range map[string]SynthSpec{
		"count":                               {"count", 1, SynthTrain, SynthTest},
		"position:seed=3":                     {"position", 3, SynthTrain, SynthTest},
		"orientation:test=500,seed=0,train=8": {"orientation", 0, 8, 500},
	} {
		got, err := ParseSynthSpec(arg)
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", arg, got, err, want)
		}
	}
	for _, bad := range []string{"", "colour", "count:", "count:seed", "count:seed=-1", "count:seed=1,seed=2",
		"count:train=5", "position:test=7", "count:train=200001", "count:size=3", "count:seed=1,"} {
		if _, err := ParseSynthSpec(bad); err == nil || !errors.Is(err, ErrData) {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}

func FuzzParseSynthSpec(f *testing.F) {
	for _, s := range []string{"count", "position:seed=3", "orientation:train=10,test=10", "count:seed=1,seed=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		s, err := ParseSynthSpec(arg)
		if err != nil {
			return
		}
		// The canonical spelling parses back to the same spec.
		back, err := ParseSynthSpec(strings.TrimPrefix(s.String(), "synth:"))
		if err != nil || back != s {
			t.Fatalf("%q → %q → %+v, %v", arg, s, back, err)
		}
		k := synthClasses(s.Task)
		if k == 0 || s.Train < k || s.Test < k || s.Train > maxSynthImages || s.Test > maxSynthImages {
			t.Fatalf("%q: accepted %+v", arg, s)
		}
	})
}

// goldenSynth pins the bytes of each task's default splits (seed 1): the
// generator is integer arithmetic, so they are the same on every machine.
var goldenSynth = map[string][2]string{
	"count":       {"877094e436f561a9", "d9d5db7c348f4d91"},
	"position":    {"c54cea0849fd68f2", "db78968f6550d58f"},
	"orientation": {"bb79d2f8d48e33d1", "59dd3959d17c5096"},
	"distance":    {"97272d00d5da35ce", "d954abae7c26796d"},
}

func TestSynthTasks(t *testing.T) {
	for _, task := range SynthTasks {
		tr, te, err := Resolve("synth:" + task)
		if err != nil {
			t.Fatal(err)
		}
		k := synthClasses(task)
		if tr.Len() != SynthTrain || te.Len() != SynthTest || tr.C != 1 || tr.H != SynthSize || tr.W != SynthSize ||
			len(tr.Classes) != k || len(te.Classes) != k {
			t.Fatalf("%s: train %v, test %v", task, tr, te)
		}
		for c, n := range tr.ClassCounts() {
			if n != SynthTrain/k && n != SynthTrain/k+1 {
				t.Fatalf("%s: class %d has %d training images", task, c, n)
			}
		}
		if h := [2]string{hashOf(tr), hashOf(te)}; h != goldenSynth[task] {
			t.Errorf("synth:%s hashes %q, want %q", task, h, goldenSynth[task])
		}
		// Not blank, not saturated: the images use the grey range.
		var lo, hi int
		for _, v := range te.Pixels {
			if v < 16 {
				lo++
			}
			if v > 200 {
				hi++
			}
		}
		if n := len(te.Pixels); lo < n/20 || hi < n/200 || lo > n*9/10 {
			t.Errorf("%s: %d dark and %d bright pixels of %d", task, lo, hi, n)
		}
		// No two images are the same, within or across the splits.
		seen := map[string]bool{}
		for _, d := range []*Dataset{tr, te} {
			for i := range d.Len() {
				s := string(d.Image(i))
				if seen[s] {
					t.Fatalf("%s: image %d repeats", task, i)
				}
				seen[s] = true
			}
		}
	}
}

func TestSynthSeedsAndSizes(t *testing.T) {
	a, at, err := Resolve("synth:count:seed=5,train=12,test=6")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Resolve("synth:count:train=12,test=6,seed=5")
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := Resolve("synth:count:seed=6,train=12,test=6")
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 12 || at.Len() != 6 || !bytes.Equal(a.Pixels, b.Pixels) || bytes.Equal(a.Pixels, c.Pixels) {
		t.Fatalf("seed 5 twice equal %v, seed 6 differs %v", bytes.Equal(a.Pixels, b.Pixels), !bytes.Equal(a.Pixels, c.Pixels))
	}
	// A split's images do not depend on the size of the other split, and a
	// longer split starts with the shorter one's images.
	d, _, err := Resolve("synth:count:seed=5,train=24,test=100")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Pixels[:len(a.Pixels)], a.Pixels) {
		t.Fatal("train=24 does not start with train=12's images")
	}
	if a.Name != "synth:count:seed=5" {
		t.Fatalf("name %q", a.Name)
	}
	names := SynthClassNames("orientation")
	if names[0] != "angle bin 0 (0–22.5°)" || names[7] != "angle bin 7 (157.5–180°)" {
		t.Fatalf("orientation classes %q", names)
	}
	if n := SynthClassNames("position"); n[0] != "x bin 0 (x 4–6.5 px)" || n[7] != "x bin 7 (x 21.5–24 px)" {
		t.Fatalf("position classes %q", n)
	}
	if n := SynthClassNames("count"); n[0] != "count 1" || n[5] != "count 6" {
		t.Fatalf("count classes %q", n)
	}
	if n := SynthClassNames("distance"); len(n) != 6 || n[0] != "distance bin 0 (4–7 px)" || n[5] != "distance bin 5 (19–22 px)" {
		t.Fatalf("distance classes %q", n)
	}
}

func TestTrainingSpec(t *testing.T) {
	for spec, want := range map[string]string{
		"mnist":               "mnist",
		"mnist:rotate30":      "mnist",
		"mnist:blur":          "mnist",
		"mnist:sketch":        "mnist:sketch",
		"synth:count":         "synth:count:seed=1,train=2000",
		"synth:count:test=50": "synth:count:seed=1,train=2000",
		"synth:count:seed=2":  "synth:count:seed=2,train=2000",
		"synth:count:bad":     "synth:count:bad",
		"digits":              "digits",
		"folder:x":            "folder:x",
	} {
		if got := TrainingSpec(spec); got != want {
			t.Errorf("TrainingSpec(%q) = %q, want %q", spec, got, want)
		}
	}
}

func TestUnknownSpecListsTheNewOnes(t *testing.T) {
	_, _, err := Resolve("cifar10")
	for _, want := range []string{`"digits"`, `"emoji"`, `"mnist:rotate30"`, `"mnist:blur"`, `"synth:count"`, `"synth:orientation"`, `"folder:PATH"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v does not list %s", err, want)
		}
	}
	if _, _, err := Resolve("mnist:sketch"); err == nil || !strings.Contains(err.Error(), "mnist:rotate30") {
		t.Fatalf("mnist:sketch: %v", err)
	}
	if _, _, err := Resolve("synth:colour"); err == nil || !strings.Contains(err.Error(), "synth:orientation") {
		t.Fatalf("synth:colour: %v", err)
	}
}
