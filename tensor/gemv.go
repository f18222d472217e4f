package tensor

import "github.com/glora/glora/internal/parallel"

// sgemvRow is Sgemm for m = 1, a row vector times a matrix, without
// packing either operand (packing all of B for one row costs more than the
// product: decoding one token multiplies a row by every weight matrix):
//
//	transB:  C[0, j] = alpha·⟨a, B[j, :k]⟩ + beta·C[0, j]   (B: n × k rows, a Linear's weight)
//	!transB: C[0, :] = alpha·Σ_p a[p]·B[p, :n] + beta·C[0, :] (B: k × n)
//
// with a read from A's one row (or, transA, its one column). The sums run
// in another order than the blocked kernel's, so results may differ from
// it in the last bits.
func sgemvRow(par bool, transA, transB bool, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32) {
	x := a[:k]
	if transA { // A is k × 1 with row stride lda
		x = make([]float32, k)
		for p := range x {
			x[p] = a[p*lda]
		}
	}
	grain := max(1, (1<<14)/max(k, 1))
	if !par {
		grain = n
	}
	if transB {
		parallel.For(n, grain, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				d := alpha * Dot(x, b[j*ldb:j*ldb+k])
				if beta != 0 {
					d += beta * c[j]
				}
				c[j] = d
			}
		})
		return
	}
	parallel.For(n, max(grain, 64), func(lo, hi int) {
		out := c[lo:hi]
		if beta == 0 {
			clear(out)
		} else if beta != 1 {
			Scale(beta, out)
		}
		for p, v := range x {
			Axpy(alpha*v, b[p*ldb+lo:p*ldb+hi], out)
		}
	})
}
