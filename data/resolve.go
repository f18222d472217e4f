package data

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ResolveOptions configures Resolve for specs that need choices.
type ResolveOptions struct {
	// H, W, Channels, Interp: for folder: and emoji specs, see
	// FolderOptions. Pass the model's input size and channels, so that each
	// image is converted and resized as it is read and only that many
	// pixels are kept. (Other specs keep their own size; Batch resizes.)
	H, W     int
	Channels int
	Interp   Interp
	CropPct  float64 // see FolderOptions
	// Log, if not nil, receives the folder and emoji loaders' report of
	// what they converted and their warnings (see FolderOptions.Log).
	Log io.Writer
	// Seed draws the stratified 20% test hold-out when a spec names only
	// training data (folder: without train/ and test/, idx: with 2 files).
	// The digits and emoji splits are fixed, and synth: specs carry their
	// own seed, so it does not change them.
	Seed uint64
}

// TestHoldout is the fraction of a training-only source held out as test.
const TestHoldout = 0.2

// Resolve loads the training and test splits named by spec (see the
// package documentation for the syntax), with default options.
func Resolve(spec string) (train, test *Dataset, err error) {
	return ResolveWith(spec, ResolveOptions{})
}

// Spec is a parsed data spec (see the package documentation for the
// syntax): its kind and argument, each spelling folded into one.
type Spec struct {
	Kind  string    // fashion-mnist, mnist, digits, emoji, synth, folder or idx
	Arg   string    // mnist: a shift; emoji: "all"; folder: the path; idx: the comma-separated files
	Synth SynthSpec // synth: the task and its options
}

// ParseSpec parses spec's syntax without reading anything: a known name, a
// known mnist variant, valid synth options, a folder or idx with paths
// (whether those exist is for Resolve to say).
func ParseSpec(spec string) (Spec, error) {
	kind, arg, hasArg := strings.Cut(spec, ":")
	switch {
	case !hasArg && slices.Contains([]string{"fashion-mnist", "fashion_mnist", "fmnist"}, spec):
		return Spec{Kind: "fashion-mnist"}, nil
	case !hasArg && slices.Contains([]string{"mnist", "digits", "emoji"}, spec):
		return Spec{Kind: spec}, nil
	case spec == "emoji:all":
		return Spec{Kind: "emoji", Arg: "all"}, nil
	case kind == "mnist" && arg != "":
		if !isShift(arg) {
			return Spec{}, dataErr("unknown mnist variant %q (want mnist:%s)", spec, strings.Join(Shifts, ", mnist:"))
		}
		return Spec{Kind: kind, Arg: arg}, nil
	case kind == "synth" && arg != "":
		s, err := ParseSynthSpec(arg)
		return Spec{Kind: kind, Synth: s}, err
	case (kind == "folder" || kind == "idx") && arg != "":
		return Spec{Kind: kind, Arg: arg}, nil
	}
	return Spec{}, dataErr("unknown dataset spec %q (want %s)", spec, knownNames())
}

// String is the spec in one spelling: fashion-mnist for its aliases, a
// synth spec with every option.
func (s Spec) String() string {
	switch {
	case s.Kind == "synth":
		return s.Synth.String()
	case s.Arg != "":
		return s.Kind + ":" + s.Arg
	}
	return s.Kind
}

// Training names the spec's training split in one spelling: the
// domain-shift variants mnist:SHIFT train on mnist, and a synth spec is
// written with its seed and training size (its test size left out). Two
// specs with the same Training have the same training split, so the same
// validation draws.
func (s Spec) Training() string {
	switch s.Kind {
	case "mnist":
		return "mnist"
	case "synth":
		return fmt.Sprintf("synth:%s:seed=%d,train=%d", s.Synth.Task, s.Synth.Seed, s.Synth.Train)
	}
	return s.String()
}

// Abs is the spec with a folder's or IDX files' paths made absolute (so a
// recorded spec still names them from another working directory).
func (s Spec) Abs() Spec {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	switch s.Kind {
	case "folder":
		s.Arg = abs(s.Arg)
	case "idx":
		parts := strings.Split(s.Arg, ",")
		for i, p := range parts {
			if p != "" {
				parts[i] = abs(p)
			}
		}
		s.Arg = strings.Join(parts, ",")
	}
	return s
}

// Resolve loads the spec's training and test splits.
func (s Spec) Resolve(opt ResolveOptions) (train, test *Dataset, err error) {
	switch s.Kind {
	case "fashion-mnist":
		return FashionMNIST()
	case "mnist":
		if s.Arg != "" {
			return mnistShifted(s.Arg)
		}
		return MNIST()
	case "digits":
		return Digits()
	case "emoji":
		return Emoji(opt, s.Arg == "all")
	case "synth":
		return Synth(s.Synth)
	case "folder":
		return resolveFolder(s.Arg, opt)
	case "idx":
		return resolveIDX(s.Arg, opt)
	}
	return nil, nil, dataErr("unknown dataset spec %q (want %s)", s.Kind, knownNames())
}

// CheckSpec checks spec's syntax without reading anything (ParseSpec).
func CheckSpec(spec string) error {
	_, err := ParseSpec(spec)
	return err
}

