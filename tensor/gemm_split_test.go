package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// TestSgemmSplit: SgemmSplit stores c's columns as the whole product's
// columns j < at, bit for bit (the product of all n columns by
// SgemmBiasThen or SgemmThen), and c2's as its columns j ≥ at; it writes
// nothing else of c or c2 (their padding columns keep their values), and
// hands each element of c, and none of c2, to then once. Shapes: a rank-8
// adapter's columns after a layer's (the blocked drivers, one panel more),
// a split inside a panel (the two-product path), several k blocks, and n
// blocks (several panels on each side of the split).
func TestSgemmSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	shapes := []struct{ m, n, k, at int }{
		{300, 192 + 8, 96, 192},  // y and t of a width-192 layer
		{150, 768 + 8, 192, 768}, // a wide layer's
		{100, 64 + 8, 900, 64},   // three k blocks
		{60, 40, 50, 20},         // the split inside a panel: two products
		{45, 2048 + 8, 40, 2048}, // several n blocks
		{20, 64 + 40, 30, 64},    // c2 wider than a panel
	}
	// float32 on each wide kernel this CPU has (AVX-512's, AVX2's), then BF16
	type run struct {
		p    Precision
		kern *microKernel
	}
	runs := []run{{F32, defaultKernel}}
	for _, k := range wideKernels() {
		if k != defaultKernel { // another wide kernel (AVX2's on an AVX-512 CPU)
			runs = append(runs, run{F32, k})
		}
	}
	runs = append(runs, run{BF16, defaultKernel})
	defer func(k *microKernel) { defaultKernel = k }(defaultKernel)
	for _, ru := range runs {
		p := ru.p
		defaultKernel = ru.kern
		for _, sh := range shapes {
			for _, tr := range [][2]bool{{false, true}, {false, false}, {true, false}} {
				for _, mode := range []string{"beta0", "beta1", "bias"} {
					name := fmt.Sprintf("%v/%s/%dx%dx%d@%d/tA=%v,tB=%v/%s", p, kernelName(ru.kern), sh.m, sh.n, sh.k, sh.at, tr[0], tr[1], mode)
					t.Run(name, func(t *testing.T) {
						checkSgemmSplit(t, rng, p, tr[0], tr[1], sh.m, sh.n, sh.k, sh.at, mode)
					})
				}
			}
		}
	}
}

func checkSgemmSplit(t *testing.T, rng *rand.Rand, p Precision, transA, transB bool, m, n, k, at int, mode string) {
	t.Helper()
	ar, ac, br, bc := gemmOperandDims(transA, transB, m, n, k)
	a, b := randSlice(rng, ar*ac), randSlice(rng, br*bc)
	ldw := n + 1
	whole := randSlice(rng, m*ldw) // the unsplit product, for reference
	ldc, ldc2 := at+3, n-at+2
	c, c2 := randSlice(rng, m*ldc), randSlice(rng, m*ldc2)
	for i := 0; i < m; i++ { // the split's start: the unsplit C's values
		copy(c[i*ldc:i*ldc+at], whole[i*ldw:i*ldw+at])
		copy(c2[i*ldc2:i*ldc2+n-at], whole[i*ldw+at:i*ldw+n])
	}
	c0, c20 := append([]float32(nil), c...), append([]float32(nil), c2...)
	var bias []float32
	beta := float32(0)
	switch mode {
	case "bias":
		bias = randSlice(rng, n)
	case "beta1":
		beta = 1
	}
	count := make([]atomic.Int32, m*at)
	then := func(i0, i1, j0, j1 int) {
		if i0 < 0 || i1 > m || j0 < 0 || j1 > at || i0 >= i1 || j0 >= j1 {
			t.Errorf("then(%d, %d, %d, %d) outside c (%d×%d) or empty", i0, i1, j0, j1, m, at)
			return
		}
		for i := i0; i < i1; i++ {
			for j := j0; j < j1; j++ {
				count[i*at+j].Add(1)
			}
		}
	}
	if bias != nil {
		p.SgemmBias(transA, transB, m, n, k, 1.5, a, ac, b, bc, bias, whole, ldw)
	} else {
		p.Sgemm(transA, transB, m, n, k, 1.5, a, ac, b, bc, beta, whole, ldw)
	}
	p.SgemmSplit(transA, transB, m, n, k, 1.5, a, ac, b, bc, beta, bias, c, ldc, at, c2, ldc2, then)

	// One blocked product forms c and c2 where a native kernel runs the
	// product and its panel width divides at; else two products, each on
	// the same kernel as the whole where there is a native one (c's
	// columns then bit for bit), c2's thin columns in float32 at BF16.
	// (with a bias, only on a kernel that stores one: AMX's does not).
	native := nativeGemm && defaultKernel != nil
	nr, biasStore := 0, true
	if native {
		nr = defaultKernel.nr
	}
	if p == BF16 {
		native, nr = nativeBF16 != nil, 32
		biasStore = native && nativeBF16.biasTiles != nil
	}
	oneProduct := native && at%nr == 0 && (bias == nil || biasStore)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var got []float32
			if j < at {
				got = c[i*ldc+j:]
			} else {
				got = c2[i*ldc2+j-at:]
			}
			want := whole[i*ldw+j]
			exact := oneProduct || native && j < at
			// else within rounding: bfloat16 against float32 operands
			if exact && got[0] != want || !exact && math.Abs(float64(got[0]-want)) > 5e-2*math.Sqrt(float64(k)) {
				t.Fatalf("C[%d,%d] = %v, want %v (the unsplit product's)", i, j, got[0], want)
			}
		}
		for j := at; j < ldc; j++ {
			if c[i*ldc+j] != c0[i*ldc+j] {
				t.Fatalf("c[%d,%d] past column at changed", i, j)
			}
		}
		for j := n - at; j < ldc2; j++ {
			if c2[i*ldc2+j] != c20[i*ldc2+j] {
				t.Fatalf("c2[%d,%d] past its columns changed", i, j)
			}
		}
	}
	for i := range count {
		if n := count[i].Load(); n != 1 {
			t.Fatalf("element %d of c handed to then %d times, want 1", i, n)
		}
	}
}

// kernelName is a float32 kernel's name, "portable" for none.
func kernelName(k *microKernel) string {
	if k == nil {
		return "portable"
	}
	return k.name
}

// wideKernels lists the wide float32 kernels this CPU runs (those with a
// narrow kernel for products of few columns: AVX-512's, AVX2's).
func wideKernels() []*microKernel {
	var ks []*microKernel
	for _, k := range availableKernels {
		if k.narrow != nil {
			ks = append(ks, k)
		}
	}
	return ks
}
