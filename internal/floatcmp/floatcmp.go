// Package floatcmp compares float32 results that may differ by rounding:
// two computations of the same quantity whose products sum in another
// order (a model's tests compare a path that skips work with the one that
// does it all).
package floatcmp

import (
	"fmt"
	"math"
)

// Within reports whether got and want have the same length and every
// element of got is within tol·scale of want's.
func Within(got, want []float32, tol, scale float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if !(math.Abs(float64(got[i])-float64(want[i])) <= tol*scale) {
			return false
		}
	}
	return true
}

// Peak is the largest magnitude in any of xs: a scale for Within, so that
// a tensor whose terms cancel to about 0 is compared at the scale of the
// largest value beside it rather than at its own.
func Peak(xs ...[]float32) float64 {
	var p float64
	for _, x := range xs {
		for _, v := range x {
			p = max(p, math.Abs(float64(v)))
		}
	}
	return p
}

// Apart is the index of the first tensor of got that is not Within tol of
// its counterpart in want at the scale of want's largest value
// (Peak(want...)), so that a gradient whose terms cancel to about 0 is
// compared at the scale of the largest one; −1 when every one is. A
// different number of tensors is apart at the first missing index.
func Apart(got, want [][]float32, tol float64) int {
	scale := Peak(want...)
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || !Within(got[i], want[i], tol, scale) {
			return i
		}
	}
	return -1
}

// Paths says how a run that skips work differs from the run that does it
// all, "" when it does not: its output (got) against want's within tol of
// want's largest value, then its gradient tensors as Apart compares them.
// A want without gradients differs too, so that a comparison of none
// cannot pass.
func Paths(got, want []float32, gotGrads, wantGrads [][]float32, tol float64) string {
	if !Within(got, want, tol, Peak(want)) {
		return fmt.Sprintf("output %v, want %v", got, want)
	}
	if len(wantGrads) == 0 || len(gotGrads) != len(wantGrads) {
		return fmt.Sprintf("%d and %d gradient tensors", len(gotGrads), len(wantGrads))
	}
	if i := Apart(gotGrads, wantGrads, tol); i >= 0 {
		return fmt.Sprintf("gradient tensor %d: %v, want %v", i, gotGrads[i], wantGrads[i])
	}
	return ""
}
