package tensor

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSbgemmKernels forces every bf16 kernel of this process through the
// blocked driver: the portable Go kernels of both packed layouts always,
// and the AVX512-BF16 and AMX kernels where the CPU has them. Each product
// must equal the float64 product of the bf16-rounded operands up to
// float32 summation error, over the edge cases (k odd or not a multiple of
// the tile depth, partial row and column panels, alpha/beta, beta = 0 with
// NaNs in C, padded strides) and k blocking.
func TestSbgemmKernels(t *testing.T) {
	defer func(w int) { gemmTinyWork = w }(gemmTinyWork)
	gemmTinyWork = 0
	for _, kern := range bf16Kernels {
		t.Run(kern.name, func(t *testing.T) { testSbgemmKernel(t, kern) })
	}
}

func testSbgemmKernel(t *testing.T, kern *bf16Kernel) {
	if testing.Short() && nativeBF16 != nil && strings.HasPrefix(kern.name, "go-") {
		t.Skip("the portable kernels are tested without -short (slow under an emulator)")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, par := range []bool{false, true} {
		f := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			sbgemmNative(kern, par, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}
		for _, g := range gemmCases(rng, 30, par) {
			checkGemmRounded(t, fmt.Sprintf("%s par=%v", kern.name, par), f, g, rng, true)
		}
	}
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			f := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				sbgemmNative(kern, true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			}
			// k past kcMax (two k blocks), several B panels, edge rows.
			checkGemmRounded(t, kern.name, f, gemmCase{transA: tA, transB: tB, m: 45, n: 70, k: kern.kcMax + 37, padA: 3, padB: 1, padC: 2, alpha: 1, beta: 1}, rng, true)
			checkGemmRounded(t, kern.name, f, gemmCase{transA: tA, transB: tB, m: 64, n: 96, k: 64, alpha: 1, beta: 0}, rng, true)
		}
	}
}

// The native path and the emulated one compute the same product (the
// same rounded operands; only the order of the float32 sums differs).
func TestSgemmBF16NativeMatchesEmulated(t *testing.T) {
	if nativeBF16 == nil {
		t.Skipf("no native bf16 kernel on this CPU (%s)", BF16CPU())
	}
	rng := rand.New(rand.NewPCG(9, 10))
	m, n, k := 197, 576, 192 // a ViT-Tiny qkv projection of one image
	a, b := randSlice(rng, m*k), randSlice(rng, n*k)
	got, want := make([]float32, m*n), make([]float32, m*n)
	BF16.Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, got, n)
	kern := nativeBF16
	nativeBF16 = nil
	BF16.Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, want, n)
	nativeBF16 = kern
	worst := float32(0)
	for i := range got {
		d := got[i] - want[i]
		if d < 0 {
			d = -d
		}
		worst = max(worst, d)
	}
	t.Logf("%s vs emulated: max abs diff %.3g", kern.name, worst)
	if worst > 1e-4 {
		t.Fatalf("%s differs from the emulated bf16 product by %g", kern.name, worst)
	}
}

func TestUseBF16Kernel(t *testing.T) {
	saved := nativeBF16
	defer func() { nativeBF16 = saved }()
	names := BF16Kernels()
	t.Logf("CPU bf16: %s; kernels: %v; in use: %s; AMX refused: %q", BF16CPU(), names, BF16Kernel(), amxRefused)
	if names[0] != "emulated" {
		t.Fatalf("BF16Kernels() = %v, want emulated first", names)
	}
	for _, name := range names {
		if err := UseBF16Kernel(name); err != nil {
			t.Fatalf("UseBF16Kernel(%q): %v", name, err)
		}
		if got := BF16Kernel(); !strings.HasPrefix(got, name) {
			t.Errorf("after UseBF16Kernel(%q), BF16Kernel() = %q", name, got)
		}
	}
	err := UseBF16Kernel("go-pairs-14x32")
	if err == nil || !strings.Contains(err.Error(), "go-pairs-14x32") || !strings.Contains(err.Error(), "emulated") {
		t.Errorf("UseBF16Kernel of a test-only kernel: err = %v, want an error naming it and the choices", err)
	}
	if err := UseBF16Kernel("tpu"); err == nil {
		t.Error("UseBF16Kernel(\"tpu\") succeeded")
	}
}

