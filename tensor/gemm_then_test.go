package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// TestSgemmThen: SgemmThen and SgemmBiasThen store the floats of Sgemm and
// SgemmBias, bit for bit, and hand every element of C to then exactly once,
// after it holds its final value: then copies its block of C aside, and
// the copy must equal the finished C. Shapes cover the blocked drivers
// (wide and narrow kernels, several k and n blocks, several row panels
// against few B panels), the small, one-row and split-k paths, and bf16.
func TestSgemmThen(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	shapes := []struct{ m, n, k int }{
		{200, 300, 64},       // blocked, one k block
		{100, 70, 900},       // three k blocks: then only after the last
		{45, 2000, 100},      // several n blocks
		{300, 8, 192},        // narrow kernel (rank-8 LoRA t = x·Buᵀ)
		{3, 5, 7},            // tiny: the simple loop
		{1, 300, 200},        // one row: the row path
		{8, 40, 6000},        // split k
		{197, 197, 64},       // attention's q·kᵀ
		{6304 / 8, 192, 768}, // a ViT-Tiny fc2, fewer rows
	}
	for _, p := range []Precision{F32, BF16} {
		for _, sh := range shapes {
			for _, tr := range [][2]bool{{false, true}, {false, false}, {true, false}} {
				for _, mode := range []string{"beta0", "beta0.3", "bias"} {
					name := fmt.Sprintf("%v/%dx%dx%d/tA=%v,tB=%v/%s", p, sh.m, sh.n, sh.k, tr[0], tr[1], mode)
					t.Run(name, func(t *testing.T) {
						checkSgemmThen(t, rng, p, tr[0], tr[1], sh.m, sh.n, sh.k, mode)
					})
				}
			}
		}
	}
}

func checkSgemmThen(t *testing.T, rng *rand.Rand, p Precision, transA, transB bool, m, n, k int, mode string) {
	t.Helper()
	ar, ac, br, bc := gemmOperandDims(transA, transB, m, n, k)
	a, b := randSlice(rng, ar*ac), randSlice(rng, br*bc)
	ldc := n + 3
	c0 := randSlice(rng, m*ldc)
	var bias []float32
	beta := float32(0)
	switch mode {
	case "bias":
		bias = randSlice(rng, n)
	case "beta0.3":
		beta = 0.3
	}
	want := append([]float32(nil), c0...)
	got := append([]float32(nil), c0...)
	seen := make([]float32, m*ldc) // then's copies of its blocks
	count := make([]atomic.Int32, m*n)
	then := func(i0, i1, j0, j1 int) {
		if i0 < 0 || i1 > m || j0 < 0 || j1 > n || i0 >= i1 || j0 >= j1 {
			t.Errorf("then(%d, %d, %d, %d) outside C (%d×%d) or empty", i0, i1, j0, j1, m, n)
			return
		}
		for i := i0; i < i1; i++ {
			copy(seen[i*ldc+j0:i*ldc+j1], got[i*ldc+j0:i*ldc+j1])
			for j := j0; j < j1; j++ {
				count[i*n+j].Add(1)
			}
		}
	}
	if bias != nil {
		p.SgemmBias(transA, transB, m, n, k, 1.5, a, ac, b, bc, bias, want, ldc)
		p.SgemmBiasThen(transA, transB, m, n, k, 1.5, a, ac, b, bc, bias, got, ldc, then)
	} else {
		p.Sgemm(transA, transB, m, n, k, 1.5, a, ac, b, bc, beta, want, ldc)
		p.SgemmThen(transA, transB, m, n, k, 1.5, a, ac, b, bc, beta, got, ldc, then)
	}
	bad := 0
	for i := 0; i < m && bad < 5; i++ {
		for j := 0; j < n && bad < 5; j++ {
			o := i*ldc + j
			switch {
			case math.Float32bits(got[o]) != math.Float32bits(want[o]):
				t.Errorf("C[%d,%d] = %g, want %g (the plain product's floats)", i, j, got[o], want[o])
				bad++
			case count[i*n+j].Load() != 1:
				t.Errorf("C[%d,%d] handed to then %d times, want once", i, j, count[i*n+j].Load())
				bad++
			case math.Float32bits(seen[o]) != math.Float32bits(got[o]):
				t.Errorf("C[%d,%d] was %g when handed to then, final %g: not final yet", i, j, seen[o], got[o])
				bad++
			}
		}
	}
}
