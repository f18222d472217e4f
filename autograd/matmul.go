package autograd

import (
	"fmt"
	"slices"

	"github.com/glora/glora/tensor"
)

// MatMul is y = op(a)·op(b), where op(x) is x, or xᵀ (its last two
// dimensions swapped) when the matching trans flag is set.
//
//	2-D:        op(a): (M,K)       op(b): (K,N)       →   y: (M,N)
//	batched:    op(a): (...,M,K)   op(b): (...,K,N)   →   y: (...,M,N)  (identical leading dims)
//	broadcast:  op(a): (...,M,K)   op(b): (K,N)       →   y: (...,M,N)  (b shared by every batch)
//	            op(a): (M,K)       op(b): (...,K,N)   →   y: (...,M,N)  (a shared by every batch)
//
// Backward, per batch: d op(a) = dy·op(b)ᵀ, d op(b) = op(a)ᵀ·dy, written as
// GEMMs on the stored layouts (da = op(b)·dyᵀ when transA, db = dyᵀ·op(a) when
// transB); a shared operand's gradient sums over the batch.
func (tp *Tape) MatMul(a, b *Var, transA, transB bool) *Var {
	if !tp.OK(a, b) {
		return tp.Dead()
	}
	as, bs := a.Value.Shape, b.Value.Shape
	ra, rb := len(as), len(bs)
	if ra < 2 || rb < 2 {
		return tp.Fail(tensor.Errorf("matmul", "both operands need rank ≥ 2", as, bs))
	}
	m, k := as[ra-2], as[ra-1]
	if transA {
		m, k = k, m
	}
	kb, n := bs[rb-2], bs[rb-1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		return tp.Fail(tensor.Errorf("matmul", fmt.Sprintf("inner dimensions %d and %d differ (transA=%v, transB=%v)", k, kb, transA, transB), as, bs))
	}
	var lead []int
	switch {
	case ra == 2:
		lead = bs[:rb-2]
	case rb == 2 || slices.Equal(as[:ra-2], bs[:rb-2]):
		lead = as[:ra-2]
	default:
		return tp.Fail(tensor.Errorf("matmul", "batch dimensions must be identical, or one operand 2-D", as, bs))
	}
	batch := tensor.Numel(lead)
	sharedA, sharedB := ra == 2 && rb > 2, rb == 2 && ra > 2
	lda, ldb := k, n // stored row widths
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	strideA, strideB := m*k, k*n
	if sharedA {
		strideA = 0
	}
	if sharedB {
		strideB = 0
	}
	oshape := append(slices.Clone(lead), m, n)
	y := tp.NewOutputRaw(oshape, a, b)
	ad, bd, yd := a.Value.Data, b.Value.Data, y.Value.Data
	// foldA: a's batches stack into one (batch·M, K) matrix against a shared b.
	foldA := sharedB && !transA
	if foldA || batch == 1 {
		// y (batch·M, N) = op(a) (batch·M, K) · op(b) (K, N)
		tp.Precision.Sgemm(transA, transB, batch*m, n, k, 1, ad, lda, bd, ldb, 0, yd, n)
	} else {
		// y_i (M,N) = op(a_i) (M,K) · op(b_i) (K,N)
		tp.Precision.SgemmStridedBatched(batch, transA, transB, m, n, k, 1, ad, lda, strideA, bd, ldb, strideB, 0, yd, n, m*n)
	}
	tp.Record(y, func() {
		dy := y.Grad.Data
		if g := tp.GradOf(a); g != nil {
			ga := g.Data
			switch {
			case foldA || batch == 1:
				if !transA {
					// da (batch·M, K) += dy (batch·M, N) · op(b)ᵀ (N, K)
					tp.Precision.Sgemm(false, !transB, batch*m, k, n, 1, dy, n, bd, ldb, 1, ga, k)
				} else {
					// da (K, M) += op(b) (K, N) · dyᵀ (N, M)
					tp.Precision.Sgemm(transB, true, k, m, n, 1, bd, ldb, dy, n, 1, ga, m)
				}
			case sharedA:
				// da += Σ_i dy_i·op(b_i)ᵀ (or op(b_i)·dy_iᵀ): one GEMM per batch into the same buffer
				for i := 0; i < batch; i++ {
					dyi, bi := dy[i*m*n:], bd[i*strideB:]
					if !transA {
						tp.Precision.Sgemm(false, !transB, m, k, n, 1, dyi, n, bi, ldb, 1, ga, k)
					} else {
						tp.Precision.Sgemm(transB, true, k, m, n, 1, bi, ldb, dyi, n, 1, ga, m)
					}
				}
			case !transA:
				// da_i (M, K) += dy_i (M, N) · op(b_i)ᵀ (N, K)
				tp.Precision.SgemmStridedBatched(batch, false, !transB, m, k, n, 1, dy, n, m*n, bd, ldb, strideB, 1, ga, k, m*k)
			default:
				// da_i (K, M) += op(b_i) (K, N) · dy_iᵀ (N, M)
				tp.Precision.SgemmStridedBatched(batch, transB, true, k, m, n, 1, bd, ldb, strideB, dy, n, m*n, 1, ga, m, m*k)
			}
		}
		if g := tp.GradOf(b); g != nil {
			gb := g.Data
			switch {
			case foldA || batch == 1:
				if !transB {
					// db (K, N) += op(a)ᵀ (K, batch·M) · dy (batch·M, N)
					tp.Precision.Sgemm(!transA, false, k, n, batch*m, 1, ad, lda, dy, n, 1, gb, n)
				} else {
					// db (N, K) += dyᵀ (N, batch·M) · op(a) (batch·M, K)
					tp.Precision.Sgemm(true, transA, n, k, batch*m, 1, dy, n, ad, lda, 1, gb, k)
				}
			case sharedB:
				// db += Σ_i op(a_i)ᵀ·dy_i (or dy_iᵀ·op(a_i)): one GEMM per batch into the same buffer
				for i := 0; i < batch; i++ {
					ai, dyi := ad[i*strideA:], dy[i*m*n:]
					if !transB {
						tp.Precision.Sgemm(!transA, false, k, n, m, 1, ai, lda, dyi, n, 1, gb, n)
					} else {
						tp.Precision.Sgemm(true, transA, n, k, m, 1, dyi, n, ai, lda, 1, gb, k)
					}
				}
			case !transB:
				// db_i (K, N) += op(a_i)ᵀ (K, M) · dy_i (M, N)
				tp.Precision.SgemmStridedBatched(batch, !transA, false, k, n, m, 1, ad, lda, strideA, dy, n, m*n, 1, gb, n, k*n)
			default:
				// db_i (N, K) += dy_iᵀ (N, M) · op(a_i) (M, K)
				tp.Precision.SgemmStridedBatched(batch, true, transA, n, k, m, 1, dy, n, m*n, ad, lda, strideA, 1, gb, k, k*n)
			}
		}
	})
	return y
}
