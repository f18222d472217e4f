package tensor

import "github.com/glora/glora/internal/parallel"

// sgemmRef is the portable SGEMM: C = alpha·op(A)·op(B) + beta·C one row of
// C at a time (row i = Σ_p alpha·op(A)(i,p)·op(B)(p,:)), on the worker pool
// when par is set. Simple, correct, slow; also the path for tiny products.
func sgemmRef(par bool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	body := func(lo, hi int) {
		row := make([]float32, n)
		for i := lo; i < hi; i++ {
			clear(row)
			for p := 0; p < k; p++ {
				var av float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if av == 0 {
					continue
				}
				av *= alpha
				if transB {
					for j := range row {
						row[j] += av * b[j*ldb+p]
					}
				} else {
					br := b[p*ldb : p*ldb+n]
					for j, bv := range br {
						row[j] += av * bv
					}
				}
			}
			cr := c[i*ldc : i*ldc+n]
			if beta == 0 {
				copy(cr, row)
			} else {
				for j := range cr {
					cr[j] = beta*cr[j] + row[j]
				}
			}
		}
	}
	if par {
		parallel.For(m, 8, body)
	} else {
		body(0, m)
	}
}