// TestBF16PackingLayouts checks the packed layouts element by element
// (the contract the kernels rely on), for both transposes, partial and
// whole panels, k padded or not: on an AVX512-BF16 CPU whole panels with
// k padded to 32 take the vectorised packing (conversion, VPERMW
// interleave, 16×16 transposes), the rest the scalar code. A wrong mask,
// row count or store count in the vector packing fails it.
func TestBF16PackingLayouts(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const nr, mrPad, mr = 32, 16, 32
	for _, tr := range []bool{false, true} {
		for _, sh := range []struct{ kb, kbp, nb, nrows int }{{21, 32, 27, 11}, {21, 22, 32, 14}, {32, 32, 32, 16}, {50, 64, 32, 32}, {64, 64, 32, 14},
			{197, 198, 5, 1}, {197, 198, 32, 14}, {64, 64, 17, 7}, {63, 64, 16, 16}, {47, 48, 1, 3}, {31, 32, 32, 2}} {
			rows, ld := 230, 240
			x := randSlice(rng, rows*ld)
			// op(X)(i, p) = at(i, p); X is stored transposed when tr.
			at := func(i, p int) float32 { return opAt(x, ld, tr, i, p) }
			pc, j0, i0 := 3, 5, 2
			kb, kbp, nb, nrows := sh.kb, sh.kbp, sh.nb, sh.nrows
			// B: op(B)(p, j) = at(j, p), i.e. op(B) = op(X)ᵀ: transB = !tr.
			dst := make([]uint16, kbp*nr)
			packBPairs(!tr, x, ld, pc, kb, kbp, j0, nb, nr, dst)
			for q := 0; q < kbp/2; q++ {
				for j := 0; j < nr; j++ {
					for e := 0; e < 2; e++ {
						var want uint16
						if p := 2*q + e; p < kb && j < nb {
							want = BF16Bits(at(j0+j, pc+p))
						}
						if got := dst[(q*nr+j)*2+e]; got != want {
							t.Fatalf("packBPairs tr=%v %+v: (q=%d, j=%d, e=%d) = %#x, want %#x", tr, sh, q, j, e, got, want)
						}
					}
				}
			}
			ap := make([]uint16, kbp*mrPad)
			packAPairs(tr, x, ld, i0, min(nrows, mrPad), mrPad, pc, kb, kbp, ap)
			for i := 0; i < min(nrows, mrPad); i++ { // rows past the panel are don't-care
				for p := 0; p < kbp; p++ {
					var want uint16
					if p < kb {
						want = BF16Bits(at(i0+i, pc+p))
					}
					if got := ap[((p/2)*mrPad+i)*2+p%2]; got != want {
						t.Fatalf("packAPairs tr=%v %+v: (i=%d, p=%d) = %#x, want %#x", tr, sh, i, p, got, want)
					}
				}
			}
			if kbp%32 != 0 {
				continue // the row layout is AMX's: k is padded to 32
			}
			ar := make([]uint16, mr*kbp)
			packARows(tr, x, ld, i0, nrows, mr, pc, kb, kbp, ar)
			for i := 0; i < mr; i++ {
				for p := 0; p < kbp; p++ {
					var want uint16
					if i < nrows && p < kb {
						want = BF16Bits(at(i0+i, pc+p))
					}
					if got := ar[i*kbp+p]; got != want {
						t.Fatalf("packARows tr=%v %+v: (i=%d, p=%d) = %#x, want %#x", tr, sh, i, p, got, want)
					}
				}
			}
		}
	}
	// The vectorised row conversion equals BF16Bits, tails included.
	src := randSlice(rng, 100)
	src[3], src[40] = 1.00390625, -2.0078125 // ties: round to even
	got := make([]uint16, len(src))
	bf16Row(got, src)
	for i, v := range src {
		if got[i] != BF16Bits(v) {
			t.Fatalf("bf16Row[%d] = %#x, want %#x", i, got[i], BF16Bits(v))
		}
	}
}

// BenchmarkSgemmBF16 measures each bf16 path (emulated and native) at
// 1024³ and on a ViT-Tiny qkv projection; GFLOP/s are reported.
func BenchmarkSgemmBF16(b *testing.B) {
	saved := nativeBF16
	defer func() { nativeBF16 = saved }()
	for _, name := range BF16Kernels() {
		if err := UseBF16Kernel(name); err != nil {
			b.Fatal(err)
		}
		for _, sh := range [][3]int{{1024, 1024, 1024}, {6304, 576, 192}} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", name, sh[0], sh[1], sh[2]), func(b *testing.B) {
				benchGemm(b, BF16, 1, false, true, sh[0], sh[1], sh[2])
			})
		}
	}
}

// opAt is op(X)(i, p) of a stored matrix with row stride ld.
func opAt(x []float32, ld int, trans bool, i, p int) float32 {
	if trans {
		return x[p*ld+i]
	}
	return x[i*ld+p]
}
