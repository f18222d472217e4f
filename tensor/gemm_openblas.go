//go:build openblas && cgo

package tensor

import "github.com/glora/glora/tensor/internal/cblas"

// With the openblas build tag, Sgemm calls OpenBLAS's cblas_sgemm.

// nativeGemm: Sgemm runs on OpenBLAS; SgemmThen calls then after it.
const nativeGemm = false

func sgemmImpl(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if sgemmTrivial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	// OpenBLAS applies beta == 0 by zeroing C, so NaNs in C do not propagate.
	cblas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmBiasImpl: OpenBLAS has no bias epilogue; SgemmBias fills C and
// calls Sgemm.
func sgemmBiasImpl(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int) bool {
	return false
}

func sgemmBatchedImpl(batch int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	for i := 0; i < batch; i++ {
		sgemmImpl(transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc)
	}
}

// SgemmKernel names the SGEMM implementation in use: "openblas" here.
func SgemmKernel() string { return "openblas" }
