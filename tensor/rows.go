package tensor

import "github.com/glora/glora/internal/parallel"

// rowGrain is the number of elements a parallel chunk of the row helpers
// gets at least.
const rowGrain = 1 << 14

// fillRows sets every row of the (rows, cols) matrix dst (row stride ld)
// to v: dst[r·ld + j] = v[j], as a bias is laid down before a GEMM
// accumulates onto it. Large matrices are filled on the worker pool.
func fillRows(dst, v []float32, rows, cols, ld int) {
	v = v[:cols]
	parallel.For(rows, max(1, rowGrain/max(cols, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(dst[r*ld:r*ld+cols], v)
		}
	})
}

// AddColSums is dst[j] += Σ_r src[r·cols + j] for a (rows, cols) matrix
// src (a bias gradient: the column sums of dy), in parallel over column
// ranges. Each column adds its rows in order, the floats of an Axpy with
// α = 1 per row; on AVX-512 CPUs 64 columns at a time (AVX2: 32) stay in
// registers over all the rows (6400 × 384: 0.35 → 0.19 ms, on 2 cores of
// a Zen 5).
func AddColSums(dst, src []float32, rows, cols int) {
	dst, src = dst[:cols], src[:rows*cols]
	if rows <= 0 {
		return
	}
	grain := max(16, rowGrain/rows)
	if useAVX512 || useAVX2 {
		grain = (grain + 63) / 64 * 64
	}
	parallel.For(cols, grain, func(lo, hi int) {
		j := lo
		switch {
		case useAVX512:
			for ; j+64 <= hi; j += 64 {
				colSums64AVX512(&dst[j], &src[j], rows, cols)
			}
			for ; j < hi; j += 16 {
				colSums16AVX512(&dst[j], &src[j], rows, cols, 1<<min(16, hi-j)-1)
			}
			return
		case useAVX2:
			for ; j+32 <= hi; j += 32 {
				colSums32AVX2(&dst[j], &src[j], rows, cols)
			}
		}
		if j < hi { // the columns left: an Axpy a row
			d := dst[j:hi]
			for r := 0; r < rows; r++ {
				Axpy(1, src[r*cols+j:r*cols+hi], d)
			}
		}
	})
}
