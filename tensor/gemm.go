package tensor

import "time"

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
// A one-row product (m = 1: decoding a token) runs in float32 at either
// precision: it reads each element of B once, so its time is the reading,
// and rounding B to bfloat16 first would cost more than the product.
func (p Precision) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if gemmTracing.Load() {
		defer traceGEMM(gemmKey{transA, transB, m, n, k, 1, false}, time.Now())
	}
	p.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemm is Sgemm without the trace (SgemmBias's fallback traces its call
// as a bias product).
func (p Precision) sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if p == BF16 && m != 1 {
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
	if bias == nil {
		p.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc)
		return
	}
	if m > 0 && n > 0 && len(bias) < n {
		panic("tensor: SgemmBias: bias shorter than n")
	}
	switch {
	case p == BF16 && m != 1:
		if sgemmBF16Bias(transA, transB, m, n, k, alpha, a, lda, b, ldb, bias, c, ldc) {
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

// SgemmStridedBatched is the package's SgemmStridedBatched at precision p.
func (p Precision) SgemmStridedBatched(batch int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	if gemmTracing.Load() {
		defer traceGEMM(gemmKey{transA, transB, m, n, k, batch, false}, time.Now())
	}
	if p == BF16 {
		sgemmBatchedBF16(batch, transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC)
		return
	}
	sgemmBatchedImpl(batch, transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC)
}
