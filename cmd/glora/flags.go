package main

import (
	"flag"
	"fmt"
	"math"
)

// Checks of numeric flags, run before a command starts any work; each error
// names the flag, its value and the allowed range.

// checkInt reports an error unless lo ≤ v ≤ hi.
func checkInt(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("--%s %d: want a whole number in [%d, %d]", name, v, lo, hi)
	}
	return nil
}

// checkFloat reports an error unless v is finite and within lo..hi; open
// ends exclude the bound. hi = +Inf means no upper bound.
func checkFloat(name string, v, lo, hi float64, loOpen, hiOpen bool) error {
	bad := math.IsNaN(v) || math.IsInf(v, 0) || v < lo || v > hi || (loOpen && v == lo) || (hiOpen && v == hi)
	if !bad {
		return nil
	}
	l, r := "[", "]"
	if loOpen {
		l = "("
	}
	if hiOpen || math.IsInf(hi, 1) {
		r = ")"
	}
	return fmt.Errorf("--%s %g: want a number in %s%g, %g%s", name, v, l, lo, hi, r)
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// explicitFlags returns the names of the flags given on the command line.
func explicitFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// Upper bounds that keep a typo from asking for absurd work or memory.
const (
	maxBatch  = 1 << 16
	maxEpochs = 100_000
	maxSteps  = 10_000_000
)