// ResolveWith is Resolve with options.
func ResolveWith(spec string, opt ResolveOptions) (train, test *Dataset, err error) {
	s, err := ParseSpec(spec)
	if err != nil {
		return nil, nil, err
	}
	return s.Resolve(opt)
}

// TrainingSpec is Spec.Training of spec; a malformed spec is returned as
// it is.
func TrainingSpec(spec string) string {
	s, err := ParseSpec(spec)
	if err != nil {
		return spec
	}
	return s.Training()
}

// Canonical is spec in one spelling: the Fashion-MNIST aliases as
// fashion-mnist, folder and IDX paths absolute and clean (so that records
// compare across working directories), a synth spec with every option
// written. It names the same images, test split included. A malformed
// spec is returned as it is (Resolve says what is wrong with it).
func Canonical(spec string) string {
	s, err := ParseSpec(spec)
	if err != nil {
		return spec
	}
	return s.Abs().String()
}

// SameTraining reports whether two specs share their training split (and
// so draw the same validation images): mnist:rotate30 trains as mnist, a
// synth spec with another test size as the one without (Spec.Training).
func SameTraining(a, b string) bool {
	return TrainingSpec(Canonical(a)) == TrainingSpec(Canonical(b))
}

// CheckClasses refuses a test split whose class count differs from the
// training split's (nil test: nothing to check).
func CheckClasses(train, test *Dataset) error {
	if test == nil || test.NumClasses() == train.NumClasses() {
		return nil
	}
	return fmt.Errorf("the training split has %d classes (%s) but the test split has %d (%s); both need the same classes",
		train.NumClasses(), ClassList(train.Classes), test.NumClasses(), ClassList(test.Classes))
}

// ClassList shows up to 8 class names, then how many more there are.
func ClassList(c []string) string {
	if len(c) > 8 {
		return strings.Join(c[:8], ", ") + fmt.Sprintf(", … %d more", len(c)-8)
	}
	return strings.Join(c, ", ")
}

func resolveFolder(dir string, opt ResolveOptions) (train, test *Dataset, err error) {
	fo := FolderOptions{H: opt.H, W: opt.W, Channels: opt.Channels, Interp: opt.Interp, CropPct: opt.CropPct, Log: opt.Log}
	trainDir, testDir := filepath.Join(dir, "train"), filepath.Join(dir, "test")
	if isDir(trainDir) && isDir(testDir) {
		if train, err = LoadFolder(trainDir, fo); err != nil {
			return nil, nil, err
		}
		// The test split follows the training split's classes, size and
		// channels, so labels and shapes agree.
		fo.Classes, fo.H, fo.W, fo.Channels = train.Classes, train.H, train.W, train.C
		if test, err = LoadFolder(testDir, fo); err != nil {
			return nil, nil, err
		}
		name := filepath.Base(filepath.Clean(dir))
		train.Name, test.Name = name, name
		return train, test, nil
	}
	if isDir(trainDir) != isDir(testDir) {
		return nil, nil, dataErr("image folder %s: has one of train/ and test/ but not the other", dir)
	}
	all, err := LoadFolder(dir, fo)
	if err != nil {
		return nil, nil, err
	}
	return holdoutTest(all, opt.Seed)
}

func resolveIDX(arg string, opt ResolveOptions) (train, test *Dataset, err error) {
	files := strings.Split(arg, ",")
	switch len(files) {
	case 2:
		name := strings.TrimSuffix(filepath.Base(files[0]), ".gz")
		all, err := LoadIDX(name, files[0], files[1], nil)
		if err != nil {
			return nil, nil, err
		}
		return holdoutTest(all, opt.Seed)
	case 4:
		name := strings.TrimSuffix(filepath.Base(files[0]), ".gz")
		if train, err = LoadIDX(name, files[0], files[1], nil); err != nil {
			return nil, nil, err
		}
		if test, err = LoadIDX(name, files[2], files[3], train.Classes); err != nil {
			return nil, nil, err
		}
		if test.C != train.C || test.H != train.H || test.W != train.W {
			return nil, nil, dataErr("idx: train images are %dx%dx%d but test images %dx%dx%d",
				train.C, train.H, train.W, test.C, test.H, test.W)
		}
		return train, test, nil
	}
	return nil, nil, dataErr("idx spec needs 2 or 4 comma-separated files, got %d in %q", len(files), arg)
}

// holdoutTest splits a training-only source: a seeded stratified
// TestHoldout fraction becomes test, the rest train.
func holdoutTest(all *Dataset, seed uint64) (train, test *Dataset, err error) {
	scheme := fmt.Sprintf("holdout:%g", TestHoldout)
	seed ^= 0x74657374 // decorrelate from val draws made later with the same seed
	if train, err = Split(all, nil, "train", scheme, seed); err != nil {
		return nil, nil, fmt.Errorf("holding out a test split of %q: %w", all.Name, err)
	}
	if test, err = Split(all, nil, "val", scheme, seed); err != nil {
		return nil, nil, fmt.Errorf("holding out a test split of %q: %w", all.Name, err)
	}
	return train, test, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
