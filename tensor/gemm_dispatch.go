//go:build !openblas || !cgo

package tensor

// nativeGemm: Sgemm runs on this package's drivers (sgemmNative), which
// SgemmThen can hand each finished block of C from.
const nativeGemm = true

func sgemmImpl(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmNative(defaultKernel, true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmBiasImpl runs SgemmBias where the native micro-kernel stores the
// bias (sgemmNativeBlocked), and reports whether it did.
func sgemmBiasImpl(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int) bool {
	return sgemmNativeBlocked(defaultKernel, true, transA, transB, m, n, k, alpha, a, lda, b, ldb, 1, bias, colSplit{c: c, ldc: ldc}, nil)
}

func sgemmBatchedImpl(batch int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	sgemmBatchedNative(defaultKernel, batch, transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC)
}

// SgemmKernel names the SGEMM implementation in use, e.g. "avx512-14x32",
// "avx2-6x16" or "purego" (for benchmark reports).
func SgemmKernel() string {
	if defaultKernel == nil {
		return "purego"
	}
	return defaultKernel.name
}
