package tensor

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/glora/glora/internal/parallel"
)

// bfloat16: the top 16 bits of a float32 (sign, 8-bit exponent, 7-bit
// mantissa, 8 significant bits). Rounding keeps float32's range and drops
// 16 mantissa bits, so a rounded value has a relative error of at most
// 2⁻⁸ (the unit roundoff of 8 significant bits).

// BF16Bits rounds x to bfloat16, to nearest with ties to even, and returns
// its bits. ±Inf stay infinite, a value past the largest bfloat16 rounds to
// ±Inf, and a NaN stays a (quiet) NaN.
func BF16Bits(x float32) uint16 {
	b := math.Float32bits(x)
	if b&0x7fffffff > 0x7f800000 { // NaN: keep the sign and top payload, set the quiet bit
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// FromBF16Bits is the float32 of bfloat16 bits (exact).
func FromBF16Bits(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// RoundBF16 is x rounded to the nearest bfloat16 (ties to even), as a float32.
func RoundBF16(x float32) float32 { return FromBF16Bits(BF16Bits(x)) }

// RoundBF16Slice sets dst[i] = RoundBF16(src[i]); dst and src may be the
// same slice. It panics if dst is shorter than src.
func RoundBF16Slice(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = RoundBF16(v)
	}
}

// Precision is the arithmetic of a matrix product (Precision.Sgemm and
// Precision.SgemmStridedBatched): F32, or BF16, where
// C = alpha·bf16(op(A))·bf16(op(B)) + beta·C — the operands rounded to
// bfloat16 (nearest even), each product of two bfloat16 values exact in
// float32, the sums, alpha, beta and C float32 — as PyTorch's CPU autocast
// runs its matmuls. It is a value passed with the work (an autograd tape
// carries one), not a process-wide mode: everything outside the matrix
// products (LayerNorm, softmax, losses, reductions, the optimiser and its
// master weights) is float32 either way. The zero value is F32.
type Precision int32

// The precisions.
const (
	F32 Precision = iota
	BF16
)

func (p Precision) String() string {
	switch p {
	case F32:
		return "f32"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", int32(p))
}

// ParsePrecision reads "f32" or "bf16" (also "fp32", "float32", "bfloat16").
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(s) {
	case "f32", "fp32", "float32":
		return F32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	}
	return F32, fmt.Errorf("unknown precision %q (want f32 or bf16)", s)
}

// Valid reports whether p is F32 or BF16.
func (p Precision) Valid() bool { return p == F32 || p == BF16 }

// BF16Features are the CPU's bfloat16 instructions, as usable by this
// process (the OS saving the state they need).
type BF16Features struct {
	AVX512BF16 bool // VDPBF16PS: bfloat16 pair dot products into float32
	AMXBF16    bool // AMX tiles with TDPBF16PS (the OS saves the tile state)
}

// BF16Kernel names how BF16 matrix products run: a native kernel
// ("amx-32x32": AMX tiles, TDPBF16PS; "avx512bf16-14x32": VDPBF16PS), or
// "emulated (KERNEL)": the operands rounded to bfloat16 as they are
// copied, then multiplied by the float32 kernel KERNEL (the numerics of a
// bfloat16 GEMM with float32 accumulation, up to the order of the sums,
// not its speed). BF16CPU says what this CPU has; UseBF16Kernel chooses.
func BF16Kernel() string {
	if k := nativeBF16; k != nil {
		return k.name
	}
	return "emulated (" + SgemmKernel() + ")"
}

// BF16Kernels lists the BF16 paths this process can run: "emulated" and
// the native kernels of this CPU, the fastest last.
func BF16Kernels() []string {
	names := []string{"emulated"}
	for _, k := range bf16Kernels {
		if !strings.HasPrefix(k.name, "go-") {
			names = append(names, k.name)
		}
	}
	return names
}

// UseBF16Kernel makes BF16 products run on the named path (one of
// BF16Kernels; "emulated" turns the native kernels off). The environment
// variable GLORA_BF16_KERNEL does the same at start-up.
func UseBF16Kernel(name string) error {
	if !useBF16KernelByName(name) {
		msg := fmt.Sprintf("tensor: no bf16 kernel %q on this CPU (have %s)", name, strings.Join(BF16Kernels(), ", "))
		if amxRefused != "" {
			msg += "; AMX: " + amxRefused
		}
		return errors.New(msg)
	}
	return nil
}

func useBF16KernelByName(name string) bool {
	if name == "emulated" {
		nativeBF16 = nil
		return true
	}
	for _, k := range bf16Kernels {
		if k.name == name && !strings.HasPrefix(k.name, "go-") {
			nativeBF16 = k
			return true
		}
	}
	return false
}

// roundedOperand returns the stored rows×cols matrix at x (row stride ld)
// rounded to bfloat16 in a dense scratch buffer (row stride cols), and the
// buffer's handle for putBuf.
func roundedOperand(x []float32, rows, cols, ld int) ([]float32, *[]float32) {
	buf, h := getBuf(rows * cols)
	if rows == 1 || ld == cols { // one contiguous span: round it in chunks
		n := rows * cols
		const chunk = 1 << 15
		parallel.For((n+chunk-1)/chunk, 1, func(lo, hi int) {
			RoundBF16Slice(buf[lo*chunk:min(hi*chunk, n)], x[lo*chunk:min(hi*chunk, n)])
		})
		return buf, h
	}
	parallel.For(rows, max(1, (1<<15)/max(cols, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			RoundBF16Slice(buf[r*cols:(r+1)*cols], x[r*ld:r*ld+cols])
		}
	})
	return buf, h
}

// sgemmBF16 is Sgemm at BF16 precision: both operands rounded into dense
// scratch copies, then the float32 product.
func sgemmBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if sgemmTrivial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	if kern := nativeBF16For(m, n, k); kern != nil {
		sbgemmBlocked(kern, m*n*k >= gemmParWork, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	ar, ac, br, bc := gemmOperandDims(transA, transB, m, n, k)
	ra, ha := roundedOperand(a, ar, ac, lda)
	defer putBuf(ha)
	rb, hb := roundedOperand(b, br, bc, ldb)
	defer putBuf(hb)
	sgemmImpl(transA, transB, m, n, k, alpha, ra, ac, rb, bc, beta, c, ldc)
}

// nativeBF16For is the native bf16 kernel a product of m·n·k multiply-adds
// runs on, or nil: none on this CPU, or a tiny product (rounded operand
// copies and the float32 loop then).
func nativeBF16For(m, n, k int) *bf16Kernel {
	if nativeBF16 != nil && m*n*k >= gemmTinyWork {
		return nativeBF16
	}
	return nil
}

// sgemmBF16Blocked runs a BF16 product that sgemmBF16 gives to the native
// kernel there, for what plain Sgemm cannot do: with a bias (beta 1; a
// kernel that stores it, biasTiles), SgemmBias; with then, SgemmThen's
// hand-over of finished blocks. It reports false, having done nothing,
// otherwise. C is stored where dst says (a split one only where its
// split starts a B panel: SgemmSplit).
func sgemmBF16Blocked(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias []float32, dst colSplit, then func(i0, i1, j0, j1 int)) bool {
	if m <= 0 || n <= 0 || k <= 0 || alpha == 0 {
		return false
	}
	kern := nativeBF16For(m, n, k)
	if kern == nil || bias != nil && kern.biasTiles == nil || !dst.fits(kern.nr) {
		return false
	}
	dst.check(transA, transB, m, n, k, a, lda, b, ldb)
	if bias != nil {
		bias = bias[:n]
	}
	sbgemmBlockedSplit(kern, m*n*k >= gemmParWork, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, dst, then)
	return true
}

// sgemmBatchedBF16 is SgemmStridedBatched at BF16 precision: the spans
// of A and B that the batch reads are rounded into scratch copies with the
// same strides, then the float32 batched product runs.
func sgemmBatchedBF16(batch int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	if batch <= 0 || m <= 0 || n <= 0 {
		return
	}
	if k <= 0 || alpha == 0 {
		sgemmBatchedImpl(batch, transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC)
		return
	}
	ar, ac, br, bc := gemmOperandDims(transA, transB, m, n, k)
	spanA := (batch-1)*strideA + (ar-1)*lda + ac
	spanB := (batch-1)*strideB + (br-1)*ldb + bc
	if strideA < 0 || strideB < 0 || len(a) < spanA || len(b) < spanB {
		panic("tensor: SgemmStridedBatched: A or B too short for the batch")
	}
	if kern := nativeBF16; kern != nil && m*n*k >= gemmTinyWork {
		forBatch(batch, m*n*k, func(i int, par bool) {
			sbgemmNative(kern, par, transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc)
		})
		return
	}
	ra, ha := roundedOperand(a, 1, spanA, spanA)
	defer putBuf(ha)
	rb, hb := roundedOperand(b, 1, spanB, spanB)
	defer putBuf(hb)
	sgemmBatchedImpl(batch, transA, transB, m, n, k, alpha, ra, lda, strideA, rb, ldb, strideB, beta, c, ldc, strideC)
}
