package data

import (
	"github.com/glora/glora/internal/apportion"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Split returns one part of a dataset under a split scheme:
//
//	split:  "train", "val", "trainval" (train ∪ val) or "test" (= test,
//	        unchanged, whatever the scheme).
//	scheme: "full"      train = the whole training split; no val.
//	        "holdout"   val = a stratified 10% of the training split, train
//	                    = the other 90% (pretraining); "holdout:F" with a
//	                    fraction F ∈ (0,1) instead of 0.1.
//	        "vtab1k"    800 train + 200 val drawn from the training split,
//	                    stratified (as VTAB-1k's train800 / val200;
//	                    trainval = train800val200).
//	        "Kshot"     (K ∈ {1,2,4,8,16,…}; also "K-shot", "kshot:K") K
//	                    train images per class, and a val of K further
//	                    images per class.
//
// Draws are seeded (PCG from seed and the scheme) and deterministic; val
// never overlaps train. Stratified means each class gets its
// largest-remainder share of a count, in proportion to its size. The test
// split is returned as is; the others are copies of the chosen images, in
// ascending index order.
func Split(train, test *Dataset, split, scheme string, seed uint64) (*Dataset, error) {
	if split == "test" {
		if test == nil {
			return nil, dataErr("split: no test set")
		}
		return test, nil
	}
	if train == nil {
		return nil, dataErr("split: no training set")
	}
	idx, err := SplitIndices(train, split, scheme, seed)
	if err != nil {
		return nil, err
	}
	return train.Subset(idx)
}

// SplitIndices is Split's index selection within the training split, for
// split ∈ {train, val, trainval}; the indices are ascending.
func SplitIndices(train *Dataset, split, scheme string, seed uint64) ([]int, error) {
	if split != "train" && split != "val" && split != "trainval" {
		return nil, dataErr("split: unknown split %q (want train, val, trainval or test)", split)
	}
	if err := train.Validate(); err != nil {
		return nil, err
	}
	n := train.Len()
	counts := train.ClassCounts()
	var nTrain, nVal []int // per class
	switch name, arg, _ := strings.Cut(scheme, ":"); {
	case scheme == "full":
		if split == "val" {
			return nil, dataErr("split: scheme \"full\" has no val split")
		}
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return all, nil
	case name == "holdout":
		frac := 0.1
		if arg != "" {
			f, err := strconv.ParseFloat(arg, 64)
			if err != nil || !(f > 0 && f < 1) {
				return nil, dataErr("split: holdout fraction %q, want a number in (0,1)", arg)
			}
			frac = f
		}
		v := int(float64(n)*frac + 0.5)
		if v < 1 || v >= n {
			return nil, dataErr("split: holdout %g of %d images leaves an empty part", frac, n)
		}
		nVal = apportion.Shares(v, counts)
		nTrain = make([]int, len(counts))
		for c := range counts {
			nTrain[c] = counts[c] - nVal[c]
		}
	case scheme == "vtab1k":
		if n < 1000 {
			return nil, dataErr("split: vtab1k needs 1000 training images, %q has %d", train.Name, n)
		}
		both := apportion.Shares(1000, counts)
		nVal = apportion.Shares(200, both)
		nTrain = make([]int, len(counts))
		for c := range counts {
			nTrain[c] = both[c] - nVal[c]
		}
	default:
		k, ok := parseShots(scheme)
		if !ok {
			return nil, dataErr("split: unknown scheme %q (want full, holdout[:F], vtab1k or Kshot)", scheme)
		}
		nTrain, nVal = make([]int, len(counts)), make([]int, len(counts))
		for c, m := range counts {
			if m < 2*k {
				return nil, dataErr("split: %d-shot needs %d images of class %q (train + val), %q has %d",
					k, 2*k, train.Classes[c], train.Name, m)
			}
			nTrain[c], nVal[c] = k, k
		}
	}
	// Shuffle each class with the seeded source; val takes the first
	// nVal[c] of class c, train the next nTrain[c].
	h := fnv.New64a()
	h.Write([]byte(scheme))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	pools := make([][]int, len(counts))
	for i, l := range train.Labels {
		pools[l] = append(pools[l], i)
	}
	var out []int
	for c, pool := range pools {
		rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
		v, t := nVal[c], nTrain[c]
		switch split {
		case "val":
			out = append(out, pool[:v]...)
		case "train":
			out = append(out, pool[v:v+t]...)
		default:
			out = append(out, pool[:v+t]...)
		}
	}
	slices.Sort(out)
	return out, nil
}

// CheckScheme checks a split scheme's spelling without any data: full,
// holdout[:F] with F in (0, 1), vtab1k, or Kshot with K ≥ 1.
func CheckScheme(scheme string) error {
	switch name, arg, _ := strings.Cut(scheme, ":"); {
	case scheme == "full", scheme == "vtab1k", name == "holdout" && arg == "":
		return nil
	case name == "holdout":
		if f, err := strconv.ParseFloat(arg, 64); err != nil || !(f > 0 && f < 1) {
			return dataErr("split: holdout fraction %q, want a number in (0,1)", arg)
		}
		return nil
	}
	if _, ok := parseShots(scheme); !ok {
		return dataErr("split: unknown scheme %q (want full, holdout[:F], vtab1k or Kshot)", scheme)
	}
	return nil
}

// parseShots reads "K-shot", "Kshot" or "kshot:K" (K ≥ 1).
func parseShots(s string) (int, bool) {
	var num string
	switch {
	case strings.HasPrefix(s, "kshot:"):
		num = s[len("kshot:"):]
	case strings.HasSuffix(s, "-shot"):
		num = s[:len(s)-len("-shot")]
	case strings.HasSuffix(s, "shot"):
		num = s[:len(s)-len("shot")]
	default:
		return 0, false
	}
	k, err := strconv.Atoi(num)
	return k, err == nil && k >= 1
}
