package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"github.com/glora/glora/internal/apportion"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
)

const (
	// DigitsFile is where Debian's python3-sklearn installs the 8×8 digits.
	DigitsFile = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
	// DigitsEnv overrides the digits file (digits.csv.gz or digits.csv).
	DigitsEnv = "GLORA_DIGITS_FILE"
	// DigitsTrain is the size of the digits training split; the other 797
	// of the 1,797 images are the test split.
	DigitsTrain = 1000

	digitsSeed = 0x6469676974730001 // fixed: the split never changes
	maxDigits  = 1 << 20            // images; the real file has 1,797
)

// Digits loads the 8×8 handwritten digits of the UCI optical recognition
// data set as scikit-learn ships it (1,797 images, 16 grey levels; Debian
// package python3-sklearn) from $GLORA_DIGITS_FILE or DigitsFile. The 0…16
// values are scaled to 0…255 (v·255/16, rounded). The split is fixed:
// a seeded, stratified DigitsTrain = 1,000 images train (what VTAB-1k's
// 800 + 200 draw), the other 797 test.
func Digits() (train, test *Dataset, err error) {
	paths := []string{DigitsFile}
	if p := os.Getenv(DigitsEnv); p != "" {
		paths = append([]string{p}, paths...)
	}
	return digitsFrom(paths)
}

// digitsFrom loads the first of paths that exists.
func digitsFrom(paths []string) (train, test *Dataset, err error) {
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			all, err := LoadDigitsCSV(p)
			if err != nil {
				return nil, nil, err
			}
			if all.Len() <= DigitsTrain {
				return nil, nil, dataErr("digits %s: %d images, need more than the %d of the training split", p, all.Len(), DigitsTrain)
			}
			return fixedSplit(all, DigitsTrain, digitsSeed)
		}
	}
	return nil, nil, dataErr("digits: %s not found; install the Debian package python3-sklearn "+
		"(apt-get install python3-sklearn), or set %s to a copy of scikit-learn's digits.csv.gz",
		strings.Join(paths, " or "), DigitsEnv)
}

// LoadDigitsCSV reads scikit-learn's digits.csv[.gz]: one image a line, 64
// pixel values 0…16 (row-major 8×8) then the label 0…9, comma-separated.
// Values may be written as integers or as floats with an integer value.
func LoadDigitsCSV(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrData, err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, dataErr("digits %s: %v", path, err)
		}
		defer zr.Close()
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<16)
	var pix []uint8
	var labels []int
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		if len(labels) >= maxDigits {
			return nil, dataErr("digits %s: more than %d images", path, maxDigits)
		}
		fields := strings.Split(string(text), ",")
		if len(fields) != 65 {
			return nil, dataErr("digits %s line %d: %d values, want 64 pixels and a label", path, line, len(fields))
		}
		for i, s := range fields {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			hi := 16.0
			if i == 64 {
				hi = 9
			}
			if err != nil || v != float64(int(v)) || v < 0 || v > hi {
				return nil, dataErr("digits %s line %d: value %d is %q, want an integer in [0,%g]", path, line, i+1, s, hi)
			}
			if i < 64 {
				pix = append(pix, uint8((int(v)*255+8)/16))
			} else {
				labels = append(labels, int(v))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, dataErr("digits %s: %v", path, err)
	}
	if len(labels) == 0 {
		return nil, dataErr("digits %s: no images", path)
	}
	return FromArrays("digits", MNISTClasses, 1, 8, 8, pix, labels)
}

// fixedSplit draws a stratified nTrain images of all as train (each class
// its largest-remainder share) and leaves the rest as test, both in the
// original order (see fixedSplitIndices).
func fixedSplit(all *Dataset, nTrain int, seed uint64) (train, test *Dataset, err error) {
	tr, te := fixedSplitIndices(all.Labels, len(all.Classes), all.Name, nTrain, seed)
	if train, err = all.Subset(tr); err != nil {
		return nil, nil, err
	}
	if test, err = all.Subset(te); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// fixedSplitIndices splits the indices of labels (each in [0,k)): each
// class shuffled by PCG(seed, hash(name)) gives its largest-remainder share
// of nTrain to train, the rest to test; both ascending.
func fixedSplitIndices(labels []int, k int, name string, nTrain int, seed uint64) (tr, te []int) {
	counts := make([]int, k)
	for _, l := range labels {
		counts[l]++
	}
	share := apportion.Shares(nTrain, counts)
	h := fnv.New64a()
	h.Write([]byte(name))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	pools := make([][]int, k)
	for i, l := range labels {
		pools[l] = append(pools[l], i)
	}
	for c, pool := range pools {
		rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
		tr = append(tr, pool[:share[c]]...)
		te = append(te, pool[share[c]:]...)
	}
	slices.Sort(tr)
	slices.Sort(te)
	return tr, te
}
