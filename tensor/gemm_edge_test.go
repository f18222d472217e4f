//go:build amd64 && !purego && linux

package tensor

import (
	"math"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"unsafe"
)

// forEachEdgeCase runs f on every kernel, every combination of transposes
// and products whose edge row panels and transposed-B edge groups the
// kernels may read past (attention's 50-token heads among them), with the
// stored operands' (rows, cols).
func forEachEdgeCase(f func(kern *microKernel, transA, transB bool, m, n, k, ar, ac, br, bc int)) {
	for _, kern := range availableKernels {
		for _, s := range [][3]int{{50, 50, 32}, {50, 32, 50}, {13, 21, 17}, {7, 9, 40}, {29, 8, 33}, {197, 5, 64}} {
			m, n, k := s[0], s[1], s[2]
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				ar, ac, br, bc := gemmOperandDims(tr[0], tr[1], m, n, k)
				f(kern, tr[0], tr[1], m, n, k, ar, ac, br, bc)
			}
		}
	}
}

// TestGemmEdgesReadPast: where op(A)'s rows and op(B)'s columns past the
// matrix exist in the buffer (here NaNs), the kernels may read them for an
// edge panel (edgeInPlace, packBPanel's whole edge group); the stored C must
// be bit for bit that of the zero-padded packed edges, on every kernel, and
// nothing outside C may change.
func TestGemmEdgesReadPast(t *testing.T) {
	defer func(w int, ea, eb bool) { gemmTinyWork, edgeAInPlace, edgeBInPlace = w, ea, eb }(gemmTinyWork, edgeAInPlace, edgeBInPlace)
	gemmTinyWork = 0
	rng := rand.New(rand.NewPCG(51, 52))
	nan := float32(math.NaN())
	forEachEdgeCase(func(kern *microKernel, transA, transB bool, m, n, k, ar, ac, br, bc int) {
		// operands with 20 NaN rows after them, C inside a NaN frame
		a := append(randSlice(rng, ar*ac), slices.Repeat([]float32{nan}, 20*ac)...)
		b := append(randSlice(rng, br*bc), slices.Repeat([]float32{nan}, 20*bc)...)
		ldc := n + 3
		c0 := slices.Repeat([]float32{nan}, (m+2)*ldc)
		for i := range m {
			copy(c0[(i+1)*ldc:(i+1)*ldc+n], randSlice(rng, n))
		}
		for _, beta := range []float32{0, 0.5} {
			var got [2][]float32
			for v, on := range []bool{false, true} {
				edgeAInPlace, edgeBInPlace = on, on
				got[v] = slices.Clone(c0)
				sgemmNative(kern, false, transA, transB, m, n, k, 1.5, a, ac, b, bc, beta, got[v][ldc:], ldc)
			}
			for i := range got[0] {
				if math.Float32bits(got[0][i]) != math.Float32bits(got[1][i]) {
					t.Fatalf("%s transA=%v transB=%v %dx%dx%d beta %g: C[%d] = %g reading past the edges, %g packed", kern.name, transA, transB, m, n, k, beta, i, got[1][i], got[0][i])
				}
			}
			for i := range m {
				for j := range n {
					if v := got[1][(i+1)*ldc+j]; v != v {
						t.Fatalf("%s transA=%v transB=%v %dx%dx%d: C[%d,%d] is NaN: the rows past the operands leaked into it", kern.name, transA, transB, m, n, k, i, j)
					}
				}
			}
		}
	})
}

// TestGemmEdgesAtPageEnd puts each operand at the very end of a readable
// page, before one that is not: a kernel or packer reading past op(A)'s
// last row or op(B)'s last column, where no rows past exist in the slice,
// faults. The products must equal sgemmRef's.
func TestGemmEdgesAtPageEnd(t *testing.T) {
	defer func(w int) { gemmTinyWork = w }(gemmTinyWork)
	gemmTinyWork = 0
	page := syscall.Getpagesize()
	// atEnd returns a slice of n floats that ends at a page the process may
	// not read.
	atEnd := func(t *testing.T, n int) []float32 {
		size := (4*n+page-1)/page*page + page
		mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Munmap(mem) })
		if err := syscall.Mprotect(mem[size-page:], syscall.PROT_NONE); err != nil {
			t.Fatal(err)
		}
		return unsafe.Slice((*float32)(unsafe.Pointer(&mem[size-page-4*n])), n)
	}
	rng := rand.New(rand.NewPCG(53, 54))
	forEachEdgeCase(func(kern *microKernel, transA, transB bool, m, n, k, ar, ac, br, bc int) {
		a, b, c := atEnd(t, ar*ac), atEnd(t, br*bc), atEnd(t, m*n)
		copy(a, randSlice(rng, len(a)))
		copy(b, randSlice(rng, len(b)))
		want := make([]float32, m*n)
		sgemmRef(false, transA, transB, m, n, k, 1, a, ac, b, bc, 0, want, n)
		sgemmNative(kern, false, transA, transB, m, n, k, 1, a, ac, b, bc, 0, c, n)
		for i := range c {
			if d := math.Abs(float64(c[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("%s transA=%v transB=%v %dx%dx%d: C[%d] = %g, want %g", kern.name, transA, transB, m, n, k, i, c[i], want[i])
			}
		}
	})
}
