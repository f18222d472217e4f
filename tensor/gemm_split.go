package tensor

import (
	"time"
	"unsafe"
)

// SgemmSplit is one product whose columns go to two matrices: columns
// j < at of C = alpha·op(A)·op(B) + beta·C are stored in c (row stride
// ldc), columns at ≤ j < n in c2 (row stride ldc2) at column j − at. With
// a bias (length ≥ n) C is alpha·op(A)·op(B) + bias and not read, as in
// SgemmBias. then, if not nil, is handed c's blocks as in SgemmThen
// (never c2's).
//
// It lets a layer append a few columns to a product that reads a large
// operand anyway: a rank-r adapter's t = x·Buᵀ rides along with the
// forward y = x·Wᵀ as r more rows of the stored weight (transB), and
// dt = dy·Bd with dx = dy·W as r more columns, instead of a thin product
// of its own that reads x or dy from memory again. On the blocked drivers
// (at a multiple of the kernel's panel width) the extra columns are one
// more B panel against every A panel already packed or in cache; each
// element of c and c2 is then the sum the same kernel forms for it in a
// product of c's or c2's columns alone. Elsewhere it runs the two products
// one after the other, the first with then.
func (p Precision) SgemmSplit(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias []float32, c []float32, ldc int, at int, c2 []float32, ldc2 int, then func(i0, i1, j0, j1 int)) {
	if at <= 0 || at >= n {
		panic("tensor: SgemmSplit: split column outside (0, n)")
	}
	if bias != nil && m > 0 && len(bias) < n {
		panic("tensor: SgemmSplit: bias shorter than n")
	}
	var start time.Time
	if gemmTracing.Load() {
		start = time.Now()
	}
	if bias != nil {
		beta = 1
	}
	if p.blockedThen(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, colSplit{c: c, ldc: ldc, c2: c2, ldc2: ldc2, split: at}, then) {
		if gemmTracing.Load() {
			traceGEMM(gemmKey{transA, transB, m, n, k, 1, bias != nil}, start)
		}
		return
	}
	// the two products: c's columns of op(B) first, then c2's
	b2 := b[at:]
	if transB {
		b2 = b[at*ldb:]
	}
	if bias != nil {
		p.SgemmBiasThen(transA, transB, m, at, k, alpha, a, lda, b, ldb, bias, c, ldc, then)
		p.SgemmBias(transA, transB, m, n-at, k, alpha, a, lda, b2, ldb, bias[at:n], c2, ldc2)
		return
	}
	p.SgemmThen(transA, transB, m, at, k, alpha, a, lda, b, ldb, beta, c, ldc, then)
	p.Sgemm(transA, transB, m, n-at, k, alpha, a, lda, b2, ldb, beta, c2, ldc2)
}

// colSplit is where a blocked product stores C: column j < split at
// c[i·ldc + j], column j ≥ split at c2[i·ldc2 + j − split] (SgemmSplit);
// with c2 nil, every column in c.
type colSplit struct {
	c, c2     []float32
	ldc, ldc2 int
	split     int
}

// at is the address of C(i, j) and its matrix's row stride in bytes.
func (s *colSplit) at(i, j int) (unsafe.Pointer, uintptr) {
	if s.c2 != nil && j >= s.split {
		return unsafe.Pointer(&s.c2[i*s.ldc2+j-s.split]), uintptr(s.ldc2) * 4
	}
	return unsafe.Pointer(&s.c[i*s.ldc+j]), uintptr(s.ldc) * 4
}

// handOver calls then on the part of the block (rows i0…i1, columns
// j0…j1 of C) that lies in c.
func (s *colSplit) handOver(then func(i0, i1, j0, j1 int), i0, i1, j0, j1 int) {
	if s.c2 != nil {
		j1 = min(j1, s.split)
	}
	if j0 < j1 {
		then(i0, i1, j0, j1)
	}
}

// fits reports whether a blocked product on a kernel of nr-wide B panels
// can store C so: unsplit, or split where a panel starts.
func (s *colSplit) fits(nr int) bool { return s.c2 == nil || s.split%nr == 0 }

// check panics, as Sgemm does, when an operand is too short for an m×n
// product stored so.
func (s *colSplit) check(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int) {
	if s.c2 == nil {
		checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, s.c, s.ldc)
		return
	}
	checkGemmArgs(transA, transB, m, s.split, k, a, lda, b, ldb, s.c, s.ldc)
	if s.ldc2 < n-s.split || len(s.c2) < (m-1)*s.ldc2+n-s.split {
		panic("tensor: SgemmSplit: C2 too short or ldc2 < n − at")
	}
	_, _, br, bc := gemmOperandDims(transA, transB, m, n, k)
	if ldb < bc || len(b) < (br-1)*ldb+bc {
		panic("tensor: SgemmSplit: B too short or ldb too small")
	}
}
