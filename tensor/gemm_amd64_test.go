//go:build amd64 && !purego

package tensor

import (
	"math/rand/v2"
	"slices"
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

// The narrow kernel gives the 14×32 kernel's floats bit for bit on the
// products it takes (at most 16 columns): k blocked (k > gemmKCMax) and
// split over workers, A and B transposed or not, C read with beta or
// written with a bias, edge tiles of rows and columns.
func TestSgemmNarrowKernelMatchesWide(t *testing.T) {
	if kernelAVX512.narrow == nil {
		t.Skip("no AVX-512 on this CPU")
	}
	narrow := kernelAVX512.narrow
	defer func() { kernelAVX512.narrow = narrow }()
	rng := rand.New(rand.NewPCG(11, 12))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	for _, s := range [][3]int{{6304, 8, 192}, {300, 8, 768}, {57, 16, 1000}, {29, 5, 33}, {28, 16, 400}, {100, 1, 7}, {64, 13, 2000}} {
		m, n, k := s[0], s[1], s[2]
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, beta := range []float32{0, 1, 0.3} {
					for _, withBias := range []bool{false, true} {
						a, b, c0, bias := fill(m*k), fill(k*n), fill(m*n), fill(n)
						lda, ldb := k, n
						if tA {
							lda = m
						}
						if tB {
							ldb = k
						}
						run := func(kern *microKernel) []float32 {
							kernelAVX512.narrow = kern
							c := slices.Clone(c0)
							if withBias {
								F32.SgemmBias(tA, tB, m, n, k, 0.75, a, lda, b, ldb, bias, c, n)
							} else {
								sgemmNative(kernelAVX512, true, tA, tB, m, n, k, 0.75, a, lda, b, ldb, beta, c, n)
							}
							return c
						}
						if wide, got := run(nil), run(narrow); !slices.Equal(wide, got) {
							t.Fatalf("%dx%dx%d tA=%v tB=%v beta=%v bias=%v: the narrow kernel's floats differ from the 14×32 kernel's", m, n, k, tA, tB, beta, withBias)
						}
					}
				}
			}
		}
	}
}
