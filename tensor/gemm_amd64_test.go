//go:build amd64 && !purego

package tensor

import (
	"math/rand/v2"
	"testing"
)

// TestSgemmKernelNoPrefetch runs the AVX-512 kernel without software
// prefetch (gemmPrefetch false), the variant Sgemm does not pick by
// default, through the same cases as TestSgemmKernels and TestSgemmBias:
// its full-tile and edge-tile stores, with and without reading C or adding
// a bias, are separate code.
func TestSgemmKernelNoPrefetch(t *testing.T) {
	var kern *microKernel
	for _, k := range availableKernels {
		if k == kernelAVX512 {
			kern = k
		}
	}
	if kern == nil {
		t.Skip("no AVX-512 on this CPU")
	}
	defer func(pf bool, w int) { gemmPrefetch, gemmTinyWork = pf, w }(gemmPrefetch, gemmTinyWork)
	gemmPrefetch, gemmTinyWork = false, 0
	rng := rand.New(rand.NewPCG(7, 8))
	f := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		sgemmNative(kern, true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
	for _, g := range gemmCases(rng, 40, true) {
		checkGemm(t, "avx512 without prefetch", f, g, rng)
	}
	checkSgemmBias(t, rng)
}
