package tensor

import (
	"time"

	"github.com/glora/glora/internal/parallel"
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C on row-major matrices.
//
// op(A) is m×k and op(B) is k×n. A is stored m×k with row stride lda, or k×m
// when transA; B is stored k×n with row stride ldb, or n×k when transB.
// C is m×n with row stride ldc. With beta == 0, C is not read (NaNs in it
// do not propagate). Large products run on the worker pool. Sgemm is
// float32; Precision.Sgemm runs the same product at a given precision.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	F32.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Sgemm is the package's Sgemm at precision p: at BF16, op(A) and op(B)
// are rounded to bfloat16 (on the native kernel where the CPU has one).
// A thin product, of fewer than 16 rows or columns (m = 1: decoding a
// token; m or n = 8: a rank-8 adapter's dBu = dtᵀ·x, or its t = x·Buᵀ
// where it does not ride along with the layer's product, SgemmSplit),
// runs in float32 at either precision: each element of its large operand
// meets fewer than 16 of the other's, so its time is the reading of that
// operand, and rounding it to bfloat16 first would cost more than the
// product (thinProduct).
func (p Precision) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if gemmTracing.Load() {
		defer traceGEMM(gemmKey{transA, transB, m, n, k, 1, false}, time.Now())
	}
	p.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemm is Sgemm without the trace (SgemmBias's fallback traces its call
// as a bias product).
func (p Precision) sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if p == BF16 && !thinProduct(m, n) {
		sgemmBF16(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmImpl(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmBias computes C = alpha·op(A)·op(B) + bias at precision p, the
// bias (length ≥ n) added to every row of C; C is not read. A nil bias is
// none: Sgemm with beta 0 (a Linear layer without one). Its floats are
// those of setting every row of C to the bias and calling Sgemm with beta
// 1 (the bias is the first term of each sum), but on the AVX-512, AVX2 and
// AVX512-BF16 kernels the micro-kernel adds the bias as it stores C, so C
// is neither filled nor read in a pass of its own: for a Linear layer's
// output, one write of C instead of a write, a read and a write.
func (p Precision) SgemmBias(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	if gemmTracing.Load() {
		defer traceGEMM(gemmKey{transA, transB, m, n, k, 1, bias != nil}, time.Now())
	}
	p.sgemmBiasUntraced(transA, transB, m, n, k, alpha, a, lda, b, ldb, bias, c, ldc)
}

// sgemmBiasUntraced is SgemmBias without the trace.
func (p Precision) sgemmBiasUntraced(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	if bias == nil {
		p.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc)
		return
	}
	if m > 0 && n > 0 && len(bias) < n {
		panic("tensor: SgemmBias: bias shorter than n")
	}
	switch {
	case p == BF16 && !thinProduct(m, n):
		if sgemmBF16Blocked(transA, transB, m, n, k, alpha, a, lda, b, ldb, 1, bias, colSplit{c: c, ldc: ldc}, nil) {
			return
		}
	case sgemmBiasImpl(transA, transB, m, n, k, alpha, a, lda, b, ldb, bias, c, ldc):
		return
	}
	if m > 0 && n > 0 {
		checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
		fillRows(c, bias, m, n, ldc)
	}
	p.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, 1, c, ldc)
}

// SgemmStridedBatched runs batch independent Sgemm calls; matrix i of A
// starts at a[i*strideA], of B at b[i*strideB] and of C at c[i*strideC].
func SgemmStridedBatched(batch int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	F32.SgemmStridedBatched(batch, transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC)
}

// thinProduct reports whether a product of m×n outputs runs in float32 at
// BF16 precision (see Precision.Sgemm): fewer than 16 rows or columns.
func thinProduct(m, n int) bool { return m < 16 || n < 16 }

// SgemmStridedBatched is the package's SgemmStridedBatched at precision p
// (a batch of thin products runs in float32, as Sgemm's would).
func (p Precision) SgemmStridedBatched(batch int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	if gemmTracing.Load() {
		defer traceGEMM(gemmKey{transA, transB, m, n, k, batch, false}, time.Now())
	}
	if p == BF16 && !thinProduct(m, n) {
		sgemmBatchedBF16(batch, transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC)
		return
	}
	sgemmBatchedImpl(batch, transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC)
}

// SgemmThen is Sgemm that hands C to then block by block: then(i0, i1,
// j0, j1) for rows i0 ≤ i < i1 and columns j0 ≤ j < j1 of C, called as soon
// as that block holds its final values. The blocks tile the m×n C exactly
// once. then may run on several goroutines at once, for disjoint blocks,
// and must read and write only its own block of C (and what else the
// caller owns per block). On the blocked drivers a block is one work item
// (a row panel of the micro-kernel against a group of B panels), handed
// over while it is still in the core's cache: an elementwise pass over the
// output that would otherwise read it back from memory (an activation, a
// scale) costs little more than its arithmetic. Elsewhere (small or one-row
// products, split k, OpenBLAS) the product runs first and then is called
// on ranges of whole rows. A nil then is Sgemm.
func (p Precision) SgemmThen(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, then func(i0, i1, j0, j1 int)) {
	if gemmTracing.Load() {
		defer traceGEMM(gemmKey{transA, transB, m, n, k, 1, false}, time.Now())
	}
	if then == nil || !p.blockedThen(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, nil, colSplit{c: c, ldc: ldc}, then) {
		p.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		thenRows(m, n, then)
	}
}

// SgemmBiasThen is SgemmBias that hands C to then block by block, as
// SgemmThen does.
func (p Precision) SgemmBiasThen(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int, then func(i0, i1, j0, j1 int)) {
	if bias == nil {
		p.SgemmThen(transA, transB, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc, then)
		return
	}
	if then == nil {
		p.SgemmBias(transA, transB, m, n, k, alpha, a, lda, b, ldb, bias, c, ldc)
		return
	}
	if m > 0 && n > 0 && len(bias) < n {
		panic("tensor: SgemmBiasThen: bias shorter than n")
	}
	if gemmTracing.Load() {
		defer traceGEMM(gemmKey{transA, transB, m, n, k, 1, true}, time.Now())
	}
	if !p.blockedThen(transA, transB, m, n, k, alpha, a, lda, b, ldb, 1, bias, colSplit{c: c, ldc: ldc}, then) {
		p.sgemmBiasUntraced(transA, transB, m, n, k, alpha, a, lda, b, ldb, bias, c, ldc)
		thenRows(m, n, then)
	}
}

// blockedThen runs SgemmThen (bias nil) or SgemmBiasThen (bias set, beta 1)
// on the blocked driver and kernel that Sgemm or SgemmBias would give the
// product to, so with the same floats, and reports whether it did; it
// does nothing otherwise (the OpenBLAS build's float32 products, small,
// one-row and split-k products). C is stored where dst says (SgemmSplit's
// split, where its split starts a B panel).
func (p Precision) blockedThen(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias []float32, dst colSplit, then func(i0, i1, j0, j1 int)) bool {
	if p == BF16 && !thinProduct(m, n) {
		return sgemmBF16Blocked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, dst, then)
	}
	return nativeGemm && sgemmNativeBlocked(defaultKernel, true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, dst, then)
}

// thenRows calls then on ranges of whole rows of an m×n C, on the worker
// pool (SgemmThen's path where no blocked driver ran).
func thenRows(m, n int, then func(i0, i1, j0, j1 int)) {
	if then == nil || m <= 0 || n <= 0 {
		return
	}
	parallel.For(m, max(1, (1<<14)/n), func(lo, hi int) { then(lo, hi, 0, n) })
}
